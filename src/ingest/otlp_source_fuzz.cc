// Fuzzes OtlpSourceDecoder, which reads OTLP requests back from the write-ahead log, and checks
// what replay relies on: a refused source is Corruption (a damaged header) or InvalidArgument
// (a body that no longer decodes) and adds no span; a source it accepts decodes into the same
// spans as EncodeOtlpSource's encoding of what it names (lengths may come as overlong
// varints), and every span carries the environment and dataset the source names.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/otlp_ingest.h"
#include "storage/trace_data.h"

namespace {

// The batch as the WAL would encode it (each span with its shared context's attributes): spans
// compare equal by their bytes, a NaN attribute value included (NaN != NaN).
std::string Encoded(const waggle::model::SpanBatch& batch) {
  for (const waggle::model::Span& s : batch.spans) {
    if (s.context != waggle::model::kNoContext && s.context >= batch.contexts.size()) std::abort();
  }
  std::string out;
  std::vector<std::string_view> views;
  waggle::storage::EncodeFragments(waggle::storage::SplitByTrace(batch), false, &out, &views);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  waggle::model::SpanBatch batch;
  const waggle::Status status = waggle::ingest::OtlpSourceDecoder().DecodeSource(source, &batch);
  if (!status.ok()) {
    if (status.code() != waggle::Status::Code::kCorruption &&
        status.code() != waggle::Status::Code::kInvalidArgument) {
      std::abort();
    }
    if (!batch.empty()) std::abort();
    return 0;
  }
  // Accepted: the header parses, and its fields and the body encoded again decode the same.
  waggle::codec::otlp::DecodeOptions options;
  std::string_view body;
  if (!waggle::ingest::ParseOtlpSource(source, &options, &body).ok()) std::abort();
  waggle::model::SpanBatch again;
  const std::string encoded = waggle::ingest::EncodeOtlpSource(options, body);
  if (!waggle::ingest::OtlpSourceDecoder().DecodeSource(encoded, &again).ok() ||
      Encoded(again) != Encoded(batch)) {
    std::abort();
  }
  const std::string_view dataset = options.classic_key ? options.dataset_header : "";
  for (const waggle::model::Span& s : batch.spans) {
    if (s.environment != options.environment || s.dataset != dataset) std::abort();
    if (s.trace_id.IsZero() || s.span_id.IsZero()) std::abort();
  }
  return 0;
}
