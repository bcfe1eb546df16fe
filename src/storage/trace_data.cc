#include "storage/trace_data.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "base/coding.h"
#include "model/ids.h"
#include "model/trace_index.h"
#include "storage/record_coding.h"

namespace waggle::storage {
namespace {

// Version 2 added the OTLP fields of a span (after its links) and a link's trace state.
constexpr uint64_t kFragmentVersion = 2;

// Fragment flags.
constexpr uint64_t kDocumentsOnly = 1;  // spans left out: derived from the documents on read

}  // namespace

namespace internal {

using coding::GetLengthPrefixed;
using coding::GetVarint64;
using coding::GetVarsint64;
using coding::PutLengthPrefixed;
using coding::PutVarint64;
using coding::PutVarsint64;

// Reads a count of items that take at least `min_bytes` each, refusing counts the remaining
// input cannot hold (a corrupt count must not make us allocate).
bool GetCount(std::string_view* in, size_t min_bytes, uint64_t* n) {
  return coding::GetVarint64(in, n) && *n <= in->size() / min_bytes;
}

void PutTraceId(std::string* out, const model::TraceId& id) {
  out->append(reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size());
}

bool GetTraceId(std::string_view* in, model::TraceId* id) {
  std::string_view b;
  if (!coding::GetBytes(in, 16, &b)) return false;
  std::memcpy(id->bytes.data(), b.data(), 16);
  return true;
}

namespace {

// Spans are written into room sized beforehand (a bound on their bytes), through a pointer:
// the WAL encodes every span that arrives, and appending to a string field by field would
// check and grow its capacity some forty times a span. Each *Bound is at least what the
// matching Write writes.
constexpr size_t kVarintBound = coding::kMaxVarint64Length;

size_t StringBound(std::string_view s) { return kVarintBound + s.size(); }

using coding::EncodeFixed64;
using coding::EncodeVarint64;
using coding::EncodeVarsint64;

char* WriteString(char* p, std::string_view s) {
  p = EncodeVarint64(p, s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// `before` (a span's shared context, or null) then `attrs`, as one list.
size_t AttributesBound(const model::Attributes& attrs, const model::Attributes* before = nullptr) {
  size_t n = kVarintBound;
  for (const model::Attributes* list : {before, &attrs}) {
    if (list == nullptr) continue;
    for (const model::Attribute& a : *list) {
      n += StringBound(a.key) + 2 + StringBound(a.value.string_value);  // a number takes <= 10
    }
  }
  return n;
}

char* WriteAttribute(char* p, const model::Attribute& a) {
  p = WriteString(p, a.key);
  *p++ = static_cast<char>(a.role);
  *p++ = static_cast<char>(a.value.type);
  switch (a.value.type) {
    case model::AttributeValue::Type::kInt:
    case model::AttributeValue::Type::kBool:
      return EncodeVarsint64(p, a.value.int_value);
    case model::AttributeValue::Type::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &a.value.double_value, 8);
      return EncodeFixed64(p, bits);
    }
    default:
      return WriteString(p, a.value.string_value);
  }
}

char* WriteAttributes(char* p, const model::Attributes& attrs,
                      const model::Attributes* before = nullptr) {
  p = EncodeVarint64(p, attrs.size() + (before != nullptr ? before->size() : 0));
  if (before != nullptr) {
    for (const model::Attribute& a : *before) p = WriteAttribute(p, a);
  }
  for (const model::Attribute& a : attrs) p = WriteAttribute(p, a);
  return p;
}

size_t EventsAndLinksBound(const model::Span& s) {
  size_t n = 2 * kVarintBound;
  for (const model::SpanEvent& e : s.events) {
    n += kVarintBound + StringBound(e.name) + AttributesBound(e.attributes);
  }
  for (const model::SpanLink& l : s.links) {
    n += 16 + 8 + AttributesBound(l.attributes) + StringBound(l.trace_state);
  }
  return n;
}

char* WriteEventsAndLinks(char* p, const model::Span& s) {
  p = EncodeVarint64(p, s.events.size());
  for (const model::SpanEvent& e : s.events) {
    p = EncodeVarsint64(p, WrapSub(e.time_ns, s.start_ns));
    p = WriteString(p, e.name);
    p = WriteAttributes(p, e.attributes);
  }
  p = EncodeVarint64(p, s.links.size());
  for (const model::SpanLink& l : s.links) {
    std::memcpy(p, l.trace_id.bytes.data(), 16);
    p = EncodeFixed64(p + 16, l.span_id.value);
    p = WriteAttributes(p, l.attributes);
    p = WriteString(p, l.trace_state);
  }
  return p;
}

// Appends what `write` writes in at most `bound` bytes.
template <typename Write>
void AppendBounded(std::string* out, size_t bound, Write write) {
  const size_t at = out->size();
  out->resize(at + bound);
  char* const begin = out->data() + at;
  const auto written = static_cast<size_t>(write(begin) - begin);
  assert(written <= bound && "a *Bound undercounts what its Write writes");
  out->resize(at + written);
}

}  // namespace

void PutAttributes(std::string* out, const model::Attributes& attrs) {
  AppendBounded(out, AttributesBound(attrs), [&](char* p) { return WriteAttributes(p, attrs); });
}

bool GetAttributes(std::string_view* in, model::Attributes* attrs) {
  uint64_t n;
  if (!GetCount(in, 4, &n)) return false;
  attrs->resize(n);
  for (model::Attribute& a : *attrs) {
    if (!GetString(in, &a.key) || in->size() < 2) return false;
    uint8_t role = static_cast<uint8_t>((*in)[0]);
    uint8_t type = static_cast<uint8_t>((*in)[1]);
    in->remove_prefix(2);
    if (role > 4 || type > 5) return false;
    a.role = static_cast<model::AttributeRole>(role);
    a.value.type = static_cast<model::AttributeValue::Type>(type);
    switch (a.value.type) {
      case model::AttributeValue::Type::kInt:
      case model::AttributeValue::Type::kBool:
        if (!GetVarsint64(in, &a.value.int_value)) return false;
        break;
      case model::AttributeValue::Type::kDouble: {
        uint64_t bits;
        if (!coding::GetFixed64(in, &bits)) return false;
        std::memcpy(&a.value.double_value, &bits, 8);
        break;
      }
      default:
        if (!GetString(in, &a.value.string_value)) return false;
    }
  }
  return true;
}

void PutEventsAndLinks(std::string* out, const model::Span& s) {
  AppendBounded(out, EventsAndLinksBound(s), [&](char* p) { return WriteEventsAndLinks(p, s); });
}

bool GetEventsAndLinks(std::string_view* in, uint64_t version, model::Span* s) {
  uint64_t n;
  if (!GetCount(in, 3, &n)) return false;
  s->events.resize(n);
  for (model::SpanEvent& e : s->events) {
    int64_t offset;
    if (!coding::GetVarsint64(in, &offset) || !GetString(in, &e.name) ||
        !GetAttributes(in, &e.attributes)) {
      return false;
    }
    e.time_ns =
        static_cast<int64_t>(static_cast<uint64_t>(s->start_ns) + static_cast<uint64_t>(offset));
  }
  if (!GetCount(in, 25, &n)) return false;
  s->links.resize(n);
  for (model::SpanLink& l : s->links) {
    if (!GetTraceId(in, &l.trace_id) || !coding::GetFixed64(in, &l.span_id.value) ||
        !GetAttributes(in, &l.attributes) || (version >= 2 && !GetString(in, &l.trace_state))) {
      return false;
    }
  }
  return true;
}

}  // namespace internal

namespace {

using namespace internal;  // NOLINT: this file's own helpers (and its coding:: names)

// A span's strings, in the runs the fragment keeps them in (docs/wal-format.md): written,
// bounded and read from the same lists.
using SpanString = std::string model::Span::*;
constexpr SpanString kFirstStrings[] = {&model::Span::environment, &model::Span::service,
                                        &model::Span::name};
constexpr SpanString kHttpStrings[] = {&model::Span::status_message, &model::Span::http_method,
                                       &model::Span::http_route, &model::Span::http_url};
constexpr SpanString kPeerStrings[] = {&model::Span::client_ip, &model::Span::user_agent,
                                       &model::Span::db_system, &model::Span::peer};
constexpr SpanString kOtlpStrings[] = {&model::Span::dataset, &model::Span::trace_state,
                                       &model::Span::scope_name, &model::Span::scope_version};

template <size_t N>
size_t StringsBound(const model::Span& s, const SpanString (&fields)[N]) {
  size_t n = 0;
  for (SpanString f : fields) n += StringBound(s.*f);
  return n;
}

template <size_t N>
char* WriteStrings(char* p, const model::Span& s, const SpanString (&fields)[N]) {
  for (SpanString f : fields) p = WriteString(p, s.*f);
  return p;
}

template <size_t N>
bool GetStrings(std::string_view* in, model::Span* s, const SpanString (&fields)[N]) {
  for (SpanString f : fields) {
    if (!GetString(in, &(s->*f))) return false;
  }
  return true;
}

// `context`: the span's shared context, written ahead of its own attributes (or null).
size_t SpanBound(const model::Span& s, const model::Attributes* context) {
  return 16 + 5 + 5 * kVarintBound +  // ids, five one-byte fields, five numbers
         StringsBound(s, kFirstStrings) + StringsBound(s, kHttpStrings) +
         StringsBound(s, kPeerStrings) + StringsBound(s, kOtlpStrings) +
         AttributesBound(s.attributes, context) + EventsAndLinksBound(s);
}

char* WriteSpan(char* p, const model::Span& s, const model::Attributes* context) {
  p = EncodeFixed64(p, s.span_id.value);
  p = EncodeFixed64(p, s.parent_span_id.value);
  p = WriteStrings(p, s, kFirstStrings);
  *p++ = static_cast<char>(s.kind);
  p = EncodeVarsint64(p, s.start_ns);
  p = EncodeVarsint64(p, WrapSub(s.end_ns, s.start_ns));
  *p++ = static_cast<char>(s.in_progress);
  *p++ = static_cast<char>(s.status_flags);
  p = WriteStrings(p, s, kHttpStrings);
  p = EncodeVarsint64(p, s.http_status);
  p = WriteStrings(p, s, kPeerStrings);
  p = WriteAttributes(p, s.attributes, context);
  p = WriteEventsAndLinks(p, s);
  p = WriteStrings(p, s, kOtlpStrings);
  p = EncodeVarint64(p, s.flags);
  p = EncodeVarint64(p, s.sample_rate);
  *p++ = static_cast<char>(s.otel_status);
  *p++ = static_cast<char>(s.from_xray_document);
  return p;
}

bool GetSpan(std::string_view* in, uint64_t version, const model::TraceId& trace_id,
             model::Span* s) {
  s->trace_id = trace_id;
  int64_t duration = 0, status = 0;
  if (!coding::GetFixed64(in, &s->span_id.value) ||
      !coding::GetFixed64(in, &s->parent_span_id.value) || !GetStrings(in, s, kFirstStrings) ||
      in->empty()) {
    return false;
  }
  uint8_t kind = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (kind > 5) return false;
  s->kind = static_cast<model::SpanKind>(kind);
  if (!GetVarsint64(in, &s->start_ns) || !GetVarsint64(in, &duration) || in->size() < 2)
    return false;
  s->end_ns = WrapAdd(s->start_ns, duration);
  s->in_progress = (*in)[0] != 0;
  s->status_flags = static_cast<uint8_t>((*in)[1]);
  in->remove_prefix(2);
  if (!GetStrings(in, s, kHttpStrings) || !GetVarsint64(in, &status) ||
      !GetStrings(in, s, kPeerStrings) || !GetAttributes(in, &s->attributes)) {
    return false;
  }
  s->http_status = static_cast<int32_t>(status);
  if (!GetEventsAndLinks(in, version, s)) return false;
  if (version < 2) return true;
  uint64_t flags, rate;
  if (!GetStrings(in, s, kOtlpStrings) || !GetVarint64(in, &flags) || !GetVarint64(in, &rate) ||
      in->size() < 2) {
    return false;
  }
  s->flags = static_cast<uint32_t>(flags);
  s->sample_rate = static_cast<uint32_t>(std::clamp<uint64_t>(rate, 1, UINT32_MAX));
  s->otel_status = static_cast<uint8_t>((*in)[0]);
  s->from_xray_document = (*in)[1] != 0;
  in->remove_prefix(2);
  return s->otel_status <= 2;
}

bool GetHeader(std::string_view* in, FragmentHeader* h, uint64_t* version_out = nullptr) {
  uint64_t version;
  if (!GetVarint64(in, &version)) return false;
  if (version < 1 || version > kFragmentVersion) return false;
  if (version_out) *version_out = version;
  return GetTraceId(in, &h->trace_id) && GetVarsint64(in, &h->min_start_ns) &&
         GetVarsint64(in, &h->max_end_ns);
}

// True when `next` should replace `prev` (same id): anything but complete -> in progress.
bool Replaces(bool prev_in_progress, bool next_in_progress) {
  return prev_in_progress || !next_in_progress;
}

}  // namespace

void EncodeFragment(const FragmentHeader& header, const std::vector<const model::Span*>& spans,
                    const std::vector<const model::Document*>& documents, bool documents_only,
                    std::string* out, const std::vector<model::Attributes>* contexts) {
  PutVarint64(out, kFragmentVersion);
  PutTraceId(out, header.trace_id);
  PutVarsint64(out, header.min_start_ns);
  PutVarsint64(out, header.max_end_ns);
  PutVarint64(out, documents_only ? kDocumentsOnly : 0);
  if (documents_only) {
    PutVarint64(out, 0);
  } else {
    PutVarint64(out, spans.size());
    auto context_of = [&](const model::Span* s) -> const model::Attributes* {
      if (s->context == model::kNoContext) return nullptr;
      assert(contexts != nullptr && s->context < contexts->size() &&
             "a span's context is one of its batch's");
      return &(*contexts)[s->context];
    };
    size_t bound = 0;
    for (const model::Span* s : spans) bound += SpanBound(*s, context_of(s));
    AppendBounded(out, bound, [&](char* p) {
      for (const model::Span* s : spans) p = WriteSpan(p, *s, context_of(s));
      return p;
    });
  }
  PutVarint64(out, documents.size());
  for (const model::Document* d : documents) {
    coding::PutFixed64(out, d->id.value);
    coding::PutFixed64(out, d->parent_id.value);
    out->push_back(static_cast<char>((d->in_progress ? 1 : 0) | (d->subsegment ? 2 : 0)));
    PutLengthPrefixed(out, d->environment);
    PutLengthPrefixed(out, d->json);
  }
}

Status DecodeFragmentHeader(std::string_view in, FragmentHeader* header) {
  if (!GetHeader(&in, header)) return Status::Corruption("bad trace fragment header");
  return Status::Ok();
}

Status DecodeFragment(std::string_view in, const DocumentDecoder* decoder, TraceData* out) {
  FragmentHeader h;
  uint64_t version;
  if (!GetHeader(&in, &h, &version)) return Status::Corruption("bad trace fragment header");
  if (h.trace_id != out->id) return Status::Corruption("trace fragment of another trace");
  TraceData more;
  more.id = h.trace_id;
  uint64_t n, flags;
  if (!GetVarint64(&in, &flags) || (flags & ~kDocumentsOnly) != 0) {
    return Status::Corruption("bad trace fragment flags");
  }
  if (!GetCount(&in, 30, &n)) return Status::Corruption("bad span count");
  more.spans.resize(n);
  for (model::Span& s : more.spans) {
    if (!GetSpan(&in, version, h.trace_id, &s))
      return Status::Corruption("bad span in trace fragment");
  }
  if (!GetCount(&in, 18, &n)) return Status::Corruption("bad document count");
  more.documents.resize(n);
  for (model::Document& d : more.documents) {
    d.trace_id = h.trace_id;
    std::string_view json;
    if (!coding::GetFixed64(&in, &d.id.value) || !coding::GetFixed64(&in, &d.parent_id.value) ||
        in.empty()) {
      return Status::Corruption("bad document in trace fragment");
    }
    uint8_t doc_flags = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    d.in_progress = doc_flags & 1;
    d.subsegment = doc_flags & 2;
    if (!GetString(&in, &d.environment) || !GetLengthPrefixed(&in, &json)) {
      return Status::Corruption("bad document in trace fragment");
    }
    d.json.assign(json);
  }
  if (!in.empty()) return Status::Corruption("trailing bytes in trace fragment");
  if (flags & kDocumentsOnly) {
    if (decoder == nullptr) {
      return Status::Unimplemented("trace fragment holds documents only and no decoder was given");
    }
    for (const model::Document& d : more.documents) {
      WAGGLE_RETURN_IF_ERROR(decoder->DecodeSpans(d, &more.spans).Annotate("stored document"));
    }
  }
  for (model::Span& s : more.spans) out->spans.push_back(std::move(s));
  for (model::Document& d : more.documents) out->documents.push_back(std::move(d));
  return Status::Ok();
}

namespace {

// Keeps the first arrival's position and the version Replaces() picks, in one pass.
template <typename T, typename Id, typename Merge>
void DeduplicateBy(std::vector<T>* items, Id id_of, Merge merge) {
  model::BySpanId<size_t> at;
  at.reserve(items->size());
  size_t kept = 0;
  for (size_t i = 0; i < items->size(); ++i) {
    T& item = (*items)[i];
    auto [it, inserted] = at.try_emplace(id_of(item), kept);
    if (inserted) {
      if (kept != i) (*items)[kept] = std::move(item);
      ++kept;
    } else {
      merge(&(*items)[it->second], &item);
    }
  }
  items->resize(kept);
}

}  // namespace

void Deduplicate(TraceData* trace) {
  DeduplicateBy(
      &trace->spans, [](const model::Span& s) { return s.span_id.value; },
      [](model::Span* kept, model::Span* next) {
        if (!Replaces(kept->in_progress, next->in_progress)) return;
        // An independent subsegment knows no service; keep what an earlier copy knew.
        if (next->service.empty()) next->service = std::move(kept->service);
        *kept = std::move(*next);
      });
  DeduplicateBy(
      &trace->documents, [](const model::Document& d) { return d.id.value; },
      [](model::Document* kept, model::Document* next) {
        if (Replaces(kept->in_progress, next->in_progress)) *kept = std::move(*next);
      });
}

std::vector<BatchFragment> SplitByTrace(const model::SpanBatch& batch) {
  std::vector<BatchFragment> out;
  // Kept for the thread's next batch: an unordered_map allocated a node a trace.
  thread_local model::TraceIndex fragment_of;
  fragment_of.Clear();
  auto fragment_for = [&](const model::TraceId& id) -> BatchFragment& {
    bool added;
    const uint32_t i = fragment_of.FindOrAdd(id, &added);
    if (!added) return out[i];
    BatchFragment& f = out.emplace_back();
    f.contexts = &batch.contexts;
    f.header.trace_id = id;
    f.header.min_start_ns = INT64_MAX;
    f.header.max_end_ns = INT64_MIN;
    return f;
  };
  for (const model::Span& s : batch.spans) {
    BatchFragment& f = fragment_for(s.trace_id);
    f.spans.push_back(&s);
    f.header.min_start_ns = std::min(f.header.min_start_ns, s.start_ns);
    f.header.max_end_ns = std::max(f.header.max_end_ns, std::max(s.start_ns, s.end_ns));
  }
  for (const model::Document& d : batch.documents) fragment_for(d.trace_id).documents.push_back(&d);
  for (BatchFragment& f : out) {
    if (f.spans.empty()) f.header.min_start_ns = f.header.max_end_ns = 0;
  }
  return out;
}

void EncodeFragments(std::span<const BatchFragment> fragments, bool documents_only,
                     std::string* out, std::vector<std::string_view>* views) {
  out->clear();
  thread_local std::vector<size_t> ends;  // kept for the thread's next batch
  ends.resize(fragments.size());
  for (size_t i = 0; i < fragments.size(); ++i) {
    EncodeFragment(fragments[i].header, fragments[i].spans, fragments[i].documents, documents_only,
                   out, fragments[i].contexts);
    ends[i] = out->size();
  }
  // Views are taken once `out` has stopped growing.
  views->resize(fragments.size());
  for (size_t i = 0, start = 0; i < fragments.size(); start = ends[i++]) {
    (*views)[i] = std::string_view(*out).substr(start, ends[i] - start);
  }
}

}  // namespace waggle::storage
