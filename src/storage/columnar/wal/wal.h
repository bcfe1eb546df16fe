#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/mutex.h"
#include "base/result.h"

// The write-ahead log: append-only segment files of checksummed records (docs/wal-format.md).
namespace waggle::storage::columnar {

struct WalOptions {
  std::string dir;                        // created if missing
  Env* env = Env::Default();              // the file-system seam
  uint64_t segment_bytes = 64ull << 20;   // a new segment file starts past this size
  uint64_t max_group_bytes = 8ull << 20;  // one group commit writes at most about this much
  // Segments numbered below this hold records kept elsewhere (in blocks): Open removes them
  // without replaying them, and numbers new segments from here on.
  uint32_t first_segment = 0;
  // Up to this many segments that are no longer needed are kept (renamed %08u.free) and
  // overwritten as new segments: writing over a file's blocks costs the file system less CPU
  // than allocating new ones, and its syncs journal no allocation (docs/wal-format.md).
  size_t reused_segments = 2;

  Status Validate() const;
};

// Where a record lives: its segment file, the offset of its header, its payload length.
struct WalPosition {
  uint32_t file = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  auto operator<=>(const WalPosition&) const = default;
};

struct WalRecoveryStats {
  uint64_t files = 0;
  uint64_t records = 0;
  uint64_t corrupt_regions = 0;  // damaged stretches skipped inside the log (reported)
  uint64_t corrupt_bytes = 0;
  uint64_t truncated_bytes = 0;  // a torn tail cut off the last segment
};

enum class WalRecordType : uint8_t {
  kTraceFragment = 1,  // storage::EncodeFragment
  kLogGroup = 2,       // storage::EncodeLogGroup
  kSpanSource = 3,     // a request that storage::SourceDecoder turns into spans (format 3)
};

// Thread-safe. Append() may be called from many threads at once: concurrent appends are
// written as one group with one write and (when any asks for it) one fsync.
class Wal {
 public:
  // Called for every intact record found when the log is opened, in log order.
  using ReplayFn = std::function<void(const WalPosition&, WalRecordType, std::string_view payload)>;

  // Opens (creating if needed) the log in options.dir, replaying every intact record through
  // `replay`. A torn tail of the last segment is truncated; damaged stretches elsewhere are
  // skipped and counted. Fails on a segment written by a newer format version.
  static Result<std::unique_ptr<Wal>> Open(const WalOptions& options, const ReplayFn& replay,
                                           WalRecoveryStats* stats);
  ~Wal();

  // Appends `payloads` as records of `type`, each one's payload `prefix` followed by it (so a
  // caller need not copy a large payload to put a header before it); `positions` receives one
  // position per payload. Returns once they are written to the OS, and synced to disk when
  // `sync`: a synced append makes every record appended before it durable too, in whichever
  // segment. Once a sync has failed, the log refuses every append and rotation (a restart
  // replays what is on disk).
  Status Append(WalRecordType type, const std::vector<std::string_view>& payloads, bool sync,
                std::vector<WalPosition>* positions, std::string_view prefix = {});

  // Starts a new segment and returns its number: every record appended before the call is in
  // a segment numbered below it. The segment it closes is synced first if it holds records
  // appended without a sync.
  Result<uint32_t> Rotate();
  // Deletes the segments numbered below `number` (not the open one), or keeps them for reuse.
  Status RemoveSegmentsBelow(uint32_t number);
  uint32_t current_segment() const;

  // Reads a record's payload back, verifying its checksum.
  Status Read(const WalPosition& position, std::string* payload);

  uint64_t bytes_written() const;

 private:
  struct PendingAppend;
  struct Reader {
    std::shared_ptr<RandomAccessFile> file;
    uint32_t version = 0;  // the segment's format version
  };
  explicit Wal(const WalOptions& options);
  // Opens segment `number` for appending: the existing file, else a kept one overwritten, else
  // a new one.
  Status OpenSegment(uint32_t number) REQUIRES(mu_);
  std::string SegmentPath(uint32_t number) const;
  std::string FreePath(uint32_t number) const;
  // Segment `number` is no longer needed: kept for reuse while fewer than reused_segments are,
  // else deleted.
  void Retire(uint32_t number) EXCLUDES(mu_);
  Result<Reader> ReaderFor(uint32_t file);

  const WalOptions options_;
  mutable Mutex mu_;
  std::deque<PendingAppend*> queue_ GUARDED_BY(mu_);
  std::vector<uint32_t> free_ GUARDED_BY(mu_);  // the kept files, by their old numbers
  std::unique_ptr<WritableFile> file_ GUARDED_BY(mu_);
  uint32_t file_number_ GUARDED_BY(mu_) = 0;
  uint64_t bytes_written_ GUARDED_BY(mu_) = 0;
  // The open segment holds records written without a sync since its last one: a rotation
  // syncs it before closing it, so a later synced append makes every earlier record durable.
  bool unsynced_ GUARDED_BY(mu_) = false;
  // A failed sync, or a failed write that could not be rolled back: nothing more is taken.
  Status broken_ GUARDED_BY(mu_);
  // Used only by the current group leader: the heads of the group's records, and the parts
  // written (each record's head, then its payload).
  std::string group_heads_;
  std::vector<std::string_view> group_parts_;

  Mutex readers_mu_;
  std::map<uint32_t, Reader> readers_ GUARDED_BY(readers_mu_);
};

}  // namespace waggle::storage::columnar
