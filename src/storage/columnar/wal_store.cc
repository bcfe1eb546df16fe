#include "storage/columnar/wal_store.h"

#include <algorithm>

#include "base/clock.h"
#include "base/hex.h"
#include "storage/columnar/trace_pages.h"
#include "storage/log_data.h"

namespace waggle::storage::columnar {

Status WalStoreOptions::Validate() const {
  if (dir.empty()) return Status::InvalidArgument("store dir is empty");
  if (env == nullptr) return Status::InvalidArgument("store env is null");
  return Status::Ok();
}

Result<std::unique_ptr<WalStore>> WalStore::Open(const WalStoreOptions& options) {
  WAGGLE_RETURN_IF_ERROR(options.Validate());
  WAGGLE_RETURN_IF_ERROR(options.env->CreateDirs(options.dir));
  std::unique_ptr<WalStore> store(new WalStore());
  store->decoder_ = options.document_decoder;
  store->max_trace_bytes_ = options.max_trace_bytes;
  WAGGLE_ASSIGN_OR_RETURN(store->lock_, options.env->LockFile(options.dir + "/LOCK"));

  WalOptions wal_options;
  wal_options.dir = options.dir + "/wal";
  wal_options.env = options.env;
  wal_options.segment_bytes = options.wal_segment_bytes;
  WalStore* s = store.get();
  auto replay = [s](const WalPosition& pos, WalRecordType type,
                    std::string_view payload) NO_THREAD_SAFETY_ANALYSIS {
    if (type == WalRecordType::kLogGroup) {
      model::TraceId trace_id;
      if (!DecodeLogGroupTraceId(payload, &trace_id).ok()) {
        ++s->recovery_.corrupt_regions;
        return;
      }
      ++s->log_groups_;
      if (!trace_id.IsZero()) s->logs_[trace_id].push_back(pos);
      return;
    }
    FragmentHeader header;
    if (type != WalRecordType::kTraceFragment || !DecodeFragmentHeader(payload, &header).ok()) {
      ++s->recovery_.corrupt_regions;  // checksummed but undecodable: written by a bug
      return;
    }
    s->IndexFragment(header, pos);
  };
  WalRecoveryStats stats;
  WAGGLE_ASSIGN_OR_RETURN(store->wal_, Wal::Open(wal_options, replay, &stats));
  uint64_t undecodable = store->recovery_.corrupt_regions;
  store->recovery_ = stats;
  store->recovery_.corrupt_regions += undecodable;
  return store;
}

WalStore::~WalStore() = default;

uint32_t* WalStore::Slot(const model::TraceId& id) {
  const size_t mask = table_.size() - 1;
  for (size_t i = model::TraceIdHash()(id) & mask;; i = (i + 1) & mask) {
    uint32_t v = table_[i];
    if (v == 0 || traces_[v - 1].id == id) return &table_[i];
  }
}

void WalStore::GrowTable() {
  std::vector<uint32_t> old = std::move(table_);
  table_.assign(std::max<size_t>(1024, old.size() * 2), 0);
  for (uint32_t v : old) {
    if (v != 0) *Slot(traces_[v - 1].id) = v;
  }
}

void WalStore::IndexFragment(const FragmentHeader& header, const WalPosition& position) {
  ++fragments_;
  if ((traces_.size() + 1) * 2 > table_.size()) GrowTable();
  uint32_t* slot = Slot(header.trace_id);
  const bool has_spans = header.max_end_ns >= header.min_start_ns && header.max_end_ns != 0;
  if (*slot == 0) {
    traces_.push_back({header.trace_id, has_spans ? header.min_start_ns : INT64_MAX,
                       has_spans ? header.max_end_ns : INT64_MIN, position, kNone});
    *slot = static_cast<uint32_t>(traces_.size());
    return;
  }
  TraceEntry& e = traces_[*slot - 1];
  if (has_spans) {
    e.min_start_ns = std::min(e.min_start_ns, header.min_start_ns);
    e.max_end_ns = std::max(e.max_end_ns, header.max_end_ns);
  }
  if (e.more == kNone) {
    e.more = static_cast<uint32_t>(more_positions_.size());
    more_positions_.emplace_back();
  }
  more_positions_[e.more].push_back(position);
}

Status WalStore::Write(const model::SpanBatch& batch, Durability durability) {
  if (batch.empty()) return Status::Ok();
  std::vector<BatchFragment> fragments = SplitByTrace(batch);
  const std::vector<std::string> encoded =
      EncodeFragments(fragments, batch.spans_from_documents && decoder_ != nullptr);
  std::vector<WalPosition> positions;
  WAGGLE_RETURN_IF_ERROR(wal_->Append(WalRecordType::kTraceFragment,
                                      {encoded.begin(), encoded.end()},
                                      durability == Durability::kSync, &positions));
  MutexLock lock(&mu_);
  for (size_t i = 0; i < fragments.size(); ++i) IndexFragment(fragments[i].header, positions[i]);
  return Status::Ok();
}

Result<TraceData> WalStore::FetchTrace(const model::TraceId& id) {
  std::vector<WalPosition> positions;
  {
    MutexLock lock(&mu_);
    if (table_.empty()) return Status::NotFound("trace " + id.ToXRay() + " not found");
    uint32_t v = *Slot(id);
    if (v == 0) return Status::NotFound("trace " + id.ToXRay() + " not found");
    const TraceEntry& e = traces_[v - 1];
    positions.push_back(e.first);
    if (e.more != kNone) {
      const auto& more = more_positions_[e.more];
      positions.insert(positions.end(), more.begin(), more.end());
    }
  }
  // Log order is arrival order, whatever order concurrent writers indexed in.
  std::sort(positions.begin(), positions.end());
  TraceData data;
  data.id = id;
  std::string payload;
  uint64_t bytes = 0;
  for (const WalPosition& p : positions) {
    bytes += p.length;
    if (bytes > max_trace_bytes_) {
      data.limit_exceeded = true;
      break;
    }
    WAGGLE_RETURN_IF_ERROR(wal_->Read(p, &payload));
    WAGGLE_RETURN_IF_ERROR(DecodeFragment(payload, decoder_, &data));
  }
  Deduplicate(&data);
  return data;
}

Result<FindTracesResult> WalStore::FindTraces(const FindTracesRequest& request) {
  MutexLock lock(&mu_);
  return SelectTraces(request, [this](const auto& emit) NO_THREAD_SAFETY_ANALYSIS {
    for (size_t i = 0; i < traces_.size(); ++i) {
      const TraceEntry& e = traces_[i];
      // Entries are appended in order of first arrival.
      emit(TracePart{e.id, e.min_start_ns, e.max_end_ns, static_cast<int64_t>(i)});
    }
  });
}

Status WalStore::WriteLogs(const model::LogBatch& batch, Durability durability) {
  if (batch.empty()) return Status::Ok();
  const std::vector<LogGroup> groups = EncodeLogGroups(batch);
  std::vector<std::string_view> payloads;
  for (const LogGroup& g : groups) payloads.push_back(g.encoded);
  std::vector<WalPosition> positions;
  WAGGLE_RETURN_IF_ERROR(wal_->Append(WalRecordType::kLogGroup, payloads,
                                      durability == Durability::kSync, &positions));
  MutexLock lock(&mu_);
  log_groups_ += groups.size();
  for (size_t i = 0; i < groups.size(); ++i) {
    if (!groups[i].trace_id.IsZero()) logs_[groups[i].trace_id].push_back(positions[i]);
  }
  return Status::Ok();
}

Result<std::vector<model::LogRecord>> WalStore::FetchLogs(const model::TraceId& id) {
  std::vector<WalPosition> positions;
  {
    MutexLock lock(&mu_);
    auto it = logs_.find(id);
    if (it != logs_.end()) positions = it->second;
  }
  std::sort(positions.begin(), positions.end());
  std::vector<model::LogRecord> records;
  std::string payload;
  for (const WalPosition& p : positions) {
    WAGGLE_RETURN_IF_ERROR(wal_->Read(p, &payload));
    WAGGLE_RETURN_IF_ERROR(DecodeLogGroup(payload, &records));
  }
  return records;
}

WalStore::Stats WalStore::stats() const {
  Stats s;
  s.recovery = recovery_;
  s.wal_bytes = wal_->bytes_written();
  MutexLock lock(&mu_);
  s.traces = traces_.size();
  s.fragments = fragments_;
  s.log_groups = log_groups_;
  return s;
}

}  // namespace waggle::storage::columnar
