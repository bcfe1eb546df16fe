#include "storage/columnar/block/hex_runs.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <random>
#include <vector>

#include "base/coding.h"
#include "storage/columnar/block/chunk.h"
#include "storage/testing/random_spans.h"

namespace waggle::storage::columnar::block {
namespace {

using storage::testing::RandomUuid;

std::string RoundTrip(std::string_view raw, size_t* packed = nullptr) {
  HexPacked p;
  const size_t n = PackHexRuns(raw, 0, &p);
  if (packed != nullptr) *packed = n;
  std::string out;
  Status s = UnpackHexRuns(p.escape, p.text, p.nibbles, raw.size(), &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(HexRuns, RunsOfEightOrMoreAreTakenInEitherCaseAndTheRestIsKept) {
  struct Case {
    std::string raw;
    size_t packed;
  };
  const Case cases[] = {
      {"", 0},
      {"0123456", 0},                      // seven: too short
      {"01234567", 8},                     // digits only
      {"deadbeef-DEADBEEF-DeadBeef", 16},  // one run each case; mixed stays
      {"abcdefabc", 9},                    // odd length: padded
      {"/api/messages/8f14e45f-ceea-467f-a9a8-5cbd0d0e5d6a?x=1", 36},
      {std::string(300, 'a'), 300},                      // split at 133 characters
      {std::string(133 + 7, 'F'), 133},                  // the last seven stay
      {"8F14E45F-CEEA-467F-A9A8-5CBD0D0E5D6A", 36},      // an uppercase UUID
      {"8f14e45f-CEEA-467f-a9a8-5cbd0d0e5d6a", 8 + 12},  // mixed: two runs
      {"8f14e45f-ceea-467f-a9a8-5cbd0d0e5d6a0", 36},     // a UUID, then a digit
      {std::string("\0\0\x01\xff", 4) + "0123456789abcdef", 16},
  };
  for (const Case& c : cases) {
    size_t packed = 0;
    EXPECT_EQ(RoundTrip(c.raw, &packed), c.raw);
    EXPECT_EQ(packed, c.packed) << c.raw;
  }
}

// Runs are looked for 64 characters at a time: one is found wherever it starts and ends
// relative to those windows, among characters that are hex digits without making a run.
TEST(HexRuns, RunsAreFoundAtEveryOffset) {
  const std::string filler = "1234567_abcdef-ABCDEF 0123456_";  // short runs only
  struct Run {
    std::string text;
    size_t packed;
  };
  const Run runs[] = {{"01234567", 8},
                      {"0123456789abcdef0123", 20},
                      {"8f14e45f-ceea-467f-a9a8-5cbd0d0e5d6a", 36},
                      {"8F14E45F-CEEA-467F-A9A8-5CBD0D0E5D6A", 36},
                      {std::string(150, 'c'), 150},
                      {"0123456", 0}};
  for (const Run& run : runs) {
    for (size_t offset = 0; offset < 200; ++offset) {
      std::string raw;
      while (raw.size() < offset) raw += filler;
      raw.resize(offset);
      if (offset > 0) raw.back() = '_';  // nothing joins the run
      raw += run.text;
      raw += "_";
      for (size_t k = 0; k < offset % 7; ++k) raw += filler;
      size_t packed = 0;
      EXPECT_EQ(RoundTrip(raw, &packed), raw);
      EXPECT_EQ(packed, run.packed) << run.text << " at " << offset;
    }
  }
}

TEST(HexRuns, UuidsPackToSixteenBytesOfNibblesAndAStructureThatRepeats) {
  std::mt19937_64 rng(3);
  std::string raw;
  for (int i = 0; i < 100; ++i) coding::PutLengthPrefixed(&raw, RandomUuid(rng));
  HexPacked p;
  EXPECT_EQ(PackHexRuns(raw, 0, &p), 3600u);
  EXPECT_EQ(p.nibbles.size(), 1600u);  // 16 bytes a uuid
  // Per uuid: its length and one mark of two bytes.
  EXPECT_EQ(p.text.size(), 300u);
  EXPECT_EQ(RoundTrip(raw), raw);
}

TEST(HexRuns, TheEscapeByteAndRandomBytesRoundTrip) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string raw;
    const size_t n = rng() % 400;
    // Mostly hex and dashes, some arbitrary bytes, every byte value possible.
    for (size_t i = 0; i < n; ++i) {
      const uint64_t r = rng() % 11;
      if (r == 10) {  // a UUID, sometimes uppercase, sometimes cut short by the end
        const std::string u = RandomUuid(rng, rng() % 2 == 0);
        raw += u.substr(0, rng() % 4 ? 36 : rng() % 36);
        continue;
      }
      raw.push_back(r < 6   ? "0123456789abcdef"[rng() % 16]
                    : r < 8 ? "0123456789ABCDEF"[rng() % 16]
                    : r < 9 ? '-'
                            : static_cast<char>(rng()));
    }
    ASSERT_EQ(RoundTrip(raw), raw) << trial;
  }
  // Every byte value present: the escape occurs in the text and is escaped.
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  all += all + "00112233445566778899";
  EXPECT_EQ(RoundTrip(all), all);
}

TEST(HexRuns, DamagedFormsAreCorruptNotMisread) {
  std::mt19937_64 rng(1);
  const std::string raw = "id=" + RandomUuid(rng) + "&x=abc";
  HexPacked p;
  PackHexRuns(raw, 0, &p);
  std::string out;
  const auto unpack = [&](std::string_view text, std::string_view nibbles, size_t length) {
    return UnpackHexRuns(p.escape, text, nibbles, length, &out).code();
  };
  const auto kCorrupt = Status::Code::kCorruption;
  ASSERT_EQ(unpack(p.text, p.nibbles, raw.size()), Status::Code::kOk);
  EXPECT_EQ(out, raw);
  EXPECT_EQ(unpack(p.text, p.nibbles, raw.size() - 1), kCorrupt);
  EXPECT_EQ(unpack(p.text, p.nibbles, raw.size() + 1), kCorrupt);
  EXPECT_EQ(unpack(p.text, p.nibbles + "x", raw.size()), kCorrupt);
  EXPECT_EQ(unpack(p.text, std::string_view(p.nibbles).substr(1), raw.size()), kCorrupt);
  const std::string text_end_escape = p.text + static_cast<char>(p.escape);
  EXPECT_EQ(unpack(text_end_escape, p.nibbles, raw.size() + 1), kCorrupt);
  std::string bad_mark = p.text;
  bad_mark[bad_mark.find(static_cast<char>(p.escape)) + 1] = static_cast<char>(128);
  EXPECT_EQ(unpack(bad_mark, p.nibbles, raw.size()), kCorrupt);
  // An odd run's last byte must have a zero low nibble.
  HexPacked odd;
  PackHexRuns("abcdefabc", 0, &odd);
  odd.nibbles.back() = static_cast<char>(odd.nibbles.back() | 1);
  EXPECT_EQ(UnpackHexRuns(odd.escape, odd.text, odd.nibbles, 9, &out).code(), kCorrupt);
}

// A chunk of ids is stored packed, smaller than zstd alone makes it, and reads back; a chunk
// with few hex runs is left to zstd.
TEST(HexRuns, ChunksOfIdsAreStoredPackedAndReadBack) {
  std::mt19937_64 rng(5);
  std::string ids, words;
  for (int i = 0; i < 2000; ++i) coding::PutLengthPrefixed(&ids, RandomUuid(rng));
  for (int i = 0; i < 2000; ++i) coding::PutLengthPrefixed(&words, i % 2 ? "GET /api" : "POST");
  std::string file;
  // Text prefers kHexZstd; binary chunks prefer kZstd and are not looked at for runs.
  const ChunkRef packed = AppendChunk(ids, Compression::kHexZstd, &file);
  const ChunkRef plain = AppendChunk(words, Compression::kHexZstd, &file);
  EXPECT_EQ(packed.compression, Compression::kHexZstd);
  EXPECT_EQ(plain.compression, Compression::kZstd);
  std::string binary;
  EXPECT_EQ(AppendChunk(ids, Compression::kZstd, &binary).compression, Compression::kZstd);
  // 16 bytes of nibbles a uuid, and little else.
  EXPECT_LT(packed.stored_length, 2000u * 17);
  // zstd alone, at the writer's level, needs more: about 19 bytes a uuid.
  std::string z(ZSTD_compressBound(ids.size()), '\0');
  const size_t zn = ZSTD_compress(z.data(), z.size(), ids.data(), ids.size(), kZstdLevel);
  ASSERT_FALSE(ZSTD_isError(zn));
  EXPECT_LT(packed.stored_length * 10, zn * 9);
  for (const auto& [ref, want] : {std::pair{packed, &ids}, std::pair{plain, &words}}) {
    std::string scratch;
    std::string_view raw;
    const std::string_view stored = std::string_view(file).substr(ref.offset, ref.stored_length);
    ASSERT_TRUE(ReadChunk(ref, stored, true, &scratch, &raw).ok());
    EXPECT_TRUE(raw == *want);
  }
  // Damage behind the checksum (verify off, as for a trusted mapping): never a crash.
  std::string stored = file.substr(packed.offset, packed.stored_length);
  for (size_t at = 0; at < stored.size(); at += 97) {
    std::string damaged = stored;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    std::string scratch;
    std::string_view raw;
    Status s = ReadChunk(packed, damaged, false, &scratch, &raw);
    if (s.ok()) EXPECT_EQ(raw.size(), ids.size());
    EXPECT_EQ(ReadChunk(packed, damaged, true, &scratch, &raw).code(), Status::Code::kCorruption);
  }
}

// Ids that repeat (a trace's id in each of its documents) zstd matches, where nibbles would
// take their length each time: such a chunk keeps plain zstd, and is never stored larger.
TEST(HexRuns, RepeatedIdsKeepPlainZstd) {
  std::mt19937_64 rng(9);
  std::vector<std::string> few;
  for (int i = 0; i < 4; ++i) few.push_back(RandomUuid(rng));
  std::string raw;
  for (int i = 0; i < 3000; ++i) coding::PutLengthPrefixed(&raw, few[i % 4]);
  std::string file;
  const ChunkRef ref = AppendChunk(raw, Compression::kHexZstd, &file);
  EXPECT_EQ(ref.compression, Compression::kZstd);
  EXPECT_LT(ref.stored_length, raw.size() / 20);
  std::string scratch;
  std::string_view back;
  ASSERT_TRUE(ReadChunk(ref, file, true, &scratch, &back).ok());
  EXPECT_TRUE(back == raw);
}

// When every byte value but a hex digit occurs, the escape is that digit: it marks runs in the
// text and never stands for itself there.
TEST(HexRuns, AnEscapeThatIsAHexDigitRoundTrips) {
  std::string raw;
  for (int round = 0; round < 3; ++round) {
    for (int b = 0; b < 256; ++b) {
      if (b != '7') raw.push_back(static_cast<char>(b));
    }
  }
  raw += "deadbeefcafe0123456";  // a run with no 7 in it
  HexPacked p;
  PackHexRuns(raw, 0, &p);
  EXPECT_EQ(p.escape, '7');
  EXPECT_EQ(RoundTrip(raw), raw);
}

// A row group's text chunks share its table: a run that comes twice or more (in one chunk or
// several) is stored once there, and each chunk refers to it by number.
TEST(HexRuns, RunsThatRepeatAcrossChunksAreStoredOnceInTheGroupsTable) {
  std::mt19937_64 rng(5);
  const std::string user = RandomUuid(rng), request = RandomUuid(rng);
  const std::string a = "enduser=" + user + " request=" + request + " digits=0123456789";
  // (Each is 64 bytes or more, as a chunk must be to be packed and counted.)
  const std::string b = "/users/" + user + "?q=DEADBEEFCAFE&sort=name";
  const std::string c = "again " + user + " DEADBEEFCAFE 0123456789";
  HexTableBuilder builder;
  for (const std::string* raw : {&a, &b, &c}) builder.Count(*raw);
  std::string chunk;
  builder.Finish(&chunk);
  // The user's id, the uppercase run and the digits; not the request id, seen once.
  ASSERT_EQ(builder.size(), 3u);
  EXPECT_EQ(builder.Find(user), 0);
  EXPECT_EQ(builder.Find("0123456789"), 1);
  EXPECT_EQ(builder.Find("DEADBEEFCAFE"), 2);
  EXPECT_EQ(builder.Find(request), -1);
  HexTable table;
  ASSERT_TRUE(DecodeHexTable(chunk, &table).ok());
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table.nibbles.size(), 16u + 5 + 6);
  for (const std::string* raw : {&a, &b, &c}) {
    HexPacked p;
    PackHexRuns(*raw, 0, &p, &builder);
    std::string out;
    Status s = UnpackHexRuns(p.escape, p.text, p.nibbles, raw->size(), &out, &table);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, *raw);
    // Only the request id's digits stay in the chunk.
    EXPECT_EQ(p.nibbles.size(), raw == &a ? 16u : 0u);
    // Without the table, or with one too short, a reference is corrupt.
    EXPECT_EQ(UnpackHexRuns(p.escape, p.text, p.nibbles, raw->size(), &out).code(),
              Status::Code::kCorruption);
    HexTable shorter = table;
    shorter.marks.resize(1);
    shorter.offsets.resize(1);
    EXPECT_EQ(UnpackHexRuns(p.escape, p.text, p.nibbles, raw->size(), &out, &shorter).code(),
              Status::Code::kCorruption);
  }
}

// The builder keeps where it found each counted chunk's runs, and PackHexRuns packs such a
// chunk from them; not named as counted, the chunk is looked through again, and must come out
// the same. The chunks hold every byte value, so the escape appears in the plain text too.
TEST(HexRuns, ACountedChunkPacksAsAnUncountedCopyDoes) {
  std::mt19937_64 rng(11);
  const std::string shared = RandomUuid(rng);
  std::vector<std::string> chunks;
  for (int c = 0; c < 6; ++c) {
    std::string raw;
    for (int b = 0; b < 256; ++b) raw.push_back(static_cast<char>(b));
    for (int k = 0; k < 40; ++k) {
      switch (rng() % 4) {
        case 0:
          raw += shared;
          break;
        case 1:
          raw += RandomUuid(rng);
          break;
        case 2:
          raw += "x" + std::string(8 + rng() % 30, "0123456789abcdef"[rng() % 16]);
          break;
        default:
          raw.push_back(static_cast<char>(rng() % 256));
      }
    }
    chunks.push_back(raw);
  }
  HexTableBuilder builder;
  std::vector<size_t> numbers;
  for (const std::string& raw : chunks) numbers.push_back(builder.Count(raw));
  std::string table_chunk;
  builder.Finish(&table_chunk);
  HexTable table;
  ASSERT_TRUE(DecodeHexTable(table_chunk, &table).ok());
  ASSERT_GT(builder.size(), 0u);
  for (size_t c = 0; c < chunks.size(); ++c) {
    const std::string& raw = chunks[c];
    size_t count = 0;
    ASSERT_NE(builder.RunsOf(numbers[c], raw.size(), &count), nullptr);
    EXPECT_GT(count, 0u);
    // Named with another chunk's size, it is not that chunk.
    EXPECT_EQ(builder.RunsOf(numbers[c], raw.size() + 1, &count), nullptr);
    HexPacked counted, looked;
    EXPECT_EQ(PackHexRuns(raw, 0, &counted, &builder, numbers[c]),
              PackHexRuns(raw, 0, &looked, &builder));
    EXPECT_EQ(counted.escape, looked.escape);
    EXPECT_EQ(counted.text, looked.text);
    EXPECT_EQ(counted.nibbles, looked.nibbles);
    std::string out;
    Status s =
        UnpackHexRuns(counted.escape, counted.text, counted.nibbles, raw.size(), &out, &table);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out, raw);
  }
  // Cleared, the builder knows no chunk and no run.
  builder.Clear();
  size_t count = 0;
  EXPECT_EQ(builder.RunsOf(numbers[0], chunks[0].size(), &count), nullptr);
  EXPECT_EQ(builder.Find(shared), -1);
  EXPECT_EQ(builder.size(), 0u);
}

// The table holds only runs of chunks the writer will store packed: under 64 bytes, or with
// runs under a sixteenth of it, a chunk's runs would fill the table for nothing.
TEST(HexRuns, OnlyChunksThatWillBePackedCountTowardsTheTable) {
  const std::string id = "0123456789abcdef";
  const std::string shorter = "id=" + id + " again " + id;    // under 64 bytes
  const std::string sparse = id + std::string(16 * 16, '.');  // runs: a 17th of it
  const std::string dense = "request " + id + " user " + id + " and " + id + std::string(20, '.');
  ASSERT_LT(shorter.size(), 64u);
  ASSERT_LT(id.size(), MinPackedChars(sparse.size()));
  ASSERT_GE(3 * id.size(), MinPackedChars(dense.size()));
  HexTableBuilder builder;
  builder.Count(shorter);
  builder.Count(sparse);
  std::string chunk;
  builder.Finish(&chunk);
  EXPECT_EQ(builder.size(), 0u);
  EXPECT_EQ(builder.Find(id), -1);
  builder.Clear();
  builder.Count(shorter);
  builder.Count(dense);
  chunk.clear();
  builder.Finish(&chunk);
  EXPECT_EQ(builder.size(), 1u);
  EXPECT_EQ(builder.Find(id), 0);
}

TEST(HexRuns, ABadTableIsCorrupt) {
  HexTable table;
  EXPECT_TRUE(DecodeHexTable(std::string(1, '\0'), &table).ok());
  EXPECT_EQ(table.size(), 0u);
  const std::string uuid_digits(16, '\x11');
  for (const std::string& bad : {
           std::string(),                                   // no count
           std::string("\x02\x7f", 2) + uuid_digits,        // two runs, one mark
           std::string("\x01\x7f", 2) + uuid_digits + "x",  // digits left over
           std::string("\x01\x7f", 2) + "short",            // digits missing
           std::string("\x01\x80", 2) + uuid_digits,        // the reference mark
           std::string("\x01\x00", 2) + uuid_digits,        // the escape's own mark
       }) {
    EXPECT_EQ(DecodeHexTable(bad, &table).code(), Status::Code::kCorruption);
  }
}

}  // namespace
}  // namespace waggle::storage::columnar::block
