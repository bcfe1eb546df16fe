#include "storage/columnar/wal/wal.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>

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

// The CRC of a record of `type` whose payload is `prefix` then `payload`, in a segment numbered
// `segment` (null: a segment before version 4, whose records do not name their segment).
uint32_t RecordCrc(WalRecordType type, const uint32_t* segment, std::string_view prefix,
                   std::string_view payload) {
  char head[5] = {static_cast<char>(type)};
  if (segment != nullptr) std::memcpy(head + 1, segment, 4);  // fixed32: little-endian hosts
  const uint32_t crc = crc32c::Extend(crc32c::Extend(0, head, segment != nullptr ? 5 : 1),
                                      prefix.data(), prefix.size());
  return crc32c::Mask(crc32c::Extend(crc, payload.data(), payload.size()));
}

// The format version in the header of the segment `file` (at `path`).
Result<uint32_t> SegmentVersion(const RandomAccessFile& file, const std::string& path) {
  std::string header;
  WAGGLE_RETURN_IF_ERROR(file.Read(0, fmt::kFileHeaderSize, &header));
  if (header.size() != fmt::kFileHeaderSize || !header.starts_with(fmt::kMagic)) {
    return Status::Corruption(path + " has a damaged WAL segment header");
  }
  return coding::DecodeFixed32(header.data() + 8);
}

size_t RecordHeaderSize(uint32_t version) {
  return version >= 4 ? fmt::kRecordHeaderSize : fmt::kRecordHeaderSizeV3;
}

// After a failed fsync the kernel may have dropped the dirty pages it could not write, and a
// later fsync can succeed without them: what the log holds on disk is then unknown, so it takes
// no more appends (a restart replays what is there).
Status SyncFailed(const Status& s) {
  return s.Annotate("WAL sync failed; the log takes no more appends");
}

// The bytes of a record of segment `segment`, whose payload is `prefix` then `payload`, that
// come before `payload`: the header, then `prefix`.
void AppendRecordHead(std::string* out, WalRecordType type, uint32_t segment,
                      std::string_view prefix, std::string_view payload) {
  coding::PutFixed32(out, RecordCrc(type, &segment, prefix, payload));
  coding::PutFixed32(out, static_cast<uint32_t>(prefix.size() + payload.size()));
  out->push_back(static_cast<char>(type));
  coding::PutFixed32(out, segment);
  out->append(prefix);
}

enum class Parsed {
  kIntact,  // a record of this segment
  kStale,   // an intact record of an earlier use of the file, under another segment number
  kBad,     // not an intact record
};

// Parses the record at `at` of a segment of format `version` numbered `segment`. With
// `stretches` (the segment's), its CRC is found from them, in a time that does not depend on
// the length its header claims: how damaged bytes are searched for the next record, at every
// offset. (Computed over the claimed length instead, 64 MiB of random bytes took 15 s.)
Parsed ParseRecord(std::string_view data, size_t at, uint32_t version, uint32_t segment,
                   WalRecordType* type, std::string_view* payload,
                   crc32c::StretchCrc* stretches = nullptr) {
  const size_t header = RecordHeaderSize(version);
  if (data.size() - at < header) return Parsed::kBad;
  uint32_t crc = coding::DecodeFixed32(data.data() + at);
  uint32_t length = coding::DecodeFixed32(data.data() + at + 4);
  if (length > fmt::kMaxRecordSize || data.size() - at - header < length) return Parsed::kBad;
  uint8_t t = static_cast<uint8_t>(data[at + 8]);
  if (t < static_cast<uint8_t>(WalRecordType::kTraceFragment) ||
      t > static_cast<uint8_t>(WalRecordType::kSpanSource)) {
    return Parsed::kBad;
  }
  *type = static_cast<WalRecordType>(t);
  *payload = data.substr(at + header, length);
  const uint32_t named = version < 4 ? segment : coding::DecodeFixed32(data.data() + at + 9);
  // The CRC covers the type byte, the segment number (version 4) and the payload: the bytes
  // from the type byte to the payload's end.
  const uint32_t computed = stretches != nullptr
                                ? crc32c::Mask(stretches->Of(at + 8, at + header + length))
                            : version < 4 ? RecordCrc(*type, nullptr, {}, *payload)
                                          : RecordCrc(*type, &named, {}, *payload);
  if (computed != crc) return Parsed::kBad;
  return named == segment ? Parsed::kIntact : Parsed::kStale;
}

// Whether the bytes at `at` start a record header (version 4) naming segment `segment`, intact
// or not.
bool NamesSegment(std::string_view data, size_t at, uint32_t segment) {
  return data.size() - at >= fmt::kRecordHeaderSize &&
         coding::DecodeFixed32(data.data() + at + 9) == segment;
}

// "%08u" then `suffix`: a segment (".wal") or a file kept for reuse (".free").
bool ParseNumberedName(const std::string& name, std::string_view suffix, uint32_t* number) {
  if (name.size() != 8 + suffix.size() || name.substr(8) != suffix) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 8, *number);
  return ec == std::errc() && p == name.data() + 8;
}

bool ParseSegmentName(const std::string& name, uint32_t* number) {
  return ParseNumberedName(name, ".wal", number);
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

std::string Wal::FreePath(uint32_t number) const {
  char name[16];
  std::snprintf(name, sizeof(name), "%08u.free", number);
  return options_.dir + "/" + name;
}

void Wal::Retire(uint32_t number) {
  const std::string path = SegmentPath(number);
  bool room;
  {
    MutexLock lock(&mu_);
    room = free_.size() < options_.reused_segments;
  }
  // The file work is done without mu_, which appends wait on. Appends only take kept files, so
  // the room stays (two retirements at once could keep one file more; the next Open trims).
  // Only a file whose every record names its segment (version 4 on) is reused: a crash right
  // after the rename leaves its old records under the new name, and those must read as stale,
  // not as the new segment's.
  if (room) {
    auto file = options_.env->NewRandomAccessFile(path);
    auto version = file.ok() ? SegmentVersion(**file, path) : Result<uint32_t>(file.status());
    if (version.ok() && *version >= 4 && options_.env->RenameFile(path, FreePath(number)).ok()) {
      MutexLock lock(&mu_);
      free_.push_back(number);
      return;
    }
  }
  (void)options_.env->RemoveFile(path);
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
  const std::string path = SegmentPath(number);
  std::unique_ptr<WritableFile> next;
  uint32_t reused_from = 0;
  if (!free_.empty() && !options_.env->FileExists(path)) {
    // A kept file becomes the new segment, overwritten from its start. Its records name lower
    // segment numbers (numbers only grow), so a scan stops where the new ones end.
    const uint32_t old = free_.back();
    free_.pop_back();
    if (old < number && options_.env->RenameFile(FreePath(old), path).ok()) {
      auto reused = options_.env->NewOverwritingFile(path);
      if (reused.ok()) {
        next = std::move(*reused);
        reused_from = old;
      } else {
        (void)options_.env->RemoveFile(path);
      }
    } else {
      (void)options_.env->RemoveFile(FreePath(old));
    }
  }
  if (!next) {
    WAGGLE_ASSIGN_OR_RETURN(next, options_.env->NewAppendableFile(path));
  }
  if (next->Size() == 0) {
    std::string header(fmt::kMagic);
    coding::PutFixed32(&header, fmt::kVersion);
    coding::PutFixed32(&header, reused_from);
    Status s = next->Append(header);
    // The new file's directory entry must be durable before any record in it is
    // acknowledged as synced.
    if (s.ok()) s = options_.env->SyncDir(options_.dir);
    if (!s.ok()) {
      // Not left half made: the next try would find it not empty and write neither its
      // header nor its directory entry.
      (void)next->Close();
      (void)options_.env->RemoveFile(path);
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
  std::vector<uint32_t> numbers, kept;
  for (const std::string& n : names) {
    uint32_t number;
    if (ParseSegmentName(n, &number)) numbers.push_back(number);
    if (ParseNumberedName(n, ".free", &number)) kept.push_back(number);
  }
  std::sort(numbers.begin(), numbers.end());
  std::sort(kept.begin(), kept.end());

  std::unique_ptr<Wal> wal(new Wal(options));
  *stats = WalRecoveryStats{};
  std::string data;
  uint32_t last_version = fmt::kVersion;
  {
    // Files kept for reuse by an earlier process, up to the number this one keeps.
    MutexLock lock(&wal->mu_);
    for (uint32_t k : kept) {
      if (wal->free_.size() < options.reused_segments) {
        wal->free_.push_back(k);
      } else {
        WAGGLE_RETURN_IF_ERROR(env->RemoveFile(wal->FreePath(k)));
      }
    }
  }
  // Segments below first_segment hold only records kept elsewhere now: they go.
  while (!numbers.empty() && numbers.front() < options.first_segment) {
    wal->Retire(numbers.front());
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
    // Version 4 keeps there the number the file had in its earlier use (0: a new file).
    const uint32_t reused_from = coding::DecodeFixed32(data.data() + 12);
    if (version == 0 || (version < 4 && reused_from != 0)) {
      return Status::Corruption(path + " has a damaged WAL segment header");
    }
    if (version > fmt::kVersion) {
      return Status::Unimplemented(path + " was written by a newer waggle (WAL format " +
                                   std::to_string(version) + ", this build reads up to " +
                                   std::to_string(fmt::kVersion) + ")");
    }
    if (last) last_version = version;
    const uint32_t number = numbers[i];
    std::optional<crc32c::StretchCrc> stretches;  // made at the first damage
    size_t at = fmt::kFileHeaderSize;
    while (at < data.size()) {
      WalRecordType type;
      std::string_view payload;
      const Parsed parsed = ParseRecord(data, at, version, number, &type, &payload);
      if (parsed == Parsed::kIntact) {
        replay(
            WalPosition{number, static_cast<uint32_t>(at), static_cast<uint32_t>(payload.size())},
            type, payload);
        ++stats->records;
        at += RecordHeaderSize(version) + payload.size();
        continue;
      }
      if (parsed == Parsed::kStale) {
        // The segment's records end here; what follows is the file's earlier use. The last
        // segment is cut here, so that appends continue from its end.
        if (last) WAGGLE_RETURN_IF_ERROR(env->Truncate(path, at));
        break;
      }
      // Damage: look for the next intact record, of this segment or an earlier use.
      if (!stretches) stretches.emplace(data);
      size_t next = at + 1;
      Parsed found = Parsed::kBad;
      while (next < data.size() && (found = ParseRecord(data, next, version, number, &type,
                                                        &payload, &*stretches)) == Parsed::kBad) {
        ++next;
      }
      if (found != Parsed::kIntact && version >= 4 && reused_from != 0 &&
          !NamesSegment(data, at, number)) {
        // No record of this segment follows, and these bytes do not start one: its records
        // end here, in the middle of one of the file's earlier use (or of a header the write
        // never finished).
        if (last) WAGGLE_RETURN_IF_ERROR(env->Truncate(path, at));
        break;
      }
      if (found != Parsed::kIntact && last) {
        stats->truncated_bytes += next - at;  // a torn tail: the write never finished
        WAGGLE_RETURN_IF_ERROR(env->Truncate(path, at));
        break;
      }
      ++stats->corrupt_regions;
      stats->corrupt_bytes += next - at;
      if (found != Parsed::kIntact) break;  // the end of the file or of this segment's records
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
  // The group's records go out in one write of their parts: each record's head (in
  // group_heads_) and its payload, which stays where its writer holds it (a writer waits until
  // its group is written).
  group_heads_.clear();
  group_parts_.clear();
  uint64_t group_bytes = 0;
  for (PendingAppend* p : queue_) {
    if (p->rotate) break;
    if (!group.empty() && group_bytes >= options_.max_group_bytes) break;
    group.push_back(p);
    group_sync |= p->sync;
    p->positions->clear();
    for (std::string_view payload : *p->payloads) {
      p->positions->push_back({file_number_, static_cast<uint32_t>(start + group_bytes),
                               static_cast<uint32_t>(p->prefix.size() + payload.size())});
      AppendRecordHead(&group_heads_, p->type, file_number_, p->prefix, payload);
      group_bytes += fmt::kRecordHeaderSize + p->prefix.size() + payload.size();
    }
  }
  // Once group_heads_ no longer grows (and moves): the heads lie one after another in it.
  size_t at = 0;
  for (const PendingAppend* p : group) {
    for (std::string_view payload : *p->payloads) {
      const size_t head = fmt::kRecordHeaderSize + p->prefix.size();
      group_parts_.push_back(std::string_view(group_heads_).substr(at, head));
      group_parts_.push_back(payload);
      at += head;
    }
  }
  assert(at == group_heads_.size());
  WritableFile* file = file_.get();
  mu_.Unlock();

  bool sync_failed = false;
  if (status.ok()) status = file->AppendV(group_parts_);
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
    bytes_written_ += group_bytes;
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

Result<Wal::Reader> Wal::ReaderFor(uint32_t file) {
  MutexLock lock(&readers_mu_);
  auto it = readers_.find(file);
  if (it != readers_.end()) return it->second;
  const std::string path = SegmentPath(file);
  WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<RandomAccessFile> f,
                          options_.env->NewRandomAccessFile(path));
  WAGGLE_ASSIGN_OR_RETURN(const uint32_t version, SegmentVersion(*f, path));
  Reader r{std::shared_ptr<RandomAccessFile>(std::move(f)), version};
  readers_[file] = r;
  return r;
}

Status Wal::Read(const WalPosition& position, std::string* payload) {
  WAGGLE_ASSIGN_OR_RETURN(Reader reader, ReaderFor(position.file));
  std::string buf;
  WAGGLE_RETURN_IF_ERROR(
      reader.file->Read(position.offset, RecordHeaderSize(reader.version) + position.length, &buf));
  WalRecordType type;
  std::string_view view;
  if (ParseRecord(buf, 0, reader.version, position.file, &type, &view) != Parsed::kIntact ||
      view.size() != position.length) {
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
  std::sort(doomed.begin(), doomed.end());
  for (uint32_t v : doomed) Retire(v);
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
