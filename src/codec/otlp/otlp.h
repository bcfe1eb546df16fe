#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "model/log_record.h"
#include "model/span_batch.h"

// OTLP export requests (spec/otlp.md §5, §6) decoded straight into the span and log models,
// with Honeycomb's placement rules (spec/otlp.md §4): no generated message objects.
namespace waggle::codec::otlp {

enum class Encoding { kProtobuf, kJson };

// Where one request's records land.
struct DecodeOptions {
  std::string_view environment = "default";  // from the API key
  // The x-honeycomb-dataset header: the traces dataset with a classic key, and the logs
  // dataset when a resource has no usable service.name.
  std::string_view dataset_header;
  bool classic_key = false;
  // The most bytes the decode may copy from the request (environment, dataset), resources and
  // scopes into the records under them: each record carries its own copy, so a small body
  // naming a large resource (or sent with a large dataset header) over many records would
  // decode to many times its size. Counted as those strings' sizes, each copied attribute as
  // its key and text plus sizeof(model::Attribute). Past it the body is refused whole with
  // ResourceExhausted.
  size_t max_context_bytes = SIZE_MAX;
  // Each resource's and scope's attributes go to the batch's `contexts` once, for the spans
  // under them to share (Span::context), instead of into every span. Spans so decoded equal
  // those decoded without it once the batch is Materialize()d. The server always sets it; the
  // copying decode is what tests, fuzzers and otlp_decode_bench hold the shared one to.
  bool shared_context = false;
  // The text of attributes (keys and string and bytes values) that is well-formed UTF-8 is
  // borrowed from `body`, not copied (model::Text::Borrow): the caller keeps the body for as
  // long as it reads the batch, and Recycle()s the batch (or lets it go) before the body goes.
  // The server sets it, and the store's replay of logged requests. The JSON decoder copies
  // all the same: its text is unescaped.
  bool borrow_text = false;
};

// What a decode refused one by one (spans or log records with bad ids), for the response's
// partial_success.
struct Rejections {
  uint64_t count = 0;
  std::string message;  // the first reason; empty when count is 0
  // Bytes of strings that were not UTF-8, and (JSON) escapes of lone surrogates, stored as
  // U+FFFD: the records holding them are kept.
  uint64_t text_repairs = 0;
  void Add(std::string_view reason);
};

// Decodes an ExportTraceServiceRequest (or TracesData) and appends its valid spans to `out`.
// A span with a bad trace or span id is refused alone and counted in `rejected`. A body that
// is not a message of that type returns InvalidArgument, and one past
// options.max_context_bytes ResourceExhausted; either leaves `out` as it was.
Status DecodeTraces(Encoding encoding, std::string_view body, const DecodeOptions& options,
                    model::SpanBatch* out, Rejections* rejected);

// The same for an ExportLogsServiceRequest (or LogsData). Records with a malformed trace or
// span id are refused alone; records naming none are kept.
Status DecodeLogs(Encoding encoding, std::string_view body, const DecodeOptions& options,
                  model::LogBatch* out, Rejections* rejected);

enum class Signal { kTraces, kLogs, kMetrics };

// An Export<Signal>ServiceResponse: empty (partial_success unset) when nothing was refused.
std::string EncodeExportResponse(Encoding encoding, Signal signal, uint64_t rejected,
                                 std::string_view message);

// A google.rpc.Status {code, message}: the body of every OTLP/HTTP error.
std::string EncodeStatus(Encoding encoding, int grpc_code, std::string_view message);

// Honeycomb's classic key test (spec/otlp.md §4.1): 32 lowercase hex, or 64 characters of the
// form hc?ic_...
bool IsClassicKey(std::string_view key);

// The dataset for a resource's service.name: trimmed, and "unknown_service" when absent, blank
// or starting with unknown_service.
std::string DatasetForService(std::string_view service_name);

}  // namespace waggle::codec::otlp
