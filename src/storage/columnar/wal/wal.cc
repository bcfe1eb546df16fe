#include "storage/columnar/wal/wal.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "base/coding.h"
#include "base/crc32c.h"
#include "storage/columnar/wal/wal_format.h"

namespace waggle::storage::columnar {

namespace fmt = wal_format;

struct Wal::PendingAppend {
  WalRecordType type = WalRecordType::kTraceFragment;
  const std::vector<std::string_view>* payloads = nullptr;
  std::string_view prefix;
  std::vector<WalPosition>* positions = nullptr;
  bool sync = false;
  bool rotate = false;  // Rotate(): not grouped with appends
  bool done = false;
  Status status;
  CondVar cv;
};

namespace {

uint32_t RecordCrc(WalRecordType type, std::string_view prefix, std::string_view payload) {
  char t = static_cast<char>(type);
  const uint32_t head = crc32c::Extend(crc32c::Extend(0, &t, 1), prefix.data(), prefix.size());
  return crc32c::Mask(crc32c::Extend(head, payload.data(), payload.size()));
}

// After a failed fsync the kernel may have dropped the dirty pages it could not write, and a
// later fsync can succeed without them: what the log holds on disk is then unknown, so it takes
// no more appends (a restart replays what is there).
Status SyncFailed(const Status& s) {
  return s.Annotate("WAL sync failed; the log takes no more appends");
}

// A record whose payload is `prefix` then `payload`.
void AppendRecord(std::string* out, WalRecordType type, std::string_view prefix,
                  std::string_view payload) {
  coding::PutFixed32(out, RecordCrc(type, prefix, payload));
  coding::PutFixed32(out, static_cast<uint32_t>(prefix.size() + payload.size()));
  out->push_back(static_cast<char>(type));
  out->append(prefix);
  out->append(payload);
}

// Parses the record at `at`; false when it is not an intact record.
bool ParseRecord(std::string_view data, size_t at, WalRecordType* type, std::string_view* payload) {
  if (data.size() - at < fmt::kRecordHeaderSize) return false;
  uint32_t crc = coding::DecodeFixed32(data.data() + at);
  uint32_t length = coding::DecodeFixed32(data.data() + at + 4);
  if (length > fmt::kMaxRecordSize || data.size() - at - fmt::kRecordHeaderSize < length)
    return false;
  uint8_t t = static_cast<uint8_t>(data[at + 8]);
  if (t < static_cast<uint8_t>(WalRecordType::kTraceFragment) ||
      t > static_cast<uint8_t>(WalRecordType::kSpanSource)) {
    return false;
  }
  *type = static_cast<WalRecordType>(t);
  *payload = data.substr(at + fmt::kRecordHeaderSize, length);
  return RecordCrc(*type, {}, *payload) == crc;
}

bool ParseSegmentName(const std::string& name, uint32_t* number) {
  if (name.size() != 12 || name.substr(8) != ".wal") return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 8, *number);
  return ec == std::errc() && p == name.data() + 8;
}

}  // namespace

Status WalOptions::Validate() const {
  if (dir.empty()) return Status::InvalidArgument("wal dir is empty");
  if (env == nullptr) return Status::InvalidArgument("wal env is null");
  if (segment_bytes < 4096 || segment_bytes > (1ull << 31)) {
    return Status::InvalidArgument("wal segment_bytes must be between 4 KiB and 2 GiB");
  }
  return Status::Ok();
}

Wal::Wal(const WalOptions& options) : options_(options) {}
Wal::~Wal() {
  MutexLock lock(&mu_);
  if (file_) (void)file_->Close();
}

std::string Wal::SegmentPath(uint32_t number) const {
  char name[16];
  std::snprintf(name, sizeof(name), "%08u.wal", number);
  return options_.dir + "/" + name;
}

Status Wal::OpenSegment(uint32_t number) {
  // Records written to the current segment without a sync are synced before it is closed:
  // an append acknowledged as synced then implies every record before it is on disk, in
  // whichever segment. Open the new segment before letting go of the current one, so a
  // failure leaves the log writable where it was.
  if (file_ && unsynced_ && number != file_number_) {
    Status s = file_->Sync();
    if (!s.ok()) return broken_ = SyncFailed(s);
    unsynced_ = false;
  }
  WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> next,
                          options_.env->NewAppendableFile(SegmentPath(number)));
  if (next->Size() == 0) {
    std::string header(fmt::kMagic);
    coding::PutFixed32(&header, fmt::kVersion);
    coding::PutFixed32(&header, 0);
    Status s = next->Append(header);
    // The new file's directory entry must be durable before any record in it is
    // acknowledged as synced.
    if (s.ok()) s = options_.env->SyncDir(options_.dir);
    if (!s.ok()) {
      // Not left half made: the next try would find it not empty and write neither its
      // header nor its directory entry.
      (void)next->Close();
      (void)options_.env->RemoveFile(SegmentPath(number));
      return s;
    }
  }
  if (file_) (void)file_->Close();
  file_ = std::move(next);
  file_number_ = number;
  return Status::Ok();
}

Result<std::unique_ptr<Wal>> Wal::Open(const WalOptions& options, const ReplayFn& replay,
                                       WalRecoveryStats* stats) {
  WAGGLE_RETURN_IF_ERROR(options.Validate());
  Env* env = options.env;
  WAGGLE_RETURN_IF_ERROR(env->CreateDirs(options.dir));
  WAGGLE_RETURN_IF_ERROR(env->SyncDir(options.dir + "/.."));
  WAGGLE_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(options.dir));
  std::vector<uint32_t> numbers;
  for (const std::string& n : names) {
    uint32_t number;
    if (ParseSegmentName(n, &number)) numbers.push_back(number);
  }
  std::sort(numbers.begin(), numbers.end());

  std::unique_ptr<Wal> wal(new Wal(options));
  *stats = WalRecoveryStats{};
  std::string data;
  uint32_t last_version = fmt::kVersion;
  // Segments below first_segment hold only records kept elsewhere now: remove them.
  while (!numbers.empty() && numbers.front() < options.first_segment) {
    WAGGLE_RETURN_IF_ERROR(env->RemoveFile(wal->SegmentPath(numbers.front())));
    numbers.erase(numbers.begin());
  }
  for (size_t i = 0; i < numbers.size(); ++i) {
    const bool last = i + 1 == numbers.size();
    const std::string path = wal->SegmentPath(numbers[i]);
    WAGGLE_RETURN_IF_ERROR(env->ReadFile(path, &data));
    ++stats->files;
    if (data.size() < fmt::kFileHeaderSize) {
      // A segment whose header never made it to disk holds nothing.
      if (last) {
        stats->truncated_bytes += data.size();
        WAGGLE_RETURN_IF_ERROR(env->Truncate(path, 0));
      }
      continue;
    }
    if (std::string_view(data).substr(0, 8) != fmt::kMagic) {
      return Status::Corruption(path + " is not a waggle WAL segment");
    }
    uint32_t version = coding::DecodeFixed32(data.data() + 8);
    if (version == 0 || coding::DecodeFixed32(data.data() + 12) != 0) {
      return Status::Corruption(path + " has a damaged WAL segment header");
    }
    if (version > fmt::kVersion) {
      return Status::Unimplemented(path + " was written by a newer waggle (WAL format " +
                                   std::to_string(version) + ", this build reads up to " +
                                   std::to_string(fmt::kVersion) + ")");
    }
    if (last) last_version = version;
    size_t at = fmt::kFileHeaderSize;
    while (at < data.size()) {
      WalRecordType type;
      std::string_view payload;
      if (ParseRecord(data, at, &type, &payload)) {
        replay(WalPosition{numbers[i], static_cast<uint32_t>(at),
                           static_cast<uint32_t>(payload.size())},
               type, payload);
        ++stats->records;
        at += fmt::kRecordHeaderSize + payload.size();
        continue;
      }
      // Damage: look for the next intact record.
      size_t next = at + 1;
      while (next < data.size() && !ParseRecord(data, next, &type, &payload)) ++next;
      if (next >= data.size() && last) {
        stats->truncated_bytes += data.size() - at;  // a torn tail: the write never finished
        WAGGLE_RETURN_IF_ERROR(env->Truncate(path, at));
        break;
      }
      ++stats->corrupt_regions;
      stats->corrupt_bytes += next - at;
      at = next;
    }
  }
  MutexLock lock(&wal->mu_);
  // Never append records of this version to a segment headed with an older one (an older
  // build would read them as damage): start a new segment instead.
  const uint32_t next = numbers.empty() ? std::max<uint32_t>(1, options.first_segment)
                        : last_version < fmt::kVersion ? numbers.back() + 1
                                                       : numbers.back();
  // What an earlier process appended last may not be synced: the last segment counts as
  // unsynced, so the first synced append (in it) or the rotation away from it syncs it before
  // anything new is acknowledged.
  if (!numbers.empty()) {
    WAGGLE_RETURN_IF_ERROR(wal->OpenSegment(numbers.back()));
    wal->unsynced_ = true;
  }
  if (numbers.empty() || next != numbers.back()) WAGGLE_RETURN_IF_ERROR(wal->OpenSegment(next));
  return wal;
}

// Leader-based group commit (as in leveldb): the first queued append writes everything queued
// behind it with one write and at most one fsync, while the others wait.
Status Wal::Append(WalRecordType type, const std::vector<std::string_view>& payloads, bool sync,
                   std::vector<WalPosition>* positions,
                   std::string_view prefix) NO_THREAD_SAFETY_ANALYSIS {
  uint64_t total = 0;
  for (std::string_view p : payloads) {
    const uint64_t size = prefix.size() + p.size();
    if (size > fmt::kMaxRecordSize) return Status::InvalidArgument("WAL record too large");
    total += size + fmt::kRecordHeaderSize;
  }
  // Offsets are 32-bit: one append stays far below what a segment may hold.
  if (total > fmt::kMaxRecordSize * 4ull) return Status::InvalidArgument("WAL append too large");
  PendingAppend me;
  me.type = type;
  me.payloads = &payloads;
  me.prefix = prefix;
  me.positions = positions;
  me.sync = sync;
  mu_.Lock();
  queue_.push_back(&me);
  while (!me.done && queue_.front() != &me) me.cv.Wait(&mu_);
  if (me.done) {
    mu_.Unlock();
    return me.status;
  }
  // A rotation that cannot open the next segment keeps appending to the current one; one
  // whose sync fails breaks the log, and the group is refused.
  if (broken_.ok() && file_->Size() >= options_.segment_bytes) (void)OpenSegment(file_number_ + 1);
  if (!broken_.ok()) {
    Status s = broken_;
    queue_.pop_front();
    if (!queue_.empty()) queue_.front()->cv.Signal();
    mu_.Unlock();
    return s;
  }
  Status status;
  std::vector<PendingAppend*> group;
  bool group_sync = false;
  uint64_t start = file_->Size();
  if (start + fmt::kMaxRecordSize * 8ull > UINT32_MAX) {
    // Positions are 32-bit: a segment that could not rotate must not grow past that.
    Status rotated = OpenSegment(file_number_ + 1);
    if (!rotated.ok()) {
      queue_.pop_front();
      if (!queue_.empty()) queue_.front()->cv.Signal();
      mu_.Unlock();
      return rotated.Annotate("WAL segment full and cannot rotate");
    }
    start = file_->Size();
  }
  group_buffer_.clear();
  for (PendingAppend* p : queue_) {
    if (p->rotate) break;
    if (!group.empty() && group_buffer_.size() >= options_.max_group_bytes) break;
    group.push_back(p);
    group_sync |= p->sync;
    p->positions->clear();
    for (std::string_view payload : *p->payloads) {
      p->positions->push_back({file_number_, static_cast<uint32_t>(start + group_buffer_.size()),
                               static_cast<uint32_t>(p->prefix.size() + payload.size())});
      AppendRecord(&group_buffer_, p->type, p->prefix, payload);
    }
  }
  WritableFile* file = file_.get();
  mu_.Unlock();

  bool sync_failed = false;
  if (status.ok()) status = file->Append(group_buffer_);
  if (status.ok() && group_sync) {
    status = file->Sync();
    sync_failed = !status.ok();
  }

  mu_.Lock();
  if (sync_failed) {
    status = broken_ = SyncFailed(status);
  } else if (!status.ok()) {
    // Roll the segment back to where the group started so later records stay readable.
    // The segment is the one written: only the leader rotates, and it is this thread.
    Status undo = options_.env->Truncate(SegmentPath(file_number_), start);
    if (undo.ok()) undo = OpenSegment(file_number_);
    if (!undo.ok()) broken_ = status.Annotate("WAL unusable after a failed write");
  } else {
    bytes_written_ += group_buffer_.size();
    unsynced_ = !group_sync;
  }
  for (PendingAppend* p : group) {
    queue_.pop_front();
    p->status = status;
    p->done = true;
    if (p != &me) p->cv.Signal();
  }
  if (!queue_.empty()) queue_.front()->cv.Signal();
  mu_.Unlock();
  return status;
}

Result<std::shared_ptr<RandomAccessFile>> Wal::ReaderFor(uint32_t file) {
  MutexLock lock(&readers_mu_);
  auto it = readers_.find(file);
  if (it != readers_.end()) return it->second;
  WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> f,
                          options_.env->NewRandomAccessFile(SegmentPath(file)));
  std::shared_ptr<RandomAccessFile> shared(std::move(f));
  readers_[file] = shared;
  return shared;
}

Status Wal::Read(const WalPosition& position, std::string* payload) {
  WAGGLE_ASSIGN_OR_RETURN(std::shared_ptr<RandomAccessFile> file, ReaderFor(position.file));
  std::string buf;
  WAGGLE_RETURN_IF_ERROR(
      file->Read(position.offset, fmt::kRecordHeaderSize + position.length, &buf));
  WalRecordType type;
  std::string_view view;
  if (!ParseRecord(buf, 0, &type, &view) || view.size() != position.length) {
    return Status::Corruption("WAL record at " + SegmentPath(position.file) + ":" +
                              std::to_string(position.offset) + " fails its checksum");
  }
  payload->assign(view);
  return Status::Ok();
}

Result<uint32_t> Wal::Rotate() NO_THREAD_SAFETY_ANALYSIS {
  PendingAppend me;
  me.rotate = true;
  mu_.Lock();
  queue_.push_back(&me);
  // At the front of the queue no group write is in flight.
  while (queue_.front() != &me) me.cv.Wait(&mu_);
  Status s = broken_.ok() ? OpenSegment(file_number_ + 1) : broken_;
  const uint32_t number = file_number_;
  queue_.pop_front();
  if (!queue_.empty()) queue_.front()->cv.Signal();
  mu_.Unlock();
  if (!s.ok()) return s;
  return number;
}

Status Wal::RemoveSegmentsBelow(uint32_t number) {
  std::vector<uint32_t> doomed;
  {
    MutexLock lock(&mu_);
    if (number > file_number_) return Status::InvalidArgument("cannot remove the open segment");
  }
  WAGGLE_ASSIGN_OR_RETURN(std::vector<std::string> names, options_.env->ListDir(options_.dir));
  for (const std::string& n : names) {
    uint32_t v;
    if (ParseSegmentName(n, &v) && v < number) doomed.push_back(v);
  }
  {
    MutexLock lock(&readers_mu_);
    for (uint32_t v : doomed) readers_.erase(v);
  }
  for (uint32_t v : doomed) WAGGLE_RETURN_IF_ERROR(options_.env->RemoveFile(SegmentPath(v)));
  return Status::Ok();
}

uint32_t Wal::current_segment() const {
  MutexLock lock(&mu_);
  return file_number_;
}

uint64_t Wal::bytes_written() const {
  MutexLock lock(&mu_);
  return bytes_written_;
}

}  // namespace waggle::storage::columnar
