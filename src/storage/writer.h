#pragma once

#include "base/status.h"
#include "model/log_record.h"
#include "model/span_batch.h"

namespace waggle::storage {

enum class Durability {
  kSync,      // durable on disk (fsync) before Write returns: what API acknowledgements need
  kBuffered,  // handed to the operating system before Write returns: survives a crash of the
              // process (kill -9) but not of the machine; what UDP ingest uses by default
};

// Persists span batches. Thread-safe: Write() may be called from any thread.
class Writer {
 public:
  virtual ~Writer() = default;

  // Returns OK once every span and document in `batch` is stored with `durability`, and
  // readable by the Reader (a trace is searchable the moment its write is acknowledged).
  // A later document with the same (trace id, document id) replaces an earlier in-progress
  // one; a complete document is never replaced by an in-progress one.
  // Returns ResourceExhausted when the store is over its budget: the caller sheds load.
  virtual Status Write(const model::SpanBatch& batch, Durability durability) = 0;

  // Returns OK once every log record in `batch` is stored with `durability`; records that name
  // a trace are readable with it at once (Reader::FetchLogs). Unimplemented by stores that
  // keep no logs.
  virtual Status WriteLogs(const model::LogBatch& batch, Durability durability) {
    return Status::Unimplemented("this store keeps no logs");
  }
};

}  // namespace waggle::storage
