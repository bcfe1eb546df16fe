// Fuzzes the OTLP trace and log decoders, protobuf and JSON, and checks what the rest of the
// server relies on: a refused body is InvalidArgument and adds nothing; every span kept has
// usable ids and a service; refusals are counted with a reason; a batch recycled from earlier
// inputs (as the server reuses them) decodes the body exactly as a new batch does; a decode
// with shared contexts (as the server's protobuf ingest does), once materialized, gives the
// same spans.
//
// Input: the first byte picks the encoding (bit 0: JSON) and the options (bit 1: classic key,
// bit 2: a dataset header); the rest is the body, fed to DecodeTraces and DecodeLogs alike.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "codec/otlp/otlp.h"

namespace {

using waggle::Status;
using waggle::codec::otlp::DecodeOptions;
using waggle::codec::otlp::Encoding;
using waggle::codec::otlp::Rejections;

// The spans with every NaN double attribute value made 0 and marked (int_value 1): a NaN is
// not equal to itself, and two decodes that agree would compare unequal.
std::vector<waggle::model::Span> WithoutNaNs(std::vector<waggle::model::Span> spans) {
  auto fix = [](waggle::model::Attributes* attrs) {
    for (waggle::model::Attribute& a : *attrs) {
      if (a.value.type == waggle::model::AttributeValue::Type::kDouble &&
          std::isnan(a.value.double_value)) {
        a.value.double_value = 0;
        a.value.int_value = 1;
      }
    }
  };
  for (waggle::model::Span& s : spans) {
    fix(&s.attributes);
    for (waggle::model::SpanEvent& e : s.events) fix(&e.attributes);
    for (waggle::model::SpanLink& l : s.links) fix(&l.attributes);
  }
  return spans;
}

bool SameSpans(const std::vector<waggle::model::Span>& a,
               const std::vector<waggle::model::Span>& b) {
  return WithoutNaNs(a) == WithoutNaNs(b);
}

void CheckRejections(const Rejections& rejected) {
  if ((rejected.count == 0) != rejected.message.empty()) std::abort();
}

void FuzzTraces(Encoding encoding, std::string_view body, const DecodeOptions& options) {
  waggle::model::SpanBatch batch;
  Rejections rejected;
  const Status status =
      waggle::codec::otlp::DecodeTraces(encoding, body, options, &batch, &rejected);
  static waggle::model::SpanBatch* recycled = new waggle::model::SpanBatch;
  recycled->Recycle();
  Rejections recycled_rejected;
  const Status recycled_status =
      waggle::codec::otlp::DecodeTraces(encoding, body, options, recycled, &recycled_rejected);
  if (recycled_status.ok() != status.ok() || !SameSpans(recycled->spans, batch.spans) ||
      recycled_rejected.count != rejected.count) {
    std::abort();
  }
  DecodeOptions shared_options = options;
  shared_options.shared_context = true;  // and text borrowed from the body, as the server decodes
  shared_options.borrow_text = true;
  waggle::model::SpanBatch shared;
  Rejections shared_rejected;
  const Status shared_status =
      waggle::codec::otlp::DecodeTraces(encoding, body, shared_options, &shared, &shared_rejected);
  if (shared_status.ok() != status.ok() || shared_rejected.count != rejected.count) std::abort();
  if (!shared_status.ok() && (!shared.spans.empty() || !shared.contexts.empty())) std::abort();
  for (const waggle::model::Span& s : shared.spans) {
    if (s.context != waggle::model::kNoContext && s.context >= shared.contexts.size()) {
      std::abort();
    }
  }
  shared.Materialize();
  if (!SameSpans(shared.spans, batch.spans)) std::abort();
  if (!status.ok()) {
    if (status.code() != Status::Code::kInvalidArgument || !batch.empty()) std::abort();
    return;
  }
  CheckRejections(rejected);
  if (!batch.documents.empty() || batch.spans_from_documents) std::abort();
  const std::string_view dataset = options.classic_key ? options.dataset_header : "";
  for (const waggle::model::Span& s : batch.spans) {
    if (s.trace_id.IsZero() || s.span_id.IsZero()) std::abort();
    if (s.environment != options.environment || s.service.empty()) std::abort();
    if (s.dataset != dataset) std::abort();
    if (static_cast<int>(s.kind) > 5 || s.otel_status > 2 || s.sample_rate == 0) std::abort();
    if (s.in_progress || s.from_xray_document) std::abort();
    for (const waggle::model::Attribute& a : s.attributes) {
      if (a.key.empty()) std::abort();
    }
  }
}

void FuzzLogs(Encoding encoding, std::string_view body, const DecodeOptions& options) {
  waggle::model::LogBatch batch;
  Rejections rejected;
  const Status status = waggle::codec::otlp::DecodeLogs(encoding, body, options, &batch, &rejected);
  if (!status.ok()) {
    if (status.code() != Status::Code::kInvalidArgument || !batch.empty()) std::abort();
    return;
  }
  CheckRejections(rejected);
  for (const waggle::model::LogRecord& r : batch.records) {
    if (r.environment != options.environment || r.service.empty()) std::abort();
    if (r.time_ns == 0 && r.observed_ns != 0) std::abort();
    for (const waggle::model::Attribute& a : r.attributes) {
      if (a.key.empty()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const Encoding encoding = (mode & 1) != 0 ? Encoding::kJson : Encoding::kProtobuf;
  DecodeOptions options;
  options.environment = "fuzz";
  options.classic_key = (mode & 2) != 0;
  options.dataset_header = (mode & 4) != 0 ? "fuzz-dataset" : "";
  FuzzTraces(encoding, body, options);
  FuzzLogs(encoding, body, options);
  return 0;
}
