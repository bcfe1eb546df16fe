#pragma once

#include <string_view>

#include "codec/otlp/otlp.h"

// The two encodings' decoders behind DecodeTraces/DecodeLogs (otlp.h). On a refused body they
// may leave records appended; DecodeTraces/DecodeLogs take those back.
namespace waggle::codec::otlp {

Status DecodeTracesProto(std::string_view body, const DecodeOptions& options, model::SpanBatch* out,
                         Rejections* rejected);
Status DecodeLogsProto(std::string_view body, const DecodeOptions& options, model::LogBatch* out,
                       Rejections* rejected);
Status DecodeTracesJson(std::string_view body, const DecodeOptions& options, model::SpanBatch* out,
                        Rejections* rejected);
Status DecodeLogsJson(std::string_view body, const DecodeOptions& options, model::LogBatch* out,
                      Rejections* rejected);

// The logs dataset rule (spec/otlp.md §4.1): a usable service.name, else the dataset header,
// else unknown_log_source.
std::string LogsServiceFor(std::string_view service_name, std::string_view dataset_header);

}  // namespace waggle::codec::otlp
