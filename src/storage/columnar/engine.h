#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/mutex.h"
#include "storage/columnar/block/block.h"
#include "storage/columnar/span_table.h"
#include "storage/columnar/wal/wal.h"
#include "storage/reader.h"
#include "storage/trace_data.h"
#include "storage/writer.h"

// The embedded columnar engine (DESIGN.md §6): a write-ahead log, a head of recent spans in
// column form, and immutable blocks that the head is flushed into, compacted and retired.
namespace waggle::storage::columnar {

// A block file's name ("%016x.blk", lower-case hex) -> its id; false for any other name.
bool ParseBlockName(std::string_view name, uint64_t* id);

struct EngineOptions {
  std::string dir;               // the store's directory: dir/wal, dir/blocks
  Env* env = Env::Default();     // the file-system seam
  Clock* clock = Clock::Real();  // for head age and retention
  uint64_t wal_segment_bytes = 64ull << 20;
  // FetchTrace returns about this many bytes of a trace (documents plus ~64 bytes a span),
  // the first arrivals; beyond it the trace is cut and marked limit_exceeded.
  uint64_t max_trace_bytes = 16ull << 20;
  // When set, X-Ray batches are logged as documents alone and re-derived on replay.
  const DocumentDecoder* document_decoder = nullptr;
  // When set, a batch with a source (model::SpanBatch::source) is logged as that source, one
  // record for the whole batch, and its spans re-derived on replay.
  const SourceDecoder* source_decoder = nullptr;

  // The head is sealed into a block past either size, or when its oldest write is this old.
  size_t head_max_rows = 1 << 20;
  size_t head_max_bytes = 64ull << 20;
  int64_t head_max_age_ns = 300ll * 1'000'000'000;
  // Blocks under compact_max_rows / 8 spans are merged once a run of this many has gathered,
  // into blocks of at most compact_max_rows.
  size_t compact_trigger = 4;
  size_t compact_max_rows = 1 << 19;  // bounds the memory a merge takes
  // Retention: blocks whose newest span is older than this go (0: keep forever); when the
  // blocks take more than max_disk_bytes, the oldest go first (0: no cap).
  int64_t retention_ns = 0;
  uint64_t max_disk_bytes = 0;
  block::WriteOptions block_options;
  // Map blocks into memory too (Env::NewMappedFile): scans use uncompressed chunks in place,
  // with no copy, each checked against its checksum on its first read only; other reads use
  // pread. Off: every read is a pread, checked every time, and a damaged or truncated file can
  // never raise SIGBUS.
  bool map_blocks = true;
  // Flush, compact and retire in a background thread. Tests turn it off and call
  // SealHead()/Maintain() themselves.
  bool background = true;

  Status Validate() const;
};

// Thread-safe.
class Engine : public Writer, public Reader {
 public:
  struct Stats {
    uint64_t traces = 0;  // in the head and in blocks (a trace in two blocks counts twice)
    uint64_t head_rows = 0;
    uint64_t head_traces = 0;
    uint64_t sealed_heads = 0;  // waiting to be written as blocks
    uint64_t blocks = 0;
    uint64_t block_rows = 0;
    uint64_t block_bytes = 0;
    uint64_t flushes = 0;
    uint64_t compactions = 0;
    uint64_t blocks_retired = 0;
    uint64_t corrupt_blocks = 0;  // failed to open at start (damaged ones set aside)
    WalRecoveryStats recovery;
    uint64_t wal_bytes = 0;
  };

  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine() override;

  Status Write(const model::SpanBatch& batch, Durability durability) override;
  Status WriteLogs(const model::LogBatch& batch, Durability durability) override;
  Result<TraceData> FetchTrace(const model::TraceId& id) override;
  std::vector<Result<TraceData>> FetchTraces(const std::vector<model::TraceId>& ids,
                                             const FetchOptions& options) override;
  Result<FindTracesResult> FindTraces(const FindTracesRequest& request) override;
  Result<std::vector<model::LogRecord>> FetchLogs(const model::TraceId& id) override;
  Result<ScanStats> Scan(const ScanRequest& request, const BatchFn& consume) override;
  Result<std::vector<ColumnRef>> ListColumns(int64_t start_ns, int64_t end_ns) override;

  // What follows a sealed head: one reserved like it (SpanTable::ReserveLike), as heads of a
  // steady load fill alike; or an empty one, when none will be filled (shutdown).
  enum class NextHead { kSizedLikeLast, kEmpty };
  // Seals the head (whatever its size) so the next Maintain() writes it as a block.
  Status SealHead(NextHead next_head = NextHead::kSizedLikeLast);
  // Writes sealed heads as blocks, compacts, applies retention. Called by the background
  // thread; callable directly when options.background is false.
  Status Maintain();

  Stats stats() const;

 private:
  struct Head;
  struct BlockEntry;
  struct State;

  // What a read looks at, oldest first: the blocks, then the sealed heads and the head.
  struct Parts {
    std::vector<std::shared_ptr<BlockEntry>> blocks;
    std::vector<std::shared_ptr<Head>> heads;
  };

  explicit Engine(const EngineOptions& options);
  Parts Snapshot() const;
  Status Recover();
  // `contexts` resolves the spans' shared contexts: null when they have none.
  void Insert(Head* head, const model::TraceId& id, const std::vector<const model::Span*>& spans,
              const std::vector<const model::Document*>& documents, int64_t arrival,
              ContextResolver* contexts = nullptr);
  // Inserts every fragment of `batch`, logged as one record (a span source), with its arrival.
  void InsertAll(Head* head, const model::SpanBatch& batch,
                 std::span<const BatchFragment> fragments, int64_t arrival);
  void InsertLogGroup(Head* head, const model::TraceId& id, std::string payload, int64_t arrival);
  // While kMaxSealedHeads heads wait for their blocks, waits (up to 30 s) for one to be
  // written: what a write does before its first append.
  void WaitForRoom();
  // Appends `payloads` (each after `prefix`, Wal::Append) to the WAL and, under the same shared
  // seal lock, calls `insert` with the head (locked) and the records' positions; then seals the
  // head when it is due.
  using InsertFn = std::function<void(Head*, const std::vector<WalPosition>&)>;
  Status Append(WalRecordType type, const std::vector<std::string_view>& payloads,
                Durability durability, const InsertFn& insert, std::string_view prefix = {});
  void SealIfDue();
  // SealHead, or when `only_if_due`, seals the head only if it is still due once writers wait.
  Status Seal(NextHead next_head, bool only_if_due);
  Status FlushOne(std::shared_ptr<Head> head);
  Status Compact();
  Status Retire();
  // Writes a block file with a new id and opens it.
  Result<std::shared_ptr<BlockEntry>> WriteBlockFile(const block::BlockContents& contents);
  std::shared_ptr<const std::vector<block::TraceEntry>> TracesOf(BlockEntry* entry);
  // A fetched trace (its attributes already projected) as readers get it: NotFound when
  // nothing of it is stored, else cut to the byte budget and deduplicated.
  Result<TraceData> Finish(TraceData data) const;
  void BackgroundLoop();
  std::string BlockPath(uint64_t id) const;

  const EngineOptions options_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Wal> wal_;
  WalRecoveryStats recovery_;

  // Writers hold it shared across "append to the WAL, insert into the head"; sealing the head
  // holds it exclusively, so every record of a sealed head is in segments below its wal_end.
  std::shared_mutex seal_mu_;

  mutable Mutex mu_;
  std::shared_ptr<Head> head_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Head>> sealed_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<BlockEntry>> blocks_ GUARDED_BY(mu_);  // by id
  uint64_t next_block_id_ GUARDED_BY(mu_) = 1;
  uint64_t flushes_ GUARDED_BY(mu_) = 0;
  uint64_t compactions_ GUARDED_BY(mu_) = 0;
  uint64_t retired_ GUARDED_BY(mu_) = 0;
  uint64_t corrupt_blocks_ GUARDED_BY(mu_) = 0;
  // The last flushed head's span table, emptied (SpanTable::Clear), for the next head.
  std::unique_ptr<SpanTable> spare_spans_ GUARDED_BY(mu_);
  Mutex maintain_mu_;  // one Maintain() at a time

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::condition_variable backpressure_cv_;
  std::atomic<size_t> sealed_count_{0};
  bool stop_ = false;
  std::thread background_;
};

}  // namespace waggle::storage::columnar
