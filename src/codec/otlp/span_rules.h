#pragma once

#include <cstring>
#include <string>
#include <string_view>

#include "base/utf8.h"
#include "codec/otlp/otlp.h"
#include "model/log_record.h"
#include "model/span.h"
#include "model/span_batch.h"

// What every decoded OTLP span or log record gets, whichever encoding it came in (and the
// Honeycomb Events API's spans): the rules of spec/otlp.md §4 and §9.3 that read attributes.
namespace waggle::codec::otlp {

// An InstrumentationScope, as both encodings decode it. The views point into the request, or
// to the repaired copies when the request's bytes were not UTF-8.
struct Scope {
  std::string_view name;
  std::string_view version;
  model::Attributes attributes;  // role kScope
  std::string repaired_name, repaired_version;
};

// What a resource gives every record under it. `service` follows the traces or the logs
// dataset rule (DatasetForService, LogsServiceFor).
struct ResourceContext {
  model::Attributes attributes;  // role kResource
  std::string service;
};

// What each record under `resource` and `scope` copies of them and of the request, as
// DecodeOptions::max_context_bytes counts it: the environment, service, dataset (classic keys),
// scope name and version, and each resource and scope attribute's key and text plus
// sizeof(model::Attribute). (A log record copies no scope version or dataset: counted anyway.)
size_t ContextBytes(const DecodeOptions& options, const ResourceContext& resource,
                    const Scope& scope);
// The refusal of a body past options.max_context_bytes.
Status ContextLimitError(const DecodeOptions& options);

// What FinishSpan reads from attribute lists, gathered list by list: a shared context's once,
// then each span's own from there. The pointers are to the attributes' string values.
struct SpanFacts {
  const model::Text* method = nullptr;
  const model::Text* route = nullptr;
  const model::Text* url = nullptr;
  const model::Text* client_ip = nullptr;
  const model::Text* user_agent = nullptr;
  const model::Text* db_system = nullptr;
  const model::Text* peer = nullptr;
  bool method_new = false, url_new = false, client_ip_new = false, user_agent_new = false,
       db_system_new = false, status_new = false, has_rate = false;
  int64_t status = 0;
  int peer_rank = 0;  // lower is better; 0 for none yet
  int rate_rank = 0;  // where sample_rate was found; 0 for nowhere
  uint32_t sample_rate = 1;
};
// Adds what `list` says to `facts`, as if it came after the lists gathered before.
void GatherFacts(const model::Attributes& list, SpanFacts* facts);

// With DecodeOptions::shared_context, the context (SpanBatch::contexts) that the records under
// one resource and scope share, made at the first of them.
struct SharedContext {
  bool ready = false;
  uint32_t index = model::kNoContext;  // none when the resource and scope have no attributes
  SpanFacts facts;                     // of the resource's and scope's attributes
};

// Sets *to to the string `v` as text: each byte that does not begin a well-formed UTF-8
// sequence becomes U+FFFD, counted in *repairs. libprotobuf would refuse the whole message for
// one; OpenTelemetry's guidance is to keep the data and replace what is not UTF-8. (The repair
// goes straight into *to: AsValidUtf8 with a scratch string cost 40 ns a span in
// otlp_decode_bench, on this path that runs for every string.)
inline void AssignText(std::string* to, std::string_view v, uint64_t* repairs) {
  if (IsUtf8(v)) {
    to->assign(v);
  } else {
    to->clear();
    *repairs += AppendValidUtf8(to, v);
  }
}
inline void AssignText(model::Text* to, std::string_view v, uint64_t* repairs) {
  std::string repaired;
  to->assign(AsValidUtf8(v, &repaired, repairs));
}

// How a decode sets an attribute's text: as AssignText, counting repairs in *repairs; but
// when `borrow` (DecodeOptions::borrow_text), what needs no repair is borrowed from the body.
struct TextTo {
  uint64_t* repairs;
  bool borrow = false;
  void Set(model::Text* to, std::string_view v) const {
    if (borrow && IsUtf8(v)) {
      to->Borrow(v);
    } else {
      AssignText(to, v, repairs);
    }
  }
  // Bytes as they are (a bytes value): borrowed or copied.
  void Bytes(model::Text* to, std::string_view v) const {
    if (borrow) {
      to->Borrow(v);
    } else {
      to->assign(v);
    }
  }
};

// What a decoder of one signal's records holds, whichever encoding it reads: the walks of
// both encodings take the signal (for ResolveService) and the options from it.
template <Signal kSignalOf, typename Batch>
class RecordDecoder {
 public:
  static constexpr Signal kSignal = kSignalOf;

  RecordDecoder(const DecodeOptions& options, Batch* out, Rejections* rejected)
      : options_(options), out_(out), rejected_(rejected) {}

  const DecodeOptions& options() const { return options_; }
  // Where the decode counts the bytes it replaced with U+FFFD (Rejections::text_repairs).
  uint64_t* repairs() { return &rejected_->text_repairs; }
  // How attributes' text is set: AssignText counting in repairs(), or borrowed.
  TextTo text_to() { return {repairs(), options_.borrow_text}; }
  // AssignText counting in repairs(); always true.
  bool Text(std::string* to, std::string_view v) {
    AssignText(to, v, repairs());
    return true;
  }
  // The walk calls this before the records under each resource and scope.
  void NewContext() { shared_.ready = false; }
  // Counts one more record's copies of its context (ContextBytes); false once the records
  // copied more than options().max_context_bytes.
  bool CountContext(size_t bytes) {
    context_bytes_ += bytes;
    return context_bytes_ <= options_.max_context_bytes;
  }
  // Why a walk stopped: past max_context_bytes, ResourceExhausted; else the body is not a
  // valid `what` (InvalidArgument).
  Status WalkError(std::string_view what) const {
    if (context_bytes_ > options_.max_context_bytes) return ContextLimitError(options_);
    return Status::InvalidArgument("the body is not a valid " + std::string(what));
  }

 protected:
  const DecodeOptions& options_;
  Batch* out_;
  Rejections* rejected_;
  size_t context_bytes_ = 0;
  SharedContext shared_;
};

// Sets resource->service by the dataset rule of `signal`: DatasetForService for traces,
// LogsServiceFor for logs.
void ResolveService(Signal signal, const DecodeOptions& options, ResourceContext* resource);

// Appends a span stamped with what the request, its resource and its scope say: environment,
// service, dataset, scope, and the resource then scope attributes: copied into the span, or
// with options.shared_context its `context`, which `*shared` makes at the first span under a
// resource and scope. The span's own attributes are filled through `*attributes`
// (SpanBatch::AddSpan), which the caller goes on adding to and Finish()es before the span is
// read.
model::Span& BeginSpan(const DecodeOptions& options, const ResourceContext& resource,
                       const Scope& scope, model::SpanBatch* out,
                       model::AttributeFiller* attributes, SharedContext* shared);
// The same for a log record.
model::LogRecord& BeginLogRecord(const DecodeOptions& options, const ResourceContext& resource,
                                 const Scope& scope, model::LogBatch* out);

// An 8-byte id as the wire carries it (big-endian) as a SpanId.
inline model::SpanId SpanIdFromBytes(const void* bytes) {
  uint64_t v;
  std::memcpy(&v, bytes, 8);
  return model::SpanId{__builtin_bswap64(v)};
}

// Fills the well-known columns from the span's attributes (which keep them), takes the sample
// rate out of `sampleRate`/`SampleRate` (span, then scope, then resource), and sets
// status_flags from the HTTP status code or, without one, from the OTLP status.
void FinishSpan(model::Span* span);
// FinishSpan for a span that BeginSpan appended to `batch` with `shared`: its shared context's
// attributes count as if they came first in its own.
void FinishSpan(model::Span* span, const model::SpanBatch& batch, const SharedContext& shared);

// A resource's service.name value as a string, or empty.
std::string_view ServiceNameOf(const model::Attributes& resource);

// The sample rate an attribute value means: numbers and numeric strings, rounded; 1 for
// anything not positive or not a number.
uint32_t SampleRateOf(const model::AttributeValue& value);

// Whether a trace id / span id as bytes is valid for a span (exact length, not all zero).
bool ValidTraceIdBytes(std::string_view bytes);
bool ValidSpanIdBytes(std::string_view bytes);

}  // namespace waggle::codec::otlp
