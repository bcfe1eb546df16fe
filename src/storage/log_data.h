#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "model/log_record.h"

// Log records as the write-ahead log keeps them: one encoded group per trace (or one group of
// records naming no trace) per write. docs/wal-format.md describes the bytes.
namespace waggle::storage {

// Appends the encoding of `records`, which all name `trace_id` (zero for none).
void EncodeLogGroup(const model::TraceId& trace_id,
                    const std::vector<const model::LogRecord*>& records, std::string* out);
// The records of a batch by the trace they name (zero for none), one group per trace in
// order of first appearance, each encoded with EncodeLogGroup.
struct LogGroup {
  model::TraceId trace_id;
  std::string encoded;
};
std::vector<LogGroup> EncodeLogGroups(const model::LogBatch& batch);
// Decodes only the trace id of a group.
Status DecodeLogGroupTraceId(std::string_view in, model::TraceId* trace_id);
// Decodes a group and appends its records to `out`.
Status DecodeLogGroup(std::string_view in, std::vector<model::LogRecord>* out);

}  // namespace waggle::storage
