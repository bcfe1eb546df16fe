#include "storage/columnar/engine.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <span>
#include <tuple>
#include <unordered_set>

#include "base/hex.h"
#include "base/log.h"
#include "model/ids.h"
#include "storage/columnar/head_traces.h"
#include "storage/columnar/table_scan.h"
#include "storage/columnar/trace_pages.h"
#include "storage/columnar/wal/wal_format.h"
#include "storage/log_data.h"

namespace waggle::storage::columnar {
namespace {

constexpr size_t kMaxSealedHeads = 2;  // writers wait while this many await their block
constexpr size_t kKeptEncodeBufferBytes = 4 << 20;  // a writing thread's WAL encoding buffer
constexpr size_t kKeptBlockBufferBytes = 32 << 20;  // a maintenance thread's block file buffer
constexpr size_t kSliceSpans = 128;     // spans (or documents) per WAL append of a batch
constexpr uint64_t kBytesPerSpan = 64;  // what a span counts against max_trace_bytes

int64_t ArrivalOf(const WalPosition& p) {
  return static_cast<int64_t>(uint64_t{p.file} << 32 | p.offset);
}

// Marks the rows that an X-Ray-style replacement superseded: per trace and span id, a later
// version replaces an earlier one, except that a complete one is never replaced by an
// in-progress one (storage::Deduplicate's rule, over rows in arrival order).
std::vector<bool> SupersededRows(const SpanTable& t, const HeadTraces& traces) {
  std::vector<bool> dropped(t.size(), false);
  const auto& in_progress = t.ints_of(IntField::kInProgress);
  model::BySpanId<uint32_t> kept;
  for (const HeadTraces::Trace& trace : traces.all()) {
    if (trace.first_row == trace.last_row) continue;  // none or one: nothing superseded
    kept.clear();
    for (uint32_t r = trace.first_row; r != HeadTraces::kNone; r = traces.NextRow(r)) {
      auto [it, inserted] = kept.try_emplace(t.span_ids[r].value, r);
      if (inserted) continue;
      if (in_progress[it->second] == 0 && in_progress[r] != 0) {
        dropped[r] = true;  // a complete version stays
      } else {
        dropped[it->second] = true;
        it->second = r;
      }
    }
  }
  return dropped;
}

// The rows of `t` a block stores: all but the superseded, in block order.
std::vector<uint32_t> RowsToStore(const SpanTable& t, const HeadTraces& traces) {
  const std::vector<bool> dropped = SupersededRows(t, traces);
  return traces.RowsByTraceAndStart(t.ints_of(IntField::kStartNs), &dropped);
}

// Trace i of `traces` as a block's trace table holds it.
block::TraceEntry EntryOf(const HeadTraces& traces, size_t i) {
  const HeadTraces::Trace& t = traces.all()[i];
  return {traces.id(i), t.min_start_ns, t.max_end_ns, static_cast<uint64_t>(t.arrival)};
}

}  // namespace

bool ParseBlockName(std::string_view name, uint64_t* id) {
  // "%016" PRIx64 ".blk": lowercase, as BlockPath writes it.
  if (name.size() != 20 || !name.ends_with(".blk")) return false;
  const std::string_view digits = name.substr(0, 16);
  return std::none_of(digits.begin(), digits.end(), [](char c) { return c >= 'A' && c <= 'F'; }) &&
         hex::ParseU64(digits, id);
}

struct Engine::Head {
  mutable Mutex mu;
  SpanTable spans GUARDED_BY(mu);
  HeadTraces traces GUARDED_BY(mu);                     // the traces of `spans`' rows
  std::vector<std::string> orphan_logs GUARDED_BY(mu);  // groups naming no trace
  uint64_t other_bytes GUARDED_BY(mu) = 0;              // documents and logs
  int64_t first_write_ns GUARDED_BY(mu) = 0;
  int64_t logs_arrived_ns GUARDED_BY(mu) = 0;  // when the newest log group came
  uint32_t wal_end = 0;  // set when sealed: its records are in WAL segments below this

  bool empty() const REQUIRES(mu) { return traces.empty() && orphan_logs.empty(); }
  uint64_t bytes() const REQUIRES(mu) { return spans.memory_bytes() + other_bytes; }
  // Whether it is to be sealed: full, or old enough.
  bool Due(const EngineOptions& options) const REQUIRES(mu) {
    return !empty() &&
           (spans.size() >= options.head_max_rows || bytes() >= options.head_max_bytes ||
            options.clock->NowNanos() - first_write_ns >= options.head_max_age_ns);
  }
};

struct Engine::BlockEntry {
  uint64_t id = 0;
  std::shared_ptr<block::Block> block;
  Mutex mu;
  std::shared_ptr<const std::vector<block::TraceEntry>> traces GUARDED_BY(mu);  // read lazily
};

Status EngineOptions::Validate() const {
  if (dir.empty()) return Status::InvalidArgument("store dir is empty");
  if (env == nullptr || clock == nullptr) return Status::InvalidArgument("store env is null");
  if (head_max_rows == 0 || compact_trigger < 2) {
    return Status::InvalidArgument("head_max_rows must be > 0 and compact_trigger >= 2");
  }
  return Status::Ok();
}

Engine::Engine(const EngineOptions& options) : options_(options) {}

std::string Engine::BlockPath(uint64_t id) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%016" PRIx64 ".blk", id);
  return options_.dir + "/blocks/" + name;
}

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  WAGGLE_RETURN_IF_ERROR(options.Validate());
  WAGGLE_RETURN_IF_ERROR(options.env->CreateDirs(options.dir + "/blocks"));
  std::unique_ptr<Engine> engine(new Engine(options));
  WAGGLE_ASSIGN_OR_RETURN(engine->lock_, options.env->LockFile(options.dir + "/LOCK"));
  WAGGLE_RETURN_IF_ERROR(engine->Recover());
  if (options.background)
    engine->background_ = std::thread([e = engine.get()] { e->BackgroundLoop(); });
  return engine;
}

Status Engine::Recover() NO_THREAD_SAFETY_ANALYSIS {
  Env* env = options_.env;
  const std::string blocks_dir = options_.dir + "/blocks";
  WAGGLE_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(blocks_dir));
  std::vector<std::shared_ptr<BlockEntry>> found;
  for (const std::string& name : names) {
    uint64_t id;
    std::string_view base = name;
    const bool tmp = base.ends_with(".tmp");
    // A block set aside keeps its id taken, so that no later block is set aside over it.
    const bool aside = base.ends_with(".damaged");
    if (tmp || aside) base = base.substr(0, base.rfind('.'));
    if (!ParseBlockName(base, &id)) continue;
    if (tmp) {
      // A block write that a crash cut short: never renamed into place, so never relied on;
      // its spans are still in the WAL.
      WAGGLE_RETURN_IF_ERROR(env->RemoveFile(blocks_dir + "/" + name));
      log::Info("removed {}, a block write cut short", name);
      continue;
    }
    next_block_id_ = std::max(next_block_id_, id + 1);
    if (aside) continue;
    auto block = block::Block::Open(env, BlockPath(id), options_.map_blocks);
    if (block.status().code() == Status::Code::kUnimplemented) return block.status();
    if (!block.ok()) {
      // Nothing in it can be found. It is counted and reported, and everything else opens.
      // A damaged block (its footer fails its checks) is set aside under a name no start reads
      // again, kept for a person to look at; one that failed otherwise (an I/O error) is tried
      // again at the next start.
      ++corrupt_blocks_;
      if (block.status().code() != Status::Code::kCorruption) {
        log::Error("skipping block: {}", block.status().ToString());
        continue;
      }
      const std::string damaged = BlockPath(id) + ".damaged";
      log::Error("setting block aside as {}: {}", damaged, block.status().ToString());
      // A directory that refuses the rename only means the block is tried again next start.
      Status moved = env->RenameFile(BlockPath(id), damaged);
      if (moved.ok()) moved = env->SyncDir(blocks_dir);
      if (!moved.ok()) log::Error("could not set block aside: {}", moved.ToString());
      continue;
    }
    auto entry = std::make_shared<BlockEntry>();
    entry->id = id;
    entry->block = std::move(*block);
    found.push_back(std::move(entry));
  }
  // A compaction that crashed before removing its inputs left them behind: remove them now.
  std::unordered_set<uint64_t> replaced;
  for (const auto& e : found) {
    for (uint64_t r : e->block->meta().replaces) replaced.insert(r);
  }
  uint32_t wal_end = 0;
  for (auto& e : found) {
    if (replaced.count(e->id)) {
      WAGGLE_RETURN_IF_ERROR(env->RemoveFile(BlockPath(e->id)));
      continue;
    }
    wal_end = std::max<uint32_t>(wal_end, static_cast<uint32_t>(e->block->meta().wal_end));
    blocks_.push_back(e);
  }
  std::sort(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) {
    return std::tuple(a->block->meta().wal_end, a->id) <
           std::tuple(b->block->meta().wal_end, b->id);
  });

  head_ = std::make_shared<Head>();
  Head* head = head_.get();
  uint64_t undecodable = 0;
  uint64_t no_decoder = 0;  // records that need a decoder this store was not given
  auto replay = [&](const WalPosition& pos, WalRecordType type,
                    std::string_view payload) NO_THREAD_SAFETY_ANALYSIS {
    if (type == WalRecordType::kSpanSource) {
      if (options_.source_decoder == nullptr) {
        ++no_decoder;
        return;
      }
      model::SpanBatch batch;
      if (!options_.source_decoder->DecodeSource(payload, &batch).ok() ||
          !batch.documents.empty()) {
        ++undecodable;
        return;
      }
      InsertAll(head, batch, SplitByTrace(batch), ArrivalOf(pos));
      return;
    }
    if (type == WalRecordType::kLogGroup) {
      model::TraceId trace_id;
      if (!DecodeLogGroupTraceId(payload, &trace_id).ok()) {
        ++undecodable;
        return;
      }
      InsertLogGroup(head, trace_id, std::string(payload), ArrivalOf(pos));
      return;
    }
    FragmentHeader header;
    if (!DecodeFragmentHeader(payload, &header).ok()) {
      ++undecodable;
      return;
    }
    TraceData data;
    data.id = header.trace_id;
    const Status decoded = DecodeFragment(payload, options_.document_decoder, &data);
    if (decoded.code() == Status::Code::kUnimplemented) {
      ++no_decoder;  // documents alone, and no DocumentDecoder
      return;
    }
    if (!decoded.ok()) {
      ++undecodable;  // checksummed but undecodable: written by a bug
      return;
    }
    std::vector<const model::Span*> spans;
    std::vector<const model::Document*> documents;
    for (const auto& s : data.spans) spans.push_back(&s);
    for (const auto& d : data.documents) documents.push_back(&d);
    Insert(head, data.id, spans, documents, ArrivalOf(pos));
  };
  WalOptions wal_options;
  wal_options.dir = options_.dir + "/wal";
  wal_options.env = env;
  wal_options.segment_bytes = options_.wal_segment_bytes;
  wal_options.first_segment = wal_end;
  WAGGLE_ASSIGN_OR_RETURN(wal_, Wal::Open(wal_options, replay, &recovery_));
  if (no_decoder != 0) {
    // Going on would drop them from the head, and from the log once it is sealed.
    return Status::InvalidArgument(
        std::to_string(no_decoder) +
        " WAL records hold requests or documents whose spans only a decoder can give, and "
        "the store was opened without one");
  }
  recovery_.corrupt_regions += undecodable;
  return Status::Ok();
}

Engine::~Engine() {
  if (background_.joinable()) {
    {
      std::lock_guard<std::mutex> l(bg_mu_);
      stop_ = true;
    }
    bg_cv_.notify_all();
    backpressure_cv_.notify_all();
    background_.join();
    // A clean stop leaves the head in a block, so the next start replays nothing.
    Status s = SealHead(NextHead::kEmpty);
    if (s.ok()) s = Maintain();
    if (!s.ok()) log::Warn("could not write the head at shutdown: {}", s.ToString());
  }
}

void Engine::Insert(Head* head, const model::TraceId& id,
                    const std::vector<const model::Span*>& spans,
                    const std::vector<const model::Document*>& documents, int64_t arrival,
                    ContextResolver* contexts) NO_THREAD_SAFETY_ANALYSIS {
  if (head->first_write_ns == 0) head->first_write_ns = options_.clock->NowNanos();
  HeadTraces::Trace& t = head->traces.FindOrAdd(id);
  t.arrival = std::min(t.arrival, arrival);
  for (const model::Span* s : spans) {
    head->traces.AddRow(&t, static_cast<uint32_t>(head->spans.size()));
    head->spans.Append(*s, contexts != nullptr ? contexts->For(*s) : nullptr);
    t.min_start_ns = std::min(t.min_start_ns, s->start_ns);
    t.max_end_ns = std::max({t.max_end_ns, s->start_ns, s->end_ns});
  }
  for (const model::Document* d : documents) {
    t.documents.push_back(*d);
    head->other_bytes += d->json.size() + sizeof(model::Document);
  }
}

void Engine::InsertAll(Head* head, const model::SpanBatch& batch,
                       std::span<const BatchFragment> fragments,
                       int64_t arrival) NO_THREAD_SAFETY_ANALYSIS {
  ContextResolver contexts(batch.contexts, &head->spans);
  for (const BatchFragment& f : fragments) {
    Insert(head, f.header.trace_id, f.spans, f.documents, arrival, &contexts);
  }
}

void Engine::InsertLogGroup(Head* head, const model::TraceId& id, std::string payload,
                            int64_t arrival) NO_THREAD_SAFETY_ANALYSIS {
  if (head->first_write_ns == 0) head->first_write_ns = options_.clock->NowNanos();
  head->other_bytes += payload.size() + 32;
  head->logs_arrived_ns = std::max(head->logs_arrived_ns, options_.clock->NowNanos());
  if (id.IsZero()) {
    head->orphan_logs.push_back(std::move(payload));
    return;
  }
  HeadTraces::Trace& t = head->traces.FindOrAdd(id);
  t.arrival = std::min(t.arrival, arrival);
  t.logs.push_back(std::move(payload));
}

void Engine::WaitForRoom() {
  if (options_.background && sealed_count_.load() >= kMaxSealedHeads) {
    // Blocks are being written more slowly than the head fills: wait for one.
    std::unique_lock<std::mutex> l(bg_mu_);
    backpressure_cv_.wait_for(l, std::chrono::seconds(30),
                              [this] { return stop_ || sealed_count_.load() < kMaxSealedHeads; });
  }
}

Status Engine::Append(WalRecordType type, const std::vector<std::string_view>& payloads,
                      Durability durability, const InsertFn& insert, std::string_view prefix) {
  {
    // Shared: a seal waits until the record is both in the WAL and in the head.
    std::shared_lock<std::shared_mutex> seal(seal_mu_);
    thread_local std::vector<WalPosition> positions;  // kept for the thread's next append
    WAGGLE_RETURN_IF_ERROR(
        wal_->Append(type, payloads, durability == Durability::kSync, &positions, prefix));
    std::shared_ptr<Head> head;
    {
      MutexLock lock(&mu_);
      head = head_;
    }
    MutexLock lock(&head->mu);
    insert(head.get(), positions);
  }
  SealIfDue();
  return Status::Ok();
}

Status Engine::Write(const model::SpanBatch& batch, Durability durability) {
  if (batch.empty()) return Status::Ok();
  const std::vector<BatchFragment> fragments = SplitByTrace(batch);
  WaitForRoom();  // once a write, not once a slice
  const size_t source_size = batch.source_header.size() + batch.source.size();
  if (source_size != 0 && batch.documents.empty() && options_.source_decoder != nullptr &&
      source_size <= wal_format::kMaxRecordSize) {
    // The request goes to the log as it came, one record, with no encoding of its spans; they
    // go to the head, and on replay the decoder derives them from the record again.
    return Append(
        WalRecordType::kSpanSource, {batch.source}, durability,
        [&](Head* head, const std::vector<WalPosition>& positions) {
          InsertAll(head, batch, fragments, ArrivalOf(positions[0]));
        },
        batch.source_header);
  }
  const bool documents_only = batch.spans_from_documents && options_.document_decoder != nullptr;
  // Each writing thread keeps its buffer for the next batch, unless a huge one grew it.
  thread_local std::string buffer;
  std::vector<std::string_view> encoded;
  // The batch goes to the log and the head a slice of fragments at a time. Each span is read
  // twice, to encode it and to insert it, and a slice is small enough that its spans are
  // still in cache the second time. Only the last slice asks for the sync: the log syncs
  // in order (a rotation syncs the segment it closes), so that one sync makes the whole
  // batch durable. A failure leaves the earlier slices written, as a retry may write again.
  Status s;
  for (size_t begin = 0; begin < fragments.size() && s.ok();) {
    size_t end = begin;
    for (size_t items = 0; end < fragments.size() && items < kSliceSpans; ++end) {
      items += fragments[end].spans.size() + fragments[end].documents.size();
    }
    const std::span<const BatchFragment> slice(fragments.data() + begin, end - begin);
    EncodeFragments(slice, documents_only, &buffer, &encoded);
    const bool last = end == fragments.size();
    s = Append(WalRecordType::kTraceFragment, encoded, last ? durability : Durability::kBuffered,
               [&](Head* head, const std::vector<WalPosition>& positions) {
                 ContextResolver contexts(batch.contexts, &head->spans);
                 for (size_t i = 0; i < slice.size(); ++i) {
                   Insert(head, slice[i].header.trace_id, slice[i].spans, slice[i].documents,
                          ArrivalOf(positions[i]), &contexts);
                 }
               });
    begin = end;
  }
  if (buffer.capacity() > kKeptEncodeBufferBytes) std::string().swap(buffer);
  return s;
}

Status Engine::WriteLogs(const model::LogBatch& batch, Durability durability) {
  if (batch.empty()) return Status::Ok();
  std::vector<LogGroup> groups = EncodeLogGroups(batch);
  std::vector<std::string_view> payloads;
  for (const LogGroup& g : groups) payloads.push_back(g.encoded);
  WaitForRoom();
  return Append(WalRecordType::kLogGroup, payloads, durability,
                [&](Head* head, const std::vector<WalPosition>& positions) {
                  for (size_t i = 0; i < groups.size(); ++i) {
                    InsertLogGroup(head, groups[i].trace_id, std::move(groups[i].encoded),
                                   ArrivalOf(positions[i]));
                  }
                });
}

void Engine::SealIfDue() {
  bool due;
  {
    MutexLock lock(&mu_);
    MutexLock head_lock(&head_->mu);
    due = head_->Due(options_);
  }
  if (!due) return;
  Status s = Seal(NextHead::kSizedLikeLast, /*only_if_due=*/true);
  if (!s.ok()) log::Warn("could not seal the head: {}", s.ToString());
}

Status Engine::SealHead(NextHead next_head) { return Seal(next_head, /*only_if_due=*/false); }

Status Engine::Seal(NextHead next_head, bool only_if_due) {
  std::unique_lock<std::shared_mutex> seal(seal_mu_);  // writers wait; head_ stays this one
  std::shared_ptr<Head> last;
  {
    MutexLock lock(&mu_);
    MutexLock head_lock(&head_->mu);
    // Writers that found the head due together each come here: the first seals it, and the
    // others find the next head, which is not due.
    if (head_->empty() || (only_if_due && !head_->Due(options_))) return Status::Ok();
    last = head_;
  }
  WAGGLE_ASSIGN_OR_RETURN(uint32_t wal_end, wal_->Rotate());
  // The next head is sized like the last one (SpanTable::ReserveLike) before mu_ is taken, so
  // readers do not wait on its allocations.
  auto next = std::make_shared<Head>();
  if (next_head == NextHead::kSizedLikeLast) {
    std::unique_ptr<SpanTable> spare;
    {
      MutexLock lock(&mu_);
      spare = std::move(spare_spans_);
    }
    MutexLock last_lock(&last->mu);
    MutexLock next_lock(&next->mu);
    if (spare != nullptr) {
      next->spans = std::move(*spare);
    } else {
      next->spans.ReserveLike(last->spans);
    }
    next->traces.Reserve(last->traces.size(), last->spans.size());
  }
  {
    MutexLock lock(&mu_);
    head_->wal_end = wal_end;
    sealed_.push_back(std::move(head_));
    head_ = std::move(next);
    sealed_count_ = sealed_.size();
  }
  bg_cv_.notify_all();
  return Status::Ok();
}

Result<std::shared_ptr<Engine::BlockEntry>> Engine::WriteBlockFile(
    const block::BlockContents& contents) {
  auto entry = std::make_shared<BlockEntry>();
  {
    MutexLock lock(&mu_);
    entry->id = next_block_id_++;
  }
  const std::string path = BlockPath(entry->id);
  // Kept for the thread's next block, unless a large compaction grew it: a new buffer for each
  // block faulted its pages in, and its growth copied it.
  thread_local std::string file;
  block::EncodeBlock(contents, options_.block_options, &file);
  const Status written = options_.env->WriteFileAtomic(path, file);
  if (file.capacity() > kKeptBlockBufferBytes) std::string().swap(file);
  WAGGLE_RETURN_IF_ERROR(written);
  WAGGLE_ASSIGN_OR_RETURN(entry->block,
                          block::Block::Open(options_.env, path, options_.map_blocks));
  return entry;
}

Status Engine::FlushOne(std::shared_ptr<Head> head) NO_THREAD_SAFETY_ANALYSIS {
  // A sealed head no longer changes.
  block::BlockContents contents;
  contents.spans = &head->spans;
  contents.wal_end = head->wal_end;
  contents.logs_arrived_ns = head->logs_arrived_ns;
  for (size_t i = 0; i < head->traces.size(); ++i) {
    const HeadTraces::Trace& t = head->traces.all()[i];
    const model::TraceId& id = head->traces.id(i);
    contents.traces.push_back(EntryOf(head->traces, i));
    if (!t.documents.empty()) {
      TraceData docs;
      docs.id = id;
      docs.documents = t.documents;
      Deduplicate(&docs);
      std::vector<const model::Document*> ptrs;
      for (const auto& d : docs.documents) ptrs.push_back(&d);
      block::TraceRecord& r = contents.documents.emplace_back();
      r.id = id;
      EncodeFragment({id, 0, 0}, {}, ptrs, false, &r.payload);
    }
    for (const std::string& l : t.logs) contents.logs.push_back({id, l});
  }
  for (const std::string& l : head->orphan_logs) contents.logs.push_back({model::TraceId{}, l});
  const std::vector<uint32_t> rows = RowsToStore(head->spans, head->traces);
  contents.rows = &rows;

  WAGGLE_ASSIGN_OR_RETURN(std::shared_ptr<BlockEntry> entry, WriteBlockFile(contents));
  {
    MutexLock lock(&mu_);
    blocks_.push_back(std::move(entry));
    sealed_.erase(std::find(sealed_.begin(), sealed_.end(), head));
    sealed_count_ = sealed_.size();
    ++flushes_;
  }
  backpressure_cv_.notify_all();
  // The head's columns are kept for the next head, when no reader still holds it: no copy can
  // be taken any more, and its lock orders this after the last reader's use. A new head's
  // columns fault every page in as they fill: keeping them gave about 6% more spans per CPU
  // second under otlp_ingest_bench (docs/architecture.md, "Memory").
  if (head.use_count() == 1) {
    std::unique_ptr<SpanTable> spare;
    {
      MutexLock head_lock(&head->mu);
      head->spans.Clear();
      spare = std::make_unique<SpanTable>(std::move(head->spans));
    }
    MutexLock lock(&mu_);
    spare_spans_ = std::move(spare);
  }
  return wal_->RemoveSegmentsBelow(head->wal_end);
}

Status Engine::Maintain() {
  MutexLock maintain(&maintain_mu_);
  for (;;) {
    std::shared_ptr<Head> oldest;
    {
      MutexLock lock(&mu_);
      if (sealed_.empty()) break;
      oldest = sealed_.front();
    }
    WAGGLE_RETURN_IF_ERROR(FlushOne(std::move(oldest)));
  }
  WAGGLE_RETURN_IF_ERROR(Compact());
  return Retire();
}

Status Engine::Compact() {
  // The first run of consecutive small blocks, when enough have gathered.
  std::vector<std::shared_ptr<BlockEntry>> run;
  {
    MutexLock lock(&mu_);
    // A head sealed by size makes a block big enough as it is (about 160k spans of the
    // workload): merging those costs CPU for almost no bytes (docs/architecture.md). What is
    // merged are the blocks of heads sealed by age, at low rates.
    const size_t small = std::max<size_t>(1, options_.compact_max_rows / 8);
    size_t rows = 0;
    for (const auto& e : blocks_) {
      const uint64_t r = e->block->meta().rows;
      if (r >= small || rows + r > options_.compact_max_rows) {
        if (run.size() >= options_.compact_trigger) break;
        run.clear();
        rows = 0;
        if (r >= small) continue;
      }
      run.push_back(e);
      rows += r;
    }
    if (run.size() < options_.compact_trigger) return Status::Ok();
  }
  SpanTable merged;
  HeadTraces merged_traces;  // the merged rows' traces, as a head keeps them
  block::BlockContents contents;
  for (const auto& e : run) {
    const block::Block& b = *e->block;
    for (size_t g = 0; g < b.meta().row_groups.size(); ++g) {
      WAGGLE_RETURN_IF_ERROR(b.ReadRowGroup(g, &merged));
    }
    std::vector<block::TraceEntry> traces;
    WAGGLE_RETURN_IF_ERROR(b.ReadTraces(&traces));
    for (const block::TraceEntry& t : traces) {
      HeadTraces::Trace& m = merged_traces.FindOrAdd(t.id);
      m.min_start_ns = std::min(m.min_start_ns, t.min_start_ns);
      m.max_end_ns = std::max(m.max_end_ns, t.max_end_ns);
      m.arrival = std::min(m.arrival, static_cast<int64_t>(t.seq));
    }
    WAGGLE_RETURN_IF_ERROR(b.ReadDocuments(&contents.documents));
    WAGGLE_RETURN_IF_ERROR(b.ReadLogs(&contents.logs));
    if (!b.meta().log_pages.empty()) {
      // The newest its logs can be: the block's time range covers their arrival.
      contents.logs_arrived_ns = std::max(contents.logs_arrived_ns, b.meta().max_end_ns);
    }
    contents.wal_end = std::max(contents.wal_end, b.meta().wal_end);
    contents.level = std::max(contents.level, b.meta().level + 1);
    contents.replaces.push_back(e->id);
  }
  merged_traces.AddRows(merged.trace_ids);
  for (size_t i = 0; i < merged_traces.size(); ++i)
    contents.traces.push_back(EntryOf(merged_traces, i));
  const std::vector<uint32_t> rows = RowsToStore(merged, merged_traces);
  contents.spans = &merged;
  contents.rows = &rows;
  WAGGLE_ASSIGN_OR_RETURN(std::shared_ptr<BlockEntry> entry, WriteBlockFile(contents));
  {
    MutexLock lock(&mu_);
    auto first = std::find(blocks_.begin(), blocks_.end(), run.front());
    auto last = std::find(blocks_.begin(), blocks_.end(), run.back());
    *first = std::move(entry);
    blocks_.erase(first + 1, last + 1);
    ++compactions_;
  }
  for (const auto& e : run) WAGGLE_RETURN_IF_ERROR(options_.env->RemoveFile(BlockPath(e->id)));
  return Status::Ok();
}

Status Engine::Retire() {
  std::vector<std::shared_ptr<BlockEntry>> doomed;
  {
    MutexLock lock(&mu_);
    const int64_t now = options_.clock->NowNanos();
    auto too_old = [&](const std::shared_ptr<BlockEntry>& e) {
      return options_.retention_ns > 0 && e->block->meta().max_end_ns < now - options_.retention_ns;
    };
    for (const auto& e : blocks_) {
      if (too_old(e)) doomed.push_back(e);
    }
    std::erase_if(blocks_, too_old);
    if (options_.max_disk_bytes > 0) {
      uint64_t total = 0;
      for (const auto& e : blocks_) total += e->block->meta().file_bytes;
      while (total > options_.max_disk_bytes && !blocks_.empty()) {
        // The block whose newest span is oldest goes first.
        auto oldest =
            std::min_element(blocks_.begin(), blocks_.end(), [](const auto& a, const auto& b) {
              return a->block->meta().max_end_ns < b->block->meta().max_end_ns;
            });
        total -= (*oldest)->block->meta().file_bytes;
        doomed.push_back(*oldest);
        blocks_.erase(oldest);
      }
    }
    retired_ += doomed.size();
  }
  // Readers holding a block keep its open file; the name goes now.
  for (const auto& e : doomed) WAGGLE_RETURN_IF_ERROR(options_.env->RemoveFile(BlockPath(e->id)));
  return Status::Ok();
}

void Engine::BackgroundLoop() {
  std::unique_lock<std::mutex> l(bg_mu_);
  while (!stop_) {
    bg_cv_.wait_for(l, std::chrono::seconds(1));
    if (stop_) break;
    l.unlock();
    SealIfDue();
    Status s = Maintain();
    if (!s.ok()) log::Error("store maintenance failed: {}", s.ToString());
    l.lock();
  }
}

Engine::Parts Engine::Snapshot() const {
  MutexLock lock(&mu_);
  Parts parts{blocks_, sealed_};
  parts.heads.push_back(head_);
  return parts;
}

Result<TraceData> Engine::FetchTrace(const model::TraceId& id) {
  return std::move(FetchTraces({id}, FetchOptions{})[0]);
}

std::vector<Result<TraceData>> Engine::FetchTraces(const std::vector<model::TraceId>& ids,
                                                   const FetchOptions& options) {
  const Parts parts = Snapshot();
  // The distinct ids in order, each with where its data goes.
  std::vector<TraceData> data(ids.size());
  std::vector<Status> failed(ids.size());  // a read that failed, per trace
  std::vector<block::WantedTrace> sorted;
  sorted.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    data[i].id = ids[i];
    sorted.push_back({ids[i], &data[i], &failed[i]});
  }
  // Stable, so that of an id asked twice the first place is kept.
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const block::WantedTrace& a, const block::WantedTrace& b) { return a.id < b.id; });
  sorted.erase(std::unique(sorted.begin(), sorted.end(),
                           [](const block::WantedTrace& a, const block::WantedTrace& b) {
                             return a.id == b.id;
                           }),
               sorted.end());
  std::vector<block::WantedTrace> in_block;
  for (const auto& e : parts.blocks) {
    in_block.clear();
    for (const block::WantedTrace& w : sorted) {
      if (e->block->MayContainTrace(w.id)) in_block.push_back(w);
    }
    if (in_block.empty()) continue;
    e->block->FetchTraces(in_block, options);
  }
  for (const auto& h : parts.heads) {
    MutexLock lock(&h->mu);
    // Only the columns asked for are built, as blocks read only those.
    std::vector<uint8_t> wanted;
    if (!options.all_attributes) wanted = h->spans.WantedColumns(options);
    for (const block::WantedTrace& w : sorted) {
      const HeadTraces::Trace* t = h->traces.Find(w.id);
      if (t == nullptr) continue;
      for (uint32_t r = t->first_row; r != HeadTraces::kNone; r = h->traces.NextRow(r)) {
        h->spans.FillRow(r, &w.out->spans.emplace_back(),
                         options.all_attributes ? nullptr : &wanted);
      }
      w.out->documents.insert(w.out->documents.end(), t->documents.begin(), t->documents.end());
    }
  }
  std::vector<Result<TraceData>> results;
  results.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    // An id asked for twice: its data went to its first place.
    const block::WantedTrace& w = *std::lower_bound(
        sorted.begin(), sorted.end(), ids[i],
        [](const block::WantedTrace& x, const model::TraceId& id) { return x.id < id; });
    const size_t at = static_cast<size_t>(w.out - data.data());
    if (!failed[at].ok()) {
      results.push_back(failed[at]);
      continue;
    }
    if (at != i) {
      results.push_back(results[at]);
      continue;
    }
    results.push_back(Finish(std::move(data[i])));
  }
  return results;
}

Result<TraceData> Engine::Finish(TraceData data) const {
  if (data.spans.empty() && data.documents.empty()) {
    return Status::NotFound("trace " + data.id.ToXRay() + " not found");
  }
  // The first arrivals, up to the byte budget.
  uint64_t budget = options_.max_trace_bytes;
  size_t docs = 0;
  for (; docs < data.documents.size(); ++docs) {
    const uint64_t cost = data.documents[docs].json.size() + kBytesPerSpan;
    if (cost > budget) break;
    budget -= cost;
  }
  const size_t spans = std::min<size_t>(data.spans.size(), budget / kBytesPerSpan);
  if (docs < data.documents.size() || spans < data.spans.size()) {
    data.documents.resize(docs);
    data.spans.resize(spans);
    data.limit_exceeded = true;
  }
  Deduplicate(&data);
  return data;
}

std::shared_ptr<const std::vector<block::TraceEntry>> Engine::TracesOf(BlockEntry* entry) {
  MutexLock lock(&entry->mu);
  if (!entry->traces) {
    auto traces = std::make_shared<std::vector<block::TraceEntry>>();
    Status s = entry->block->ReadTraces(traces.get());
    if (!s.ok()) {
      // None of it, not the pages read before the damage: searches by time skip the block's
      // traces alike (docs/block-format.md, "Damage").
      log::Error("trace table unreadable: {}", s.ToString());
      traces->clear();
    }
    entry->traces = std::move(traces);
  }
  return entry->traces;
}

Result<FindTracesResult> Engine::FindTraces(const FindTracesRequest& request) {
  const Parts parts = Snapshot();
  const auto& blocks = parts.blocks;
  const auto& heads = parts.heads;
  // By trace-id time, the ids in the range are one run of each block's sorted trace table.
  const bool by_id = request.key == TraceTimeKey::kTraceIdTime;
  model::TraceId first, last;
  if (by_id && !TraceIdTimeBounds(request.start_ns, request.end_ns, &first, &last)) {
    first = model::TraceId::Max();  // no id: an empty run
    last = model::TraceId{};
  }
  return SelectTraces(request, [&](const auto& emit) NO_THREAD_SAFETY_ANALYSIS {
    for (const auto& e : blocks) {
      const block::BlockMeta& m = e->block->meta();
      if (!by_id && (m.min_start_ns >= request.end_ns || m.max_end_ns < request.start_ns)) {
        continue;
      }
      const auto traces = TracesOf(e.get());
      auto it = traces->begin(), end = traces->end();
      if (by_id) {
        auto less = [](const block::TraceEntry& t, const model::TraceId& id) { return t.id < id; };
        it = std::lower_bound(traces->begin(), traces->end(), first, less);
        end = std::upper_bound(
            it, traces->end(), last,
            [](const model::TraceId& id, const block::TraceEntry& t) { return id < t.id; });
      }
      auto emit_entry = [&](const block::TraceEntry& t) {
        emit(TracePart{t.id, t.min_start_ns, t.max_end_ns, static_cast<int64_t>(t.seq)});
      };
      if (request.only != nullptr && request.only->size() < static_cast<size_t>(end - it)) {
        // Fewer candidates than entries: look each candidate up.
        for (const model::TraceId& id : *request.only) {
          auto at = std::lower_bound(
              it, end, id,
              [](const block::TraceEntry& t, const model::TraceId& v) { return t.id < v; });
          if (at != end && at->id == id) emit_entry(*at);
        }
        continue;
      }
      for (; it < end; ++it) emit_entry(*it);
    }
    for (const auto& h : heads) {
      MutexLock lock(&h->mu);
      for (size_t i = 0; i < h->traces.size(); ++i) {
        const HeadTraces::Trace& t = h->traces.all()[i];
        emit(TracePart{h->traces.id(i), t.min_start_ns, t.max_end_ns, t.arrival});
      }
    }
  });
}

Result<std::vector<model::LogRecord>> Engine::FetchLogs(const model::TraceId& id) {
  const Parts parts = Snapshot();
  const auto& blocks = parts.blocks;
  const auto& heads = parts.heads;
  std::vector<model::LogRecord> records;
  if (id.IsZero()) return records;
  for (const auto& e : blocks) WAGGLE_RETURN_IF_ERROR(e->block->FetchLogs(id, &records));
  for (const auto& h : heads) {
    MutexLock lock(&h->mu);
    const HeadTraces::Trace* t = h->traces.Find(id);
    if (t == nullptr) continue;
    for (const std::string& p : t->logs) WAGGLE_RETURN_IF_ERROR(DecodeLogGroup(p, &records));
  }
  return records;
}

Result<ScanStats> Engine::Scan(const ScanRequest& request, const BatchFn& consume) {
  WAGGLE_RETURN_IF_ERROR(request.Validate());
  const Parts parts = Snapshot();
  const ScanPlan plan(request);
  ScanStats stats;
  bool stopped = false;
  for (const auto& e : parts.blocks) {
    WAGGLE_RETURN_IF_ERROR(e->block->Scan(plan, consume, &stats, &stopped));
    if (stopped) return stats;
  }
  // Heads, a slice at a time: the batch is built under the head's lock and handed over after
  // it (its strings live in the head's dictionaries, which only grow).
  constexpr size_t kSliceRows = 8192;
  TableScanner scanner(plan);
  column::ColumnBatch batch;
  for (const auto& h : parts.heads) {
    for (size_t lo = 0;; lo += kSliceRows) {
      bool selected;
      {
        MutexLock lock(&h->mu);
        const size_t n = h->spans.size();
        if (lo >= n) break;
        selected = scanner.Scan(h->spans, lo, std::min(n, lo + kSliceRows), &batch, &stats);
      }
      if (selected && !consume(batch)) return stats;
    }
  }
  return stats;
}

Result<std::vector<ColumnRef>> Engine::ListColumns(int64_t start_ns, int64_t end_ns) {
  const Parts parts = Snapshot();
  std::vector<ColumnRef> columns;
  for (const auto& e : parts.blocks) {
    const block::BlockMeta& m = e->block->meta();
    if (m.rows > 0 && (m.min_start_ns >= end_ns || m.max_end_ns < start_ns)) continue;
    e->block->ListColumns(&columns);
  }
  for (const auto& h : parts.heads) {
    MutexLock lock(&h->mu);
    for (const AttributeColumn& a : h->spans.attributes) {
      columns.push_back(ColumnRef::Attribute(a.key, a.role, a.type));
    }
  }
  auto less = [](const ColumnRef& a, const ColumnRef& b) {
    return std::tie(a.key, a.role, a.type) < std::tie(b.key, b.role, b.type);
  };
  std::sort(columns.begin(), columns.end(), less);
  columns.erase(std::unique(columns.begin(), columns.end()), columns.end());
  return columns;
}

Engine::Stats Engine::stats() const {
  Stats s;
  s.recovery = recovery_;
  s.wal_bytes = wal_->bytes_written();
  MutexLock lock(&mu_);
  {
    MutexLock head_lock(&head_->mu);
    s.head_rows = head_->spans.size();
    s.head_traces = head_->traces.size();
  }
  s.traces = s.head_traces;
  for (const auto& h : sealed_) {
    MutexLock head_lock(&h->mu);
    s.traces += h->traces.size();
  }
  s.sealed_heads = sealed_.size();
  s.blocks = blocks_.size();
  for (const auto& e : blocks_) {
    s.block_rows += e->block->meta().rows;
    s.traces += e->block->meta().traces;
    s.block_bytes += e->block->meta().file_bytes;
  }
  s.flushes = flushes_;
  s.compactions = compactions_;
  s.blocks_retired = retired_;
  s.corrupt_blocks = corrupt_blocks_;
  return s;
}

}  // namespace waggle::storage::columnar
