#include "storage/columnar/block/hex_runs.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/coding.h"
#include "base/hex.h"

namespace waggle::storage::columnar::block {
namespace {

// A run's mark after the escape byte: 1..126 lowercase, 129..254 uppercase, each for runs of
// kMinHexRun to kMaxHexRun characters; 127 and 255 a UUID in either case (8-4-4-4-12 digits,
// 36 characters); 0 the escape byte itself.
constexpr size_t kMaxHexRun = kMinHexRun + 125;
constexpr uint8_t kUpperMarks = 128;
// After the escape, 128 marks a reference: a varint, the run's number in the group's table.
constexpr uint8_t kTableMark = 128;
constexpr uint8_t kUuidMark = 127;
constexpr size_t kUuidLength = 36;

constexpr uint8_t kLower = 1, kUpper = 2;
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = kLower | kUpper;
  for (int c = 'a'; c <= 'f'; ++c) t[c] = kLower;
  for (int c = 'A'; c <= 'F'; ++c) t[c] = kUpper;
  return t;
}();

// How many characters from `p` (at most `n`) are of class `cls`.
size_t RunLength(const uint8_t* p, size_t n, uint8_t cls) {
  size_t i = 0;
  while (i < n && (kClass[p[i]] & cls) != 0) ++i;
  return i;
}

// Whether the 36 characters at `p` are a UUID whose digits are all of class `cls`.
bool IsUuid(const uint8_t* p, uint8_t cls) {
  for (size_t i = 0; i < kUuidLength; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? p[i] != '-' : (kClass[p[i]] & cls) == 0) return false;
  }
  return true;
}

// The 32 digits of a UUID at `p`, two to a byte, at `out`.
void PutUuidNibbles(const uint8_t* p, uint8_t* out) {
  for (size_t i = 0; i < kUuidLength;) {
    if (p[i] == '-') ++i;
    *out++ = static_cast<uint8_t>(hex::DigitValue(static_cast<char>(p[i])) << 4 |
                                  hex::DigitValue(static_cast<char>(p[i + 1])));
    i += 2;
  }
}

Status Corrupt(std::string_view what) {
  return Status::Corruption("hex-packed chunk: " + std::string(what));
}

// The run that starts at p[i], if any: sets *len (0 for none) and its mark.
void RunAt(const uint8_t* p, size_t n, size_t i, size_t* len, uint8_t* mark) {
  *len = 0;
  const uint8_t cls = kClass[p[i]];
  if (cls == 0 || i + kMinHexRun > n) return;
  if (i + kUuidLength <= n) {
    const uint8_t uuid = IsUuid(p + i, kLower) ? kLower : IsUuid(p + i, kUpper) ? kUpper : 0;
    if (uuid != 0) {
      *len = kUuidLength;
      *mark = uuid == kLower ? kUuidMark : kUpperMarks + kUuidMark;
      return;
    }
  }
  // Capped, so a long run is read once, not again from each place it is cut.
  const size_t most = std::min(n - i, kMaxHexRun);
  const size_t lower = (cls & kLower) ? RunLength(p + i, most, kLower) : 0;
  const size_t upper = (cls & kUpper) ? RunLength(p + i, most, kUpper) : 0;
  const size_t run = std::max(lower, upper);
  if (run < kMinHexRun) return;
  *len = run;
  const auto m = static_cast<uint8_t>(run - kMinHexRun + 1);
  *mark = lower >= upper ? m : static_cast<uint8_t>(kUpperMarks + m);
}

// Appends the digits of the run of `len` characters at `p` with mark `mark`, two to a byte.
void PutRunNibbles(const uint8_t* p, size_t len, uint8_t mark, std::string* nibbles) {
  const size_t at = nibbles->size();
  if (mark % kUpperMarks == kUuidMark) {
    nibbles->resize(at + 16);
    PutUuidNibbles(p, reinterpret_cast<uint8_t*>(nibbles->data() + at));
    return;
  }
  nibbles->resize(at + (len + 1) / 2);
  auto* out = reinterpret_cast<uint8_t*>(nibbles->data() + at);
  const std::string_view run(reinterpret_cast<const char*>(p), len);  // all hex digits
  hex::Decode(run.substr(0, len - len % 2), out, len / 2);
  if (len % 2 != 0) out[len / 2] = static_cast<uint8_t>(hex::DigitValue(run.back()) << 4);
}

// The characters of a run of mark `mark` (not a UUID's), and the digit bytes any run takes.
size_t MarkedLength(uint8_t mark) {
  return (mark > kUpperMarks ? mark - kUpperMarks : mark) + kMinHexRun - 1;
}
size_t RunBytes(uint8_t mark) {
  return mark % kUpperMarks == kUuidMark ? 16 : (MarkedLength(mark) + 1) / 2;
}

// Each byte of digits as its two characters, in either case: one copy of two bytes a byte.
struct DigitPairs {
  std::array<char, 512> lower, upper;
};
constexpr DigitPairs kDigitPairs = [] {
  DigitPairs p{};
  for (int b = 0; b < 256; ++b) {
    p.lower[2 * b] = hex::kLowerDigits[b >> 4];
    p.lower[2 * b + 1] = hex::kLowerDigits[b & 15];
    p.upper[2 * b] = hex::kUpperDigits[b >> 4];
    p.upper[2 * b + 1] = hex::kUpperDigits[b & 15];
  }
  return p;
}();

// Writes the run of mark `mark` (not 0 nor kTableMark) from the digits at the start of
// `nibbles` to dst[*o...], at most raw_length in all; sets *used to the digit bytes it took.
Status PutRun(uint8_t mark, std::string_view nibbles, char* dst, size_t* o, size_t raw_length,
              size_t* used) {
  const char* pairs = mark > kUpperMarks ? kDigitPairs.upper.data() : kDigitPairs.lower.data();
  const auto* nb = reinterpret_cast<const uint8_t*>(nibbles.data());
  char* out = dst + *o;
  if (mark % kUpperMarks == kUuidMark) {
    if (kUuidLength > raw_length - *o) return Corrupt("longer than its raw length");
    if (nibbles.size() < 16) return Corrupt("runs past the nibbles");
    // 8-4-4-4-12 digits: bytes 0-3, 4-5, 6-7, 8-9 and 10-15.
    for (size_t k = 0; k < 16; ++k) {
      if (k == 4 || k == 6 || k == 8 || k == 10) *out++ = '-';
      std::memcpy(out, pairs + 2 * nb[k], 2);
      out += 2;
    }
    *o += kUuidLength;
    *used = 16;
    return Status::Ok();
  }
  const size_t len = MarkedLength(mark);
  const size_t bytes = RunBytes(mark);
  if (len > raw_length - *o) return Corrupt("longer than its raw length");
  if (bytes > nibbles.size()) return Corrupt("runs past the nibbles");
  for (size_t k = 0; k < len / 2; ++k) std::memcpy(out + 2 * k, pairs + 2 * nb[k], 2);
  if (len % 2 != 0) {
    if ((nb[len / 2] & 15) != 0) return Corrupt("odd run not padded with zero");
    out[len - 1] = pairs[2 * nb[len / 2]];
  }
  *o += len;
  *used = bytes;
  return Status::Ok();
}

// Bit k of *lower (*upper): whether p[k] is of class kLower (kUpper), for 64 characters.
void Classes64(const uint8_t* p, uint64_t* lower, uint64_t* upper) {
#if defined(__SSE2__)
  uint64_t l = 0, u = 0;
  for (int b = 0; b < 4; ++b) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * b));
    // Within [lo, hi], compared as signed bytes: the ranges are ASCII, and bytes from 0x80
    // are negative.
    auto within = [&](char lo, char hi) {
      return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(static_cast<char>(lo - 1))),
                           _mm_cmplt_epi8(v, _mm_set1_epi8(static_cast<char>(hi + 1))));
    };
    const __m128i digit = within('0', '9');
    l |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_or_si128(digit, within('a', 'f'))))}
         << (16 * b);
    u |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_or_si128(digit, within('A', 'F'))))}
         << (16 * b);
  }
  *lower = l;
  *upper = u;
#else
  uint64_t l = 0, u = 0;
  for (int k = 0; k < 64; ++k) {
    l |= uint64_t{(kClass[p[k]] & kLower) != 0} << k;
    u |= uint64_t{(kClass[p[k]] & kUpper) != 0} << k;
  }
  *lower = l;
  *upper = u;
#endif
}

// Bit k set when bits k to k + 7 of `m` all are.
uint64_t EightSet(uint64_t m) {
  m &= m >> 1;
  m &= m >> 2;
  return m & (m >> 4);
}

// The first position from `i` on where kMinHexRun characters of one class begin, or a
// position from which fewer than 64 characters are left (n at most). Only there can a run
// start, a UUID included (its first 8 characters are of one class): other positions are
// passed over 57 at a time, 64 characters classified at once, in place of RunAt at each.
// That was 7% of EncodeBlock, in text where most characters are letters a to f and digits.
size_t NextRunStart(const uint8_t* p, size_t n, size_t i) {
  static_assert(kMinHexRun == 8, "EightSet");
  constexpr size_t kWhole = 64 - kMinHexRun + 1;  // positions whose 8 are in the 64 read
  for (; i + 64 <= n; i += kWhole) {
    uint64_t lower, upper;
    Classes64(p + i, &lower, &upper);
    const uint64_t starts = EightSet(lower) | EightSet(upper);
    if (starts != 0) return i + static_cast<size_t>(std::countr_zero(starts));
  }
  return i;
}

// Calls each(run, mark) for every run of `raw`, in order.
template <typename Fn>
void ForEachRun(std::string_view raw, const Fn& each) {
  const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
  const size_t n = raw.size();
  for (size_t i = 0; i < n;) {
    i = NextRunStart(p, n, i);
    if (i >= n) break;
    size_t len;
    uint8_t mark;
    RunAt(p, n, i, &len, &mark);
    if (len > 0) each(raw.substr(i, len), mark);
    i += len > 0 ? len : 1;
  }
}

}  // namespace

Status DecodeHexTable(std::string_view in, HexTable* table) {
  uint64_t count;
  if (!coding::GetVarint64(&in, &count) || count > in.size()) {
    return Status::Corruption("hex table: bad count");
  }
  table->marks.assign(in.begin(), in.begin() + static_cast<ptrdiff_t>(count));
  in.remove_prefix(count);
  table->offsets.resize(count);
  size_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t mark = table->marks[i];
    if (mark == 0 || mark == kTableMark) return Status::Corruption("hex table: bad run mark");
    table->offsets[i] = static_cast<uint32_t>(at);
    at += RunBytes(mark);
    if (at > in.size()) return Status::Corruption("hex table: runs past the digits");
  }
  if (at != in.size()) return Status::Corruption("hex table: digits left over");
  table->nibbles = in;
  return Status::Ok();
}

size_t MinPackedChars(size_t raw_size) { return raw_size < 64 ? SIZE_MAX : raw_size / 16; }

void HexTableBuilder::Clear() {
  runs_.Clear();
  entries_.clear();
  found_.clear();
  chunks_.clear();
  size_ = 0;
}

size_t HexTableBuilder::Count(std::string_view raw) {
  const size_t first = found_.size();
  size_t chars = 0;
  ForEachRun(raw, [&](std::string_view run, uint8_t mark) {
    found_.push_back({static_cast<uint32_t>(run.data() - raw.data()),
                      static_cast<uint32_t>(run.size()), Found::kNoEntry, mark});
    chars += run.size();
  });
  // Runs of a chunk that will not be packed would only fill the table.
  if (chars >= MinPackedChars(raw.size())) {
    for (size_t r = first; r < found_.size(); ++r) {
      Found& f = found_[r];
      f.entry = runs_.Intern(raw.substr(f.at, f.length));
      if (f.entry == entries_.size()) entries_.push_back({0, -1, f.mark});
      ++entries_[f.entry].seen;
    }
  }
  chunks_.push_back({raw.size(), first, found_.size()});
  return chunks_.size() - 1;
}

void HexTableBuilder::Finish(std::string* out) {
  std::string marks, nibbles;
  for (uint32_t e = 0; e < entries_.size(); ++e) {
    Entry& entry = entries_[e];
    if (entry.seen < 2) continue;
    entry.number = static_cast<int64_t>(size_++);
    marks.push_back(static_cast<char>(entry.mark));
    const std::string_view run = runs_.at(e);
    PutRunNibbles(reinterpret_cast<const uint8_t*>(run.data()), run.size(), entry.mark, &nibbles);
  }
  coding::PutVarint64(out, size_);
  out->append(marks);
  out->append(nibbles);
}

uint32_t HexTableBuilder::EntryOf(std::string_view run) const {
  const int64_t code = runs_.Find(run);
  return code < 0 ? Found::kNoEntry : static_cast<uint32_t>(code);
}

int64_t HexTableBuilder::Find(std::string_view run) const {
  return NumberOf({0, 0, EntryOf(run), 0});
}

const HexTableBuilder::Found* HexTableBuilder::RunsOf(size_t chunk, size_t raw_size,
                                                      size_t* count) const {
  if (chunk >= chunks_.size() || chunks_[chunk].raw_size != raw_size) return nullptr;
  *count = chunks_[chunk].end - chunks_[chunk].first;
  return found_.data() + chunks_[chunk].first;
}

namespace {

// The byte `raw` holds least often, the escape of its packed form: escaping costs least.
uint8_t LeastUsedByte(const uint8_t* p, size_t n) {
  std::array<size_t, 256> counts{};
  for (size_t i = 0; i < n; ++i) ++counts[p[i]];
  uint8_t escape = 0;
  for (int b = 1; b < 256; ++b) {
    if (counts[b] < counts[escape]) escape = static_cast<uint8_t>(b);
  }
  return escape;
}

// Appends the text between runs, escaping the escape byte.
void PutPlain(const uint8_t* p, size_t n, uint8_t escape, std::string* body) {
  for (;;) {
    const void* hit = std::memchr(p, escape, n);
    const size_t plain = hit ? static_cast<size_t>(static_cast<const uint8_t*>(hit) - p) : n;
    body->append(reinterpret_cast<const char*>(p), plain);
    if (hit == nullptr) return;
    body->push_back(static_cast<char>(escape));
    body->push_back('\0');
    p += plain + 1;
    n -= plain + 1;
  }
}

}  // namespace

size_t PackHexRuns(std::string_view raw, size_t min_packed, HexPacked* out,
                   const HexTableBuilder* table, size_t chunk) {
  const auto* p = reinterpret_cast<const uint8_t*>(raw.data());
  const size_t n = raw.size();
  // The runs: as the table's Count found them, else looked for here (and looked up in the
  // table, if any).
  size_t count = 0;
  const HexTableBuilder::Found* runs =
      table == nullptr ? nullptr : table->RunsOf(chunk, raw.size(), &count);
  static thread_local std::vector<HexTableBuilder::Found> found;
  if (runs == nullptr) {
    found.clear();
    ForEachRun(raw, [&](std::string_view run, uint8_t mark) {
      found.push_back(
          {static_cast<uint32_t>(run.data() - raw.data()), static_cast<uint32_t>(run.size()),
           table == nullptr ? HexTableBuilder::Found::kNoEntry : table->EntryOf(run), mark});
    });
    runs = found.data();
    count = found.size();
  }
  // Most chunks that are not text have no runs, and are left at that.
  size_t packed = 0;
  for (size_t r = 0; r < count; ++r) packed += runs[r].length;
  if (packed < min_packed) return packed;
  const uint8_t escape = LeastUsedByte(p, n);
  std::string& body = out->text;
  std::string& nibbles = out->nibbles;
  body.clear();
  nibbles.clear();
  body.reserve(n - packed / 2);
  out->escape = escape;
  // Each run: its mark and digits, or a reference to the table.
  size_t i = 0;
  for (size_t r = 0; r < count; ++r) {
    const HexTableBuilder::Found& f = runs[r];
    PutPlain(p + i, f.at - i, escape, &body);
    body.push_back(static_cast<char>(escape));
    const int64_t number = table == nullptr ? -1 : table->NumberOf(f);
    if (number >= 0) {
      body.push_back(static_cast<char>(kTableMark));
      coding::PutVarint64(&body, static_cast<uint64_t>(number));
    } else {
      body.push_back(static_cast<char>(f.mark));
      PutRunNibbles(p + f.at, f.length, f.mark, &nibbles);
    }
    i = f.at + f.length;
  }
  PutPlain(p + i, n - i, escape, &body);
  return packed;
}

Status UnpackHexRuns(uint8_t escape, std::string_view body, std::string_view nibbles,
                     size_t raw_length, std::string* out, const HexTable* table) {
  out->resize(raw_length);
  char* dst = out->data();
  size_t o = 0;
  for (size_t i = 0; i < body.size();) {
    // Copy up to the next escape in one go.
    const void* hit = std::memchr(body.data() + i, escape, body.size() - i);
    const size_t plain = hit ? static_cast<const char*>(hit) - body.data() - i : body.size() - i;
    if (plain > raw_length - o) return Corrupt("longer than its raw length");
    std::memcpy(dst + o, body.data() + i, plain);
    o += plain;
    i += plain;
    if (i == body.size()) break;
    if (i + 1 == body.size()) return Corrupt("escape at the end");
    const auto mark = static_cast<uint8_t>(body[i + 1]);
    i += 2;
    if (mark == 0) {
      if (o == raw_length) return Corrupt("longer than its raw length");
      dst[o++] = static_cast<char>(escape);
      continue;
    }
    size_t used;
    if (mark == kTableMark) {
      std::string_view rest = body.substr(i);
      uint64_t number;
      if (table == nullptr) return Corrupt("bad run mark");
      if (!coding::GetVarint64(&rest, &number) || number >= table->size()) {
        return Corrupt("bad reference to the hex table");
      }
      i = body.size() - rest.size();
      WAGGLE_RETURN_IF_ERROR(PutRun(table->marks[number],
                                    table->nibbles.substr(table->offsets[number]), dst, &o,
                                    raw_length, &used));
      continue;
    }
    WAGGLE_RETURN_IF_ERROR(PutRun(mark, nibbles, dst, &o, raw_length, &used));
    nibbles.remove_prefix(used);
  }
  if (o != raw_length) return Corrupt("shorter than its raw length");
  if (!nibbles.empty()) return Corrupt("nibbles left over");
  return Status::Ok();
}

}  // namespace waggle::storage::columnar::block
