#include "storage/columnar/span_table.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "base/coding.h"
#include "base/same_bytes.h"
#include "storage/record_coding.h"

namespace waggle::storage::columnar {
namespace {

using model::AttributeValue;
using model::Span;

// StringField numbers Span's string members in their order (model::kSpanStrings).
constexpr const auto& kStringMembers = model::kSpanStrings;
static_assert(kStringMembers.size() == kStringFieldCount);
static_assert(kStringMembers[static_cast<size_t>(StringField::kName)] == &Span::name);
static_assert(kStringMembers[static_cast<size_t>(StringField::kHttpUrl)] == &Span::http_url);
static_assert(kStringMembers[static_cast<size_t>(StringField::kScopeVersion)] ==
              &Span::scope_version);

using internal::WrapAdd;
using internal::WrapSub;

void IntValues(const Span& s, int64_t out[kIntFieldCount]) {
  out[0] = s.start_ns;
  out[1] = WrapSub(s.end_ns, s.start_ns);
  out[2] = s.end_ns == 0 ? 1 : 0;
  out[3] = static_cast<int64_t>(s.kind);
  out[4] = s.in_progress ? 1 : 0;
  out[5] = s.status_flags;
  out[6] = s.http_status;
  out[7] = s.flags;
  out[8] = s.otel_status;
  out[9] = s.sample_rate;
  out[10] = s.from_xray_document ? 1 : 0;
}

}  // namespace

void SetIntFields(const int64_t v[kIntFieldCount], Span* s) {
  s->start_ns = v[0];
  s->end_ns = v[2] != 0 ? 0 : WrapAdd(v[0], v[1]);
  s->kind = static_cast<model::SpanKind>(std::clamp<int64_t>(v[3], 0, 5));
  s->in_progress = v[4] != 0;
  s->status_flags = static_cast<uint8_t>(v[5]);
  s->http_status = static_cast<int32_t>(v[6]);
  s->flags = static_cast<uint32_t>(v[7]);
  s->otel_status = static_cast<uint8_t>(std::clamp<int64_t>(v[8], 0, 2));
  s->sample_rate = static_cast<uint32_t>(std::clamp<int64_t>(v[9], 1, UINT32_MAX));
  s->from_xray_document = v[10] != 0;
}

std::string& StringFieldOf(model::Span& span, StringField f) {
  return span.*kStringMembers[static_cast<size_t>(f)];
}

bool AttributeColumn::is_string() const { return AttributeValue::IsStringType(type); }

void SpanTable::ColumnKey(std::string_view key, model::AttributeRole role,
                          AttributeValue::Type type, std::string* out) {
  out->clear();
  out->push_back(static_cast<char>(role));
  out->push_back(static_cast<char>(type));
  out->append(key);
}

AttributeColumn* SpanTable::Attribute(std::string_view key, model::AttributeRole role,
                                      AttributeValue::Type type) {
  // Every attribute of every appended span comes here: the key is built in a reused buffer,
  // and a string is allocated only for a new column.
  ColumnKey(key, role, type, &key_scratch_);
  const uint32_t i = attribute_index_.Intern(key_scratch_);  // codes are column indexes
  if (i < attributes.size()) return &attributes[i];
  memory_bytes_ += sizeof(AttributeColumn) + key.size() + 64;
  const int64_t hint = reserve_index_.Find(key_scratch_);
  if (hint >= 0 && static_cast<size_t>(hint) < spare_columns_.size()) {
    // Emptied by Clear, with the same key; each key is created once a table, so taken once.
    return &attributes.emplace_back(std::move(spare_columns_[static_cast<size_t>(hint)]));
  }
  AttributeColumn& c = attributes.emplace_back();
  c.key = std::string(key);
  c.role = role;
  c.type = type;
  if (hint >= 0) {
    const size_t n = reserve_entries_[static_cast<size_t>(hint)];
    c.rows.reserve(n);
    if (c.is_string()) {
      c.strings.codes.reserve(n);
    } else if (type == AttributeValue::Type::kDouble) {
      c.doubles.reserve(n);
    } else {
      c.ints.reserve(n);
    }
  }
  return &c;
}

const AttributeColumn* SpanTable::FindAttribute(std::string_view key, model::AttributeRole role,
                                                AttributeValue::Type type) const {
  std::string k;
  ColumnKey(key, role, type, &k);
  const int64_t i = attribute_index_.Find(k);
  return i < 0 ? nullptr : &attributes[static_cast<size_t>(i)];
}

void SpanTable::ReserveLike(const SpanTable& like) {
  const size_t n = like.size();
  trace_ids.reserve(n);
  span_ids.reserve(n);
  parent_ids.reserve(n);
  for (column::StringColumn& s : strings) s.codes.reserve(n);
  for (std::vector<int64_t>& v : ints) v.reserve(n);
  extra_rows.reserve(like.extra_rows.size());
  extras.reserve(like.extras.size());
  // `like`'s column keys are distinct, and its index holds them by column.
  for (uint32_t c = 0; c < like.attributes.size(); ++c) {
    reserve_index_.Intern(like.attribute_index_.at(c));
    reserve_entries_.push_back(static_cast<uint32_t>(like.attributes[c].size()));
  }
}

void SpanTable::Clear() {
  trace_ids.clear();
  span_ids.clear();
  parent_ids.clear();
  for (column::StringColumn& s : strings) {
    s.codes.clear();
    s.dict.Clear();
  }
  for (std::vector<int64_t>& v : ints) v.clear();
  extra_rows.clear();
  extras.clear();
  reserve_index_.Clear();
  reserve_entries_.clear();
  for (AttributeColumn& c : attributes) {
    c.rows.clear();
    c.ints.clear();
    c.doubles.clear();
    c.strings.codes.clear();
    c.strings.dict.Clear();
    ColumnKey(c.key, c.role, c.type, &key_scratch_);
    reserve_index_.Intern(key_scratch_);  // keys are distinct: the code is the index
  }
  spare_columns_ = std::move(attributes);
  attributes.clear();  // moved from: valid but unspecified
  attribute_index_.Clear();
  columns_by_name_.clear();
  next_column_.clear();
  memory_bytes_ = 0;
}

SpanTable::ResolvedContext SpanTable::Resolve(const model::Attributes& context) {
  ResolvedContext r;
  r.entries.reserve(context.size());
  for (const model::Attribute& a : context) {
    AttributeColumn* c = Attribute(a.key, a.role, a.value.type);
    int64_t value;
    if (c->is_string()) {
      const size_t before = c->strings.dict.bytes();
      value = c->strings.dict.Intern(a.value.string_value);
      memory_bytes_ += c->strings.dict.bytes() - before;
    } else if (a.value.type == AttributeValue::Type::kDouble) {
      std::memcpy(&value, &a.value.double_value, 8);
    } else {
      value = a.value.int_value;
    }
    r.entries.push_back({static_cast<uint32_t>(c - attributes.data()), a.value.type, value});
  }
  return r;
}

const SpanTable::ResolvedContext* ContextResolver::For(const model::Span& span) {
  const uint32_t i = span.context;
  if (i == model::kNoContext) return nullptr;
  assert(i < contexts_.size() && "a span's context is one of its batch's");
  if (!resolved_[i]) resolved_[i] = table_.Resolve(contexts_[i]);
  return &*resolved_[i];
}

void SpanTable::Append(const Span& span, const ResolvedContext* context) {
  const uint32_t row = static_cast<uint32_t>(size());
  trace_ids.push_back(span.trace_id);
  span_ids.push_back(span.span_id);
  parent_ids.push_back(span.parent_span_id);
  size_t bytes = 32 + 4 * kStringFieldCount + 8 * kIntFieldCount;
  for (size_t f = 0; f < kStringFieldCount; ++f) {
    const std::string& s = span.*kStringMembers[f];
    const size_t before = strings[f].dict.bytes();
    strings[f].Append(s);
    bytes += strings[f].dict.bytes() - before;
  }
  int64_t v[kIntFieldCount];
  IntValues(span, v);
  for (size_t f = 0; f < kIntFieldCount; ++f) ints[f].push_back(v[f]);
  if (context != nullptr) {
    for (const ResolvedContext::Entry& e : context->entries) {
      AttributeColumn& c = attributes[e.column];
      c.rows.push_back(row);
      if (AttributeValue::IsStringType(e.type)) {
        c.strings.codes.push_back(static_cast<uint32_t>(e.value));
      } else if (e.type == AttributeValue::Type::kDouble) {
        double d;
        std::memcpy(&d, &e.value, 8);
        c.doubles.push_back(d);
      } else {
        c.ints.push_back(e.value);
      }
    }
    bytes += 12 * context->entries.size();
  }
  // Spans of one name list the same attributes in the same order: the columns the last span
  // of this name used, position by position, are tried before the index. Past the first
  // kMaxNameTemplates names (instrumentation that puts ids in span names), the column that
  // came after the previous attribute's column last time is tried instead.
  const uint32_t name = strings[static_cast<size_t>(StringField::kName)].codes.back();
  std::vector<uint32_t>* columns_of_name = nullptr;
  if (name < kMaxNameTemplates) {
    if (columns_by_name_.size() <= name) {
      bytes += (name + 1 - columns_by_name_.size()) * sizeof(columns_by_name_[0]);
      columns_by_name_.resize(name + 1);
    }
    columns_of_name = &columns_by_name_[name];
  }
  size_t link = 0;  // 0 before the first attribute, else the previous attribute's column + 1
  for (size_t i = 0; i < span.attributes.size(); ++i) {
    const model::Attribute& a = span.attributes[i];
    AttributeColumn* c = nullptr;
    uint32_t guess = UINT32_MAX;
    if (columns_of_name != nullptr) {
      if (i < columns_of_name->size()) guess = (*columns_of_name)[i];
    } else if (link < next_column_.size()) {
      guess = next_column_[link];
    }
    if (guess < attributes.size()) {
      AttributeColumn& g = attributes[guess];
      if (g.type == a.value.type && g.role == a.role && SameBytes(g.key, a.key)) c = &g;
    }
    if (c == nullptr) {
      c = Attribute(a.key, a.role, a.value.type);
      const auto index = static_cast<uint32_t>(c - attributes.data());
      if (columns_of_name != nullptr) {
        if (i < columns_of_name->size()) {
          (*columns_of_name)[i] = index;
        } else {
          columns_of_name->push_back(index);
          bytes += sizeof(index);
        }
      } else {
        if (next_column_.size() <= link) {
          bytes += (attributes.size() + 1 - next_column_.size()) * sizeof(next_column_[0]);
          next_column_.resize(attributes.size() + 1, UINT32_MAX);
        }
        next_column_[link] = index;
      }
    }
    link = static_cast<size_t>(c - attributes.data()) + 1;
    c->rows.push_back(row);
    bytes += 12;
    if (c->is_string()) {
      const size_t before = c->strings.dict.bytes();
      c->strings.Append(a.value.string_value);
      bytes += c->strings.dict.bytes() - before;
    } else if (a.value.type == AttributeValue::Type::kDouble) {
      c->doubles.push_back(a.value.double_value);
    } else {
      c->ints.push_back(a.value.int_value);
    }
  }
  if (!span.events.empty() || !span.links.empty()) {
    extra_rows.push_back(row);
    EncodeExtras(span, &extras.emplace_back());
    bytes += extras.back().size() + 40;
  }
  memory_bytes_ += bytes;
}

void SpanTable::AppendRow(const SpanTable& other, uint32_t row) { Append(other.Row(row)); }

model::Span SpanTable::Row(uint32_t row) const {
  Span s;
  FillRow(row, &s, nullptr);
  return s;
}

std::vector<uint8_t> SpanTable::WantedColumns(const FetchOptions& options) const {
  std::vector<uint8_t> wanted(attributes.size());
  for (size_t c = 0; c < attributes.size(); ++c) {
    wanted[c] = options.Wants(attributes[c].key, attributes[c].role);
  }
  return wanted;
}

void SpanTable::FillRow(uint32_t row, Span* s, const std::vector<uint8_t>* wanted) const {
  s->trace_id = trace_ids[row];
  s->span_id = span_ids[row];
  s->parent_span_id = parent_ids[row];
  for (size_t f = 0; f < kStringFieldCount; ++f) s->*kStringMembers[f] = strings[f][row];
  int64_t v[kIntFieldCount];
  for (size_t f = 0; f < kIntFieldCount; ++f) v[f] = ints[f][row];
  SetIntFields(v, s);
  for (size_t k = 0; k < attributes.size(); ++k) {
    const AttributeColumn& c = attributes[k];
    if (wanted != nullptr && !(*wanted)[k]) continue;
    auto [lo, hi] = std::equal_range(c.rows.begin(), c.rows.end(), row);
    for (auto it = lo; it != hi; ++it) {
      const size_t i = static_cast<size_t>(it - c.rows.begin());
      model::Attribute& a = s->attributes.emplace_back();
      a.key = c.key;
      a.role = c.role;
      a.value.type = c.type;
      if (c.is_string()) {
        a.value.string_value = c.strings[i];
      } else if (c.type == AttributeValue::Type::kDouble) {
        a.value.double_value = c.doubles[i];
      } else {
        a.value.int_value = c.ints[i];
      }
    }
  }
  auto it = std::lower_bound(extra_rows.begin(), extra_rows.end(), row);
  if (it != extra_rows.end() && *it == row) {
    // Blocks check extras when they are read (Block::ReadRowGroup); the head wrote them.
    (void)DecodeExtras(extras[static_cast<size_t>(it - extra_rows.begin())], s);
  }
}

void SpanTable::EncodeExtras(const Span& s, std::string* out) {
  internal::PutEventsAndLinks(out, s);
}

bool SpanTable::DecodeExtras(std::string_view in, Span* s) {
  return internal::GetEventsAndLinks(&in, /*version=*/2, s) && in.empty();
}

}  // namespace waggle::storage::columnar
