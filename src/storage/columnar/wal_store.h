#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/mutex.h"
#include "storage/columnar/wal/wal.h"
#include "storage/reader.h"
#include "storage/writer.h"

namespace waggle::storage::columnar {

struct WalStoreOptions {
  std::string dir;            // the store's directory (the WAL lives in dir/wal)
  Env* env = Env::Default();  // the file-system seam
  uint64_t wal_segment_bytes = 64ull << 20;
  // FetchTrace returns at most this many bytes of a trace's log records (the first ones);
  // beyond it the trace is cut and marked limit_exceeded.
  uint64_t max_trace_bytes = 16ull << 20;
  // When set, batches whose spans came from documents are logged as documents alone and the
  // spans derived again on read (about half the bytes for X-Ray). Must outlive the store.
  const DocumentDecoder* document_decoder = nullptr;

  Status Validate() const;
};

// The interim store: every span is in the write-ahead log, and an in-memory index maps each
// trace to the log records holding it (about 50 bytes a trace). Reads fetch and decode those
// records. The columnar engine replaces it behind the same Writer/Reader interfaces.
// Thread-safe.
class WalStore : public Writer, public Reader {
 public:
  struct Stats {
    uint64_t traces = 0;
    uint64_t fragments = 0;
    uint64_t log_groups = 0;
    WalRecoveryStats recovery;
    uint64_t wal_bytes = 0;
  };

  // Opens the store in options.dir, rebuilding the index from the log (which is read once).
  static Result<std::unique_ptr<WalStore>> Open(const WalStoreOptions& options);
  ~WalStore() override;

  Status Write(const model::SpanBatch& batch, Durability durability) override;
  Result<TraceData> FetchTrace(const model::TraceId& id) override;
  Result<FindTracesResult> FindTraces(const FindTracesRequest& request) override;
  Status WriteLogs(const model::LogBatch& batch, Durability durability) override;
  Result<std::vector<model::LogRecord>> FetchLogs(const model::TraceId& id) override;

  Stats stats() const;

 private:
  struct TraceEntry {
    model::TraceId id;
    int64_t min_start_ns;
    int64_t max_end_ns;
    WalPosition first;
    uint32_t more;  // index into more_positions_, or kNone
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  // Entries in fixed chunks: growing never copies them (no stall, no 1.5x peak).
  class TraceEntries {
   public:
    size_t size() const { return size_; }
    TraceEntry& operator[](size_t i) { return chunks_[i >> kShift][i & kMask]; }
    const TraceEntry& operator[](size_t i) const { return chunks_[i >> kShift][i & kMask]; }
    void push_back(const TraceEntry& e) {
      if ((size_ >> kShift) == chunks_.size()) chunks_.emplace_back(new TraceEntry[kMask + 1]);
      (*this)[size_++] = e;
    }

   private:
    static constexpr size_t kShift = 16;
    static constexpr size_t kMask = (size_t{1} << kShift) - 1;
    std::vector<std::unique_ptr<TraceEntry[]>> chunks_;
    size_t size_ = 0;
  };

  WalStore() = default;
  void IndexFragment(const FragmentHeader& header, const WalPosition& position) REQUIRES(mu_);
  uint32_t* Slot(const model::TraceId& id) REQUIRES(mu_);
  void GrowTable() REQUIRES(mu_);

  const DocumentDecoder* decoder_ = nullptr;
  uint64_t max_trace_bytes_ = 0;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Wal> wal_;
  WalRecoveryStats recovery_;

  mutable Mutex mu_;
  TraceEntries traces_ GUARDED_BY(mu_);
  std::vector<std::vector<WalPosition>> more_positions_ GUARDED_BY(mu_);
  // Open addressing over traces_: slot holds index + 1, 0 when empty.
  std::vector<uint32_t> table_ GUARDED_BY(mu_);
  uint64_t fragments_ GUARDED_BY(mu_) = 0;
  // Log groups by the trace they name (groups naming none are kept but not indexed).
  std::unordered_map<model::TraceId, std::vector<WalPosition>, model::TraceIdHash> logs_
      GUARDED_BY(mu_);
  uint64_t log_groups_ GUARDED_BY(mu_) = 0;
};

}  // namespace waggle::storage::columnar
