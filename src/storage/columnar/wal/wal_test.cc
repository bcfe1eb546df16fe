#include "storage/columnar/wal/wal.h"

#include <gtest/gtest.h>

#include "base/coding.h"
#include "base/testing/fault_env.h"
#include "base/testing/temp_dir.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "storage/columnar/wal/wal_format.h"

namespace waggle::storage::columnar {
namespace {

using test_util::TempDir;

struct Replayed {
  std::vector<std::string> payloads;
  std::vector<WalPosition> positions;
};

Result<std::unique_ptr<Wal>> OpenWal(const WalOptions& options, Replayed* replayed,
                                     WalRecoveryStats* stats) {
  return Wal::Open(
      options,
      [replayed](const WalPosition& pos, WalRecordType, std::string_view payload) {
        replayed->payloads.emplace_back(payload);
        replayed->positions.push_back(pos);
      },
      stats);
}

// What opening the log again replays: its records' payloads, in order (none when it fails to
// open).
std::vector<std::string> ReplayedPayloads(const WalOptions& options,
                                          WalRecoveryStats* stats = nullptr) {
  Replayed r;
  WalRecoveryStats unused;
  auto wal = OpenWal(options, &r, stats != nullptr ? stats : &unused);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  return r.payloads;
}

// Opens the log for a test that only appends to it (what it replays is not looked at).
std::unique_ptr<Wal> OpenForAppends(const WalOptions& options) {
  Replayed r;
  WalRecoveryStats stats;
  auto wal = OpenWal(options, &r, &stats);
  EXPECT_TRUE(wal.ok()) << wal.status().ToString();
  return wal.ok() ? std::move(*wal) : nullptr;
}

std::string SegmentFile(const std::string& dir, int n) {
  char name[32];
  std::snprintf(name, sizeof(name), "/%08d.wal", n);
  return dir + name;
}

TEST(Wal, ReplaysWhatWasAppendedAndReadsItBack) {
  TempDir dir;
  WalOptions options{dir.path()};
  std::vector<WalPosition> positions;
  {
    Replayed r;
    WalRecoveryStats stats;
    auto wal = OpenWal(options, &r, &stats);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    EXPECT_TRUE(r.payloads.empty());
    std::vector<std::string_view> payloads = {"alpha", "", "gamma"};
    ASSERT_TRUE((*wal)->Append(WalRecordType::kTraceFragment, payloads, true, &positions).ok());
    ASSERT_EQ(positions.size(), 3u);
    std::string back;
    ASSERT_TRUE((*wal)->Read(positions[2], &back).ok());
    EXPECT_EQ(back, "gamma");
  }
  Replayed r;
  WalRecoveryStats stats;
  auto wal = OpenWal(options, &r, &stats);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(r.payloads, (std::vector<std::string>{"alpha", "", "gamma"}));
  EXPECT_EQ(r.positions, positions);
  EXPECT_EQ(stats.records, 3u);
  EXPECT_EQ(stats.truncated_bytes, 0u);
}

// A prefix goes before each payload of the append: the records read back, replay and pass
// their checks as if each payload had been written with its prefix in one piece.
TEST(Wal, APrefixIsPartOfEachRecordOfTheAppend) {
  TempDir dir;
  WalOptions options{dir.path()};
  {
    std::unique_ptr<Wal> wal = OpenForAppends(options);
    ASSERT_NE(wal, nullptr);
    std::vector<WalPosition> pos;
    ASSERT_TRUE(wal->Append(WalRecordType::kSpanSource, {"one", "two"}, true, &pos, "head:").ok());
    ASSERT_EQ(pos.size(), 2u);
    EXPECT_EQ(pos[0].length, 8u);
    std::string payload;
    ASSERT_TRUE(wal->Read(pos[1], &payload).ok());
    EXPECT_EQ(payload, "head:two");
    EXPECT_EQ(wal->Append(WalRecordType::kSpanSource,
                          {std::string(wal_format::kMaxRecordSize - 3, 'x')}, true, &pos, "head:")
                  .code(),
              Status::Code::kInvalidArgument);  // together over the record limit
  }
  WalRecoveryStats stats;
  EXPECT_EQ(ReplayedPayloads(options, &stats), (std::vector<std::string>{"head:one", "head:two"}));
  EXPECT_EQ(stats.corrupt_regions, 0u);
}

TEST(Wal, TruncatesATornTailAndKeepsAppending) {
  TempDir dir;
  WalOptions options{dir.path()};
  {
    Replayed r;
    WalRecoveryStats stats;
    auto wal = OpenWal(options, &r, &stats);
    std::vector<WalPosition> pos;
    ASSERT_TRUE((*wal)->Append(WalRecordType::kTraceFragment, {"one", "two"}, false, &pos).ok());
  }
  // Cut the last record in half, as a crash mid-write would.
  std::string file = SegmentFile(dir.path(), 1);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 2);
  Replayed r;
  WalRecoveryStats stats;
  auto wal = OpenWal(options, &r, &stats);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(r.payloads, std::vector<std::string>{"one"});
  EXPECT_EQ(stats.truncated_bytes, wal_format::kRecordHeaderSize + 1);
  std::vector<WalPosition> pos;
  ASSERT_TRUE((*wal)->Append(WalRecordType::kTraceFragment, {"three"}, true, &pos).ok());
  wal->reset();
  Replayed again;
  auto reopened = OpenWal(options, &again, &stats);
  EXPECT_EQ(again.payloads, (std::vector<std::string>{"one", "three"}));
}

TEST(Wal, SkipsADamagedRecordAndReportsIt) {
  TempDir dir;
  WalOptions options{dir.path()};
  std::vector<WalPosition> pos;
  {
    Replayed r;
    WalRecoveryStats stats;
    auto wal = OpenWal(options, &r, &stats);
    ASSERT_TRUE(
        (*wal)
            ->Append(WalRecordType::kTraceFragment, {"first", "second", "third"}, false, &pos)
            .ok());
  }
  // Flip a byte inside the second record's payload.
  std::fstream f(SegmentFile(dir.path(), 1), std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(pos[1].offset + wal_format::kRecordHeaderSize + 2);
  f.put('X');
  f.close();
  Replayed r;
  WalRecoveryStats stats;
  auto wal = OpenWal(options, &r, &stats);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(r.payloads, (std::vector<std::string>{"first", "third"}));
  EXPECT_EQ(stats.corrupt_regions, 1u);
  std::string back;
  EXPECT_EQ((*wal)->Read(pos[1], &back).code(), Status::Code::kCorruption);
}

// The search for the next record after damage tries every offset, and bytes that look like a
// header there (a length that fits, a known type, this segment's number) get their checksum
// checked: over damaged stretches of random bytes and of such lookalikes (one every 13 bytes),
// the records on either side are all found, and the stretch is counted once.
TEST(Wal, FindsTheRecordsAfterAStretchOfRandomOrHeaderLikeBytes) {
  for (const bool lookalikes : {false, true}) {
    SCOPED_TRACE(lookalikes ? "header-like bytes" : "random bytes");
    TempDir dir;
    WalOptions options{dir.path()};
    std::vector<WalPosition> pos;
    const std::string big(300 << 10, 'b');
    {
      auto wal = OpenForAppends(options);
      ASSERT_TRUE(
          wal->Append(WalRecordType::kSpanSource, {"before", big, "after", "last"}, false, &pos)
              .ok());
    }
    // The big record's header and most of its payload are overwritten, its end left.
    std::string bytes;
    ASSERT_TRUE(Env::Default()->ReadFile(SegmentFile(dir.path(), 1), &bytes).ok());
    std::mt19937_64 rng(3);
    const size_t lo = pos[1].offset, hi = lo + big.size() - 1000;
    std::string fill;
    while (fill.size() < hi - lo) {
      coding::PutFixed32(&fill, static_cast<uint32_t>(rng()));  // a checksum that fails
      if (!lookalikes) continue;
      coding::PutFixed32(&fill, static_cast<uint32_t>(rng() % 5000));  // a length that fits
      fill.push_back(static_cast<char>(WalRecordType::kTraceFragment));
      coding::PutFixed32(&fill, 1);  // this segment
    }
    bytes.replace(lo, hi - lo, fill.substr(0, hi - lo));
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(SegmentFile(dir.path(), 1), bytes).ok());
    WalRecoveryStats stats;
    EXPECT_EQ(ReplayedPayloads(options, &stats),
              (std::vector<std::string>{"before", "after", "last"}));
    EXPECT_EQ(stats.corrupt_regions, 1u);
    EXPECT_EQ(stats.corrupt_bytes, pos[2].offset - pos[1].offset);
    EXPECT_EQ(stats.truncated_bytes, 0u);
  }
}

TEST(Wal, RefusesASegmentFromANewerFormatVersion) {
  TempDir dir;
  std::filesystem::create_directories(dir.path());
  std::ofstream(SegmentFile(dir.path(), 1), std::ios::binary)
      << std::string(wal_format::kMagic) << std::string("\x09\0\0\0\0\0\0\0", 8);
  Replayed r;
  WalRecoveryStats stats;
  auto wal = OpenWal(WalOptions{dir.path()}, &r, &stats);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), Status::Code::kUnimplemented);
  EXPECT_NE(wal.status().message().find("newer"), std::string::npos);
}

// Records of a type an older build does not know (a span source is version 3's) never go into
// a segment headed with that older version.
TEST(Wal, AppendsToANewSegmentAfterOneOfAnOlderFormatVersion) {
  for (uint32_t version = 1; version < wal_format::kVersion; ++version) {
    TempDir dir;
    std::filesystem::create_directories(dir.path());
    const std::string old_segment = SegmentFile(dir.path(), 1);
    std::string header(wal_format::kMagic);
    coding::PutFixed32(&header, version);
    coding::PutFixed32(&header, 0);
    std::ofstream(old_segment, std::ios::binary) << header;
    Replayed r;
    WalRecoveryStats stats;
    auto wal = OpenWal(WalOptions{dir.path()}, &r, &stats);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    std::vector<WalPosition> positions;
    ASSERT_TRUE((*wal)->Append(WalRecordType::kSpanSource, {"request"}, true, &positions).ok());
    ASSERT_EQ(positions.size(), 1u);
    EXPECT_EQ(positions[0].file, 2u) << version;
    EXPECT_EQ(std::filesystem::file_size(old_segment), wal_format::kFileHeaderSize) << version;
    std::string payload;
    ASSERT_TRUE((*wal)->Read(positions[0], &payload).ok());
    EXPECT_EQ(payload, "request");
  }
}

TEST(Wal, RotatesSegmentsAndConcurrentAppendsAllLand) {
  TempDir dir;
  WalOptions options{dir.path()};
  options.segment_bytes = 4096;
  constexpr int kThreads = 4, kPerThread = 200;
  {
    Replayed r;
    WalRecoveryStats stats;
    auto wal = OpenWal(options, &r, &stats);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string p = std::to_string(t) + ":" + std::to_string(i) + std::string(50, 'x');
          std::vector<WalPosition> pos;
          ASSERT_TRUE((*wal)->Append(WalRecordType::kTraceFragment, {p}, i % 10 == 0, &pos).ok());
          std::string back;
          ASSERT_TRUE((*wal)->Read(pos[0], &back).ok());
          ASSERT_EQ(back, p);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  Replayed r;
  WalRecoveryStats stats;
  auto wal = OpenWal(options, &r, &stats);
  EXPECT_EQ(r.payloads.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_GT(stats.files, 5u);
}

// Records appended without a sync and then left behind in a closed segment are made durable
// by the rotation, so one later synced append covers everything before it: what
// Engine::Write relies on when it syncs only the last slice of a batch.
TEST(Wal, ASyncedAppendMakesEveryEarlierRecordDurableAcrossRotations) {
  TempDir dir;
  test_util::FaultEnv env;
  WalOptions options{dir.path()};
  options.env = &env;
  options.segment_bytes = 4096;
  std::vector<std::string> written;
  {
    auto wal = OpenForAppends(options);
    ASSERT_NE(wal, nullptr);
    std::vector<WalPosition> pos;
    for (int i = 0; i < 40; ++i) {  // about 12 KiB: the size rule rotates twice
      written.push_back(std::to_string(i) + std::string(300, 'u'));
      ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {written.back()}, false, &pos).ok());
    }
    written.push_back("unsynced, then rotated");
    ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {written.back()}, false, &pos).ok());
    ASSERT_TRUE(wal->Rotate().ok());  // and a rotation asked for by a seal
    written.push_back("synced");
    ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {written.back()}, true, &pos).ok());
    ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"never synced"}, false, &pos).ok());
    ASSERT_TRUE(env.DropUnsyncedData().ok());
  }
  WalRecoveryStats stats;
  EXPECT_EQ(ReplayedPayloads(options, &stats), written);
  EXPECT_GE(stats.files, 4u);
}

// A failed fsync may have lost earlier unsynced records for good (the kernel drops pages it
// could not write back), so a later fsync that succeeds would acknowledge them falsely: the log
// takes no more appends, at rotation or in a group, and a restart replays what is on disk.
TEST(Wal, AFailedSyncStopsTheLog) {
  // Where the sync fails: a synced group, Rotate() (a seal), or the rotation an append makes
  // when the segment is full.
  for (const std::string where : {"group", "Rotate", "full segment"}) {
    TempDir dir;
    test_util::FaultEnv env;
    WalOptions options{dir.path()};
    options.env = &env;
    options.segment_bytes = 4096;
    {
      auto wal = OpenForAppends(options);
      ASSERT_NE(wal, nullptr);
      std::vector<WalPosition> pos;
      ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"synced"}, true, &pos).ok());
      ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"buffered"}, false, &pos).ok());
      if (where == "full segment") {
        const std::string filler(4096, 'f');  // the next append rotates
        ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {filler}, false, &pos).ok());
      }
      env.FailSyncs(Status::IOError("fdatasync: Input/output error"));
      if (where == "Rotate") {
        EXPECT_EQ(wal->Rotate().status().code(), Status::Code::kIOError);
      } else {
        EXPECT_EQ(wal->Append(WalRecordType::kTraceFragment, {"x"}, where == "group", &pos).code(),
                  Status::Code::kIOError)
            << where;
      }
      env.FailSyncs(Status::Ok());  // a later sync would succeed: the log must not trust it
      Status s = wal->Append(WalRecordType::kTraceFragment, {"after"}, true, &pos);
      EXPECT_EQ(s.code(), Status::Code::kIOError) << where;
      EXPECT_NE(s.message().find("WAL sync failed"), std::string::npos) << s.ToString();
      ASSERT_TRUE(env.DropUnsyncedData().ok());
    }
    EXPECT_EQ(ReplayedPayloads(options), (std::vector<std::string>{"synced"})) << where;
  }
}

// Records a process appended without a sync before it stopped are made durable when the log is
// opened again, before anything new is acknowledged: whether appends go on in that segment or
// in a new one (after a version change, for instance), a power cut after the next synced
// append keeps them.
TEST(Wal, OpeningTheLogSyncsWhatTheLastProcessLeftUnsynced) {
  TempDir dir;
  test_util::FaultEnv env;
  WalOptions options{dir.path()};
  options.env = &env;
  {
    auto wal = OpenForAppends(options);
    ASSERT_NE(wal, nullptr);
    std::vector<WalPosition> pos;
    ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"left unsynced"}, false, &pos).ok());
  }
  {
    auto wal = OpenForAppends(options);  // the process starts again
    ASSERT_NE(wal, nullptr);
    ASSERT_TRUE(wal->Rotate().ok());
    std::vector<WalPosition> pos;
    ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"synced"}, true, &pos).ok());
    ASSERT_TRUE(env.DropUnsyncedData().ok());
  }
  EXPECT_EQ(ReplayedPayloads(options), (std::vector<std::string>{"left unsynced", "synced"}));
}

// A write that runs out of room fails alone, an append's or a rotation's, and the records
// before and after it read back. A rotation that fails mid-header leaves no half-made segment,
// so the next one writes the header whole.
TEST(Wal, AFullDiskFailsOnlyTheWriteThatHitIt) {
  for (const bool rotation : {false, true}) {
    TempDir dir;
    test_util::FaultEnv env;
    WalOptions options{dir.path()};
    options.env = &env;
    const Status full = Status::IOError("write: No space left on device");
    {
      auto wal = OpenForAppends(options);
      ASSERT_NE(wal, nullptr);
      std::vector<WalPosition> pos;
      ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"kept"}, true, &pos).ok());
      if (rotation) {
        env.TearNextAppend(5, full);  // less than a segment header
        EXPECT_EQ(wal->Rotate().status().code(), Status::Code::kIOError);
      } else {
        env.TearNextAppend(100, full);
        Status s = wal->Append(WalRecordType::kTraceFragment, {std::string(500, 'x')}, true, &pos);
        EXPECT_EQ(s.code(), Status::Code::kIOError);
      }
      // Space freed: the next write goes through.
      if (rotation) ASSERT_TRUE(wal->Rotate().ok());
      ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"after"}, true, &pos).ok());
    }
    WalRecoveryStats stats;
    EXPECT_EQ(ReplayedPayloads(WalOptions{dir.path()}, &stats),
              (std::vector<std::string>{"kept", "after"}))
        << (rotation ? "rotation" : "append");
    EXPECT_EQ(stats.corrupt_regions, 0u);
  }
}

}  // namespace
}  // namespace waggle::storage::columnar

namespace waggle::storage::columnar {
namespace {

std::string FreeFile(const std::string& dir, int n) {
  char name[32];
  std::snprintf(name, sizeof(name), "/%08d.free", n);
  return dir + name;
}

// Appends `n` records of about 1 KiB, each naming `tag` and its index, returning them.
std::vector<std::string> AppendRecords(Wal* wal, const std::string& tag, int n, bool sync) {
  std::vector<std::string> written;
  std::vector<WalPosition> pos;
  for (int i = 0; i < n; ++i) {
    written.push_back(tag + std::to_string(i) + std::string(1000, 'r'));
    EXPECT_TRUE(wal->Append(WalRecordType::kTraceFragment, {written.back()}, sync, &pos).ok());
  }
  return written;
}

// Opens the log with `options` and makes its open segment a kept file overwritten: 40 records
// written, their segments retired, a rotation. Null when that fails.
std::unique_ptr<Wal> OpenOnAReusedSegment(const WalOptions& options) {
  auto wal = OpenForAppends(options);
  if (wal == nullptr) return nullptr;
  AppendRecords(wal.get(), "old", 40, true);
  const bool reused = wal->Rotate().ok() && wal->RemoveSegmentsBelow(wal->current_segment()).ok() &&
                      wal->Rotate().ok();
  EXPECT_TRUE(reused);
  if (!reused) return nullptr;
  // A new file would hold only its header; a kept one holds its old records past it.
  EXPECT_GT(std::filesystem::file_size(
                SegmentFile(options.dir, static_cast<int>(wal->current_segment()))),
            wal_format::kFileHeaderSize);
  return wal;
}

// Segments no longer needed are kept and overwritten as new ones. The new segment's records end
// before the old ones' bytes; a restart replays exactly the new records, reports no damage, and
// appends after them.
TEST(Wal, ReusesRetiredSegmentsAndReplaysOnlyTheirNewRecords) {
  TempDir dir;
  WalOptions options{dir.path()};
  options.segment_bytes = 16 << 10;
  std::vector<std::string> kept;
  {
    auto wal = OpenForAppends(options);
    ASSERT_NE(wal, nullptr);
    AppendRecords(wal.get(), "old", 40, false);  // segments 1 and 2, about 16 KiB each
    ASSERT_EQ(wal->Rotate().value(), 4u);
    ASSERT_TRUE(wal->RemoveSegmentsBelow(4).ok());
    EXPECT_TRUE(std::filesystem::exists(FreeFile(dir.path(), 1)));
    EXPECT_TRUE(std::filesystem::exists(FreeFile(dir.path(), 2)));
    EXPECT_FALSE(std::filesystem::exists(FreeFile(dir.path(), 3)));  // two are kept
    EXPECT_FALSE(std::filesystem::exists(SegmentFile(dir.path(), 3)));
    // Segment 4 fills, and 5 is file 2 overwritten: 3 records in a file of about 16 KiB.
    kept = AppendRecords(wal.get(), "new", 20, true);
    EXPECT_EQ(wal->current_segment(), 5u);
    EXPECT_FALSE(std::filesystem::exists(FreeFile(dir.path(), 2)));
    EXPECT_GT(std::filesystem::file_size(SegmentFile(dir.path(), 5)), 15u << 10);
  }
  WalRecoveryStats stats;
  EXPECT_EQ(ReplayedPayloads(options, &stats), kept);
  EXPECT_EQ(stats.corrupt_regions, 0u);
  EXPECT_EQ(stats.truncated_bytes, 0u);
  {
    auto wal = OpenForAppends(options);
    ASSERT_NE(wal, nullptr);
    std::vector<WalPosition> pos;
    ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"after"}, true, &pos).ok());
    EXPECT_EQ(pos[0].file, 5u);
    std::string back;
    ASSERT_TRUE(wal->Read(pos[0], &back).ok());
    EXPECT_EQ(back, "after");
  }
  kept.push_back("after");
  EXPECT_EQ(ReplayedPayloads(options, &stats), kept);
  EXPECT_EQ(stats.corrupt_regions, 0u);
}

// A power cut takes back what was written over a kept file since its last sync: the old bytes
// return, and the restart replays the synced records only, with no damage reported.
TEST(Wal, APowerCutInAReusedSegmentKeepsWhatWasSynced) {
  TempDir dir;
  test_util::FaultEnv env;
  WalOptions options{dir.path()};
  options.env = &env;
  options.segment_bytes = 16 << 10;
  std::vector<std::string> synced;
  {
    auto wal = OpenOnAReusedSegment(options);
    ASSERT_NE(wal, nullptr);
    synced = AppendRecords(wal.get(), "synced", 3, true);
    AppendRecords(wal.get(), "lost", 5, false);
    ASSERT_TRUE(env.DropUnsyncedData().ok());
  }
  WalRecoveryStats stats;
  EXPECT_EQ(ReplayedPayloads(options, &stats), synced);
  EXPECT_EQ(stats.corrupt_regions, 0u);
}

// A record damaged in a reused segment, with the old bytes after it: a torn tail, cut off.
// With records of the segment after it: a damaged stretch, skipped and reported.
TEST(Wal, DamageInAReusedSegmentIsATornTailOrASkippedStretch) {
  for (bool later_records : {false, true}) {
    TempDir dir;
    WalOptions options{dir.path()};
    options.segment_bytes = 16 << 10;
    std::vector<std::string> want;
    WalPosition damaged;
    {
      auto wal = OpenOnAReusedSegment(options);
      ASSERT_NE(wal, nullptr);
      want = AppendRecords(wal.get(), "new", 2, true);
      std::vector<WalPosition> pos;
      ASSERT_TRUE(
          wal->Append(WalRecordType::kTraceFragment, {"next" + std::string(1000, 'n')}, true, &pos)
              .ok());
      damaged = pos[0];
      if (later_records) {
        ASSERT_TRUE(wal->Append(WalRecordType::kTraceFragment, {"later"}, true, &pos).ok());
        want.push_back("later");
      }
    }
    std::fstream f(SegmentFile(dir.path(), static_cast<int>(damaged.file)),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(damaged.offset + wal_format::kRecordHeaderSize + 10);
    f.put('\xff');
    f.close();
    WalRecoveryStats stats;
    EXPECT_EQ(ReplayedPayloads(options, &stats), want) << later_records;
    if (later_records) {
      EXPECT_EQ(stats.corrupt_regions, 1u);
      EXPECT_EQ(stats.truncated_bytes, 0u);
    } else {
      EXPECT_EQ(stats.corrupt_regions, 0u);
      EXPECT_GT(stats.truncated_bytes, 0u);
    }
  }
}

// A segment from before version 4 is deleted, never kept: its records do not name their segment,
// so a crash right after reusing it would leave them readable as the new segment's.
TEST(Wal, ASegmentOfAnOlderVersionIsNotKeptForReuse) {
  TempDir dir;
  std::filesystem::create_directories(dir.path());
  std::string header(wal_format::kMagic);
  coding::PutFixed32(&header, 3);
  coding::PutFixed32(&header, 0);
  std::ofstream(SegmentFile(dir.path(), 1), std::ios::binary) << header;
  WalOptions options{dir.path()};
  auto wal = OpenForAppends(options);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->current_segment(), 2u);
  ASSERT_TRUE(wal->RemoveSegmentsBelow(2).ok());
  EXPECT_FALSE(std::filesystem::exists(SegmentFile(dir.path(), 1)));
  EXPECT_FALSE(std::filesystem::exists(FreeFile(dir.path(), 1)));
}

}  // namespace
}  // namespace waggle::storage::columnar
