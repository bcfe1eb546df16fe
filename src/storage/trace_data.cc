#include "storage/trace_data.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "base/coding.h"
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

bool GetString(std::string_view* in, std::string* s) {
  std::string_view v;
  if (!GetLengthPrefixed(in, &v)) return false;
  s->assign(v);
  return true;
}

void PutAttributes(std::string* out, const model::Attributes& attrs) {
  PutVarint64(out, attrs.size());
  for (const model::Attribute& a : attrs) {
    PutLengthPrefixed(out, a.key);
    out->push_back(static_cast<char>(a.role));
    out->push_back(static_cast<char>(a.value.type));
    switch (a.value.type) {
      case model::AttributeValue::Type::kInt:
      case model::AttributeValue::Type::kBool:
        PutVarsint64(out, a.value.int_value);
        break;
      case model::AttributeValue::Type::kDouble: {
        uint64_t bits;
        std::memcpy(&bits, &a.value.double_value, 8);
        coding::PutFixed64(out, bits);
        break;
      }
      default:
        PutLengthPrefixed(out, a.value.string_value);
    }
  }
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
  coding::PutVarint64(out, s.events.size());
  for (const model::SpanEvent& e : s.events) {
    coding::PutVarsint64(out, static_cast<int64_t>(static_cast<uint64_t>(e.time_ns) -
                                                   static_cast<uint64_t>(s.start_ns)));
    coding::PutLengthPrefixed(out, e.name);
    PutAttributes(out, e.attributes);
  }
  coding::PutVarint64(out, s.links.size());
  for (const model::SpanLink& l : s.links) {
    PutTraceId(out, l.trace_id);
    coding::PutFixed64(out, l.span_id.value);
    PutAttributes(out, l.attributes);
    coding::PutLengthPrefixed(out, l.trace_state);
  }
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

void PutSpan(std::string* out, const model::Span& s) {
  coding::PutFixed64(out, s.span_id.value);
  coding::PutFixed64(out, s.parent_span_id.value);
  PutLengthPrefixed(out, s.environment);
  PutLengthPrefixed(out, s.service);
  PutLengthPrefixed(out, s.name);
  out->push_back(static_cast<char>(s.kind));
  PutVarsint64(out, s.start_ns);
  PutVarsint64(out, WrapSub(s.end_ns, s.start_ns));
  out->push_back(static_cast<char>(s.in_progress));
  out->push_back(static_cast<char>(s.status_flags));
  PutLengthPrefixed(out, s.status_message);
  PutLengthPrefixed(out, s.http_method);
  PutLengthPrefixed(out, s.http_route);
  PutLengthPrefixed(out, s.http_url);
  PutVarsint64(out, s.http_status);
  PutLengthPrefixed(out, s.client_ip);
  PutLengthPrefixed(out, s.user_agent);
  PutLengthPrefixed(out, s.db_system);
  PutLengthPrefixed(out, s.peer);
  PutAttributes(out, s.attributes);
  PutEventsAndLinks(out, s);
  PutLengthPrefixed(out, s.dataset);
  PutLengthPrefixed(out, s.trace_state);
  PutLengthPrefixed(out, s.scope_name);
  PutLengthPrefixed(out, s.scope_version);
  PutVarint64(out, s.flags);
  PutVarint64(out, s.sample_rate);
  out->push_back(static_cast<char>(s.otel_status));
  out->push_back(static_cast<char>(s.from_xray_document));
}

bool GetSpan(std::string_view* in, uint64_t version, const model::TraceId& trace_id,
             model::Span* s) {
  s->trace_id = trace_id;
  int64_t duration = 0, status = 0;
  if (!coding::GetFixed64(in, &s->span_id.value) ||
      !coding::GetFixed64(in, &s->parent_span_id.value) || !GetString(in, &s->environment) ||
      !GetString(in, &s->service) || !GetString(in, &s->name) || in->empty()) {
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
  if (!GetString(in, &s->status_message) || !GetString(in, &s->http_method) ||
      !GetString(in, &s->http_route) || !GetString(in, &s->http_url) ||
      !GetVarsint64(in, &status) || !GetString(in, &s->client_ip) ||
      !GetString(in, &s->user_agent) || !GetString(in, &s->db_system) || !GetString(in, &s->peer) ||
      !GetAttributes(in, &s->attributes)) {
    return false;
  }
  s->http_status = static_cast<int32_t>(status);
  if (!GetEventsAndLinks(in, version, s)) return false;
  if (version < 2) return true;
  uint64_t flags, rate;
  if (!GetString(in, &s->dataset) || !GetString(in, &s->trace_state) ||
      !GetString(in, &s->scope_name) || !GetString(in, &s->scope_version) ||
      !GetVarint64(in, &flags) || !GetVarint64(in, &rate) || in->size() < 2) {
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
                    std::string* out) {
  PutVarint64(out, kFragmentVersion);
  PutTraceId(out, header.trace_id);
  PutVarsint64(out, header.min_start_ns);
  PutVarsint64(out, header.max_end_ns);
  PutVarint64(out, documents_only ? kDocumentsOnly : 0);
  if (documents_only) {
    PutVarint64(out, 0);
  } else {
    PutVarint64(out, spans.size());
    for (const model::Span* s : spans) PutSpan(out, *s);
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
  std::unordered_map<uint64_t, size_t> at;
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
  std::unordered_map<model::TraceId, size_t, model::TraceIdHash> at;
  auto fragment_for = [&](const model::TraceId& id) -> BatchFragment& {
    auto [it, inserted] = at.try_emplace(id, out.size());
    if (inserted) {
      out.emplace_back();
      out.back().header.trace_id = id;
      out.back().header.min_start_ns = INT64_MAX;
      out.back().header.max_end_ns = INT64_MIN;
    }
    return out[it->second];
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

void EncodeFragments(const std::vector<BatchFragment>& fragments, bool documents_only,
                     std::string* out, std::vector<std::string_view>* views) {
  out->clear();
  std::vector<size_t> ends(fragments.size());
  for (size_t i = 0; i < fragments.size(); ++i) {
    EncodeFragment(fragments[i].header, fragments[i].spans, fragments[i].documents, documents_only,
                   out);
    ends[i] = out->size();
  }
  // Views are taken once `out` has stopped growing.
  views->resize(fragments.size());
  for (size_t i = 0, start = 0; i < fragments.size(); start = ends[i++]) {
    (*views)[i] = std::string_view(*out).substr(start, ends[i] - start);
  }
}

}  // namespace waggle::storage
