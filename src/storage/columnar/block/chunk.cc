#include "storage/columnar/block/chunk.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <numeric>

#include "base/coding.h"
#include "base/crc32c.h"
#include "column/bitpack.h"
#include "storage/columnar/block/hex_runs.h"
#include "storage/fields.h"
#include "storage/record_coding.h"

namespace waggle::storage::columnar::block {
namespace {

constexpr uint8_t kEncodingFor = 'F';
constexpr uint8_t kEncodingDelta = 'D';
// The same two with a common factor: the packed numbers are multiplied by it (block format 2).
constexpr uint8_t kEncodingScaledFor = 'M';
constexpr uint8_t kEncodingScaledDelta = 'E';
// Before one of the four above: its packed numbers of `width` bits or more are exceptions,
// packed as all ones and listed after the bits (block format 5).
constexpr uint8_t kEncodingPatched = 'P';
constexpr uint8_t kEncodingDictionary = 'S';
// A dictionary chunk whose entries are all distinct, so the codes are 0, 1, ... and left out
// (block format 2): a request id, say.
constexpr uint8_t kEncodingDistinct = 'T';
// A dictionary chunk whose codes are given by recency (block format 7): 0 for the next entry
// not used yet, r for the entry used r-th most recently. Rows are sorted by trace, so a
// trace's user id, URL or client address comes again within a few rows: small numbers, which
// zstd compresses far better than codes of 8 bits or more packed.
constexpr uint8_t kEncodingRecency = 'U';
// Codes at least this wide are written by recency.
constexpr int kRecencyMinWidth = 8;
constexpr uint8_t kEncodingFieldReference = 'R';
// In place of an attribute chunk's row positions (block format 7): the rows are those of an
// earlier attribute column in the row group, whose index follows. Several attributes of one
// kind of span (rpc.system, rpc.service, rpc.method, aws.region, ...) have the same rows.
constexpr uint8_t kSameRows = 'C';

Status Corrupt(std::string_view what) {
  return Status::Corruption("block chunk: " + std::string(what));
}

// A decompression context per thread: ZSTD_decompress would set one up (and its tables) on
// every call.
ZSTD_DCtx* ThreadDCtx() {
  static thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                              &ZSTD_freeDCtx);
  return dctx.get();
}

// The greatest common divisor of numbers given one at a time. Most numbers leave it as it is
// (timestamps in whole microseconds), and that it divides one is tested with a multiply by
// its odd part's inverse modulo 2^64 (Granlund and Montgomery) where std::gcd would loop on
// divisions: std::gcd per number was half the time of encoding the int fields.
class RunningGcd {
 public:
  uint64_t value() const { return g_; }

  void Add(uint64_t d) {
    if (g_ == 1 || Divides(d)) return;
    g_ = std::gcd(g_, d);
    shift_ = std::countr_zero(g_);  // g_ is not 0: d was not 0, as every number divides 0
    const uint64_t odd = g_ >> shift_;
    uint64_t inverse = odd;  // right in the low 3 bits (odd * odd is 1 modulo 8)
    for (int i = 0; i < 5; ++i) inverse *= 2 - odd * inverse;  // Newton: twice the bits each
    inverse_ = inverse;
    limit_ = UINT64_MAX / odd;
  }

 private:
  // Whether g_ divides d: d's low shift_ bits are 0, and the rest is a multiple of the odd
  // part (exactly when its product with the inverse is at most UINT64_MAX / odd).
  bool Divides(uint64_t d) const {
    if (g_ == 0) return d == 0;
    return (d & ((uint64_t{1} << shift_) - 1)) == 0 && (d >> shift_) * inverse_ <= limit_;
  }

  uint64_t g_ = 0, inverse_ = 0, limit_ = 0;
  int shift_ = 0;
};

// The unsigned distance from `lo` to each value (wrapping), divided by their greatest common
// divisor when that is 2 or more (else *scale is 1), and the width of the result.
void PackFrom(const int64_t* v, size_t n, int64_t lo, std::vector<uint64_t>* scratch, int* width,
              uint64_t* scale) {
  scratch->resize(n);
  uint64_t max = 0;
  RunningGcd g;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t d = static_cast<uint64_t>(v[i]) - static_cast<uint64_t>(lo);
    (*scratch)[i] = d;
    max = std::max(max, d);
    g.Add(d);
  }
  *scale = g.value() >= 2 ? g.value() : 1;
  if (*scale > 1) {
    for (uint64_t& d : *scratch) d /= *scale;
    max /= *scale;
  }
  *width = column::BitWidth(max);
}

}  // namespace

void PutChunkRef(std::string* out, const ChunkRef& ref) {
  coding::PutVarint64(out, ref.offset);
  coding::PutVarint64(out, ref.stored_length);
  coding::PutVarint64(out, ref.raw_length);
  out->push_back(static_cast<char>(ref.compression));
  coding::PutFixed32(out, ref.crc);
}

bool GetChunkRef(std::string_view* in, ChunkRef* ref) {
  uint64_t offset, stored, raw;
  if (!coding::GetVarint64(in, &offset) || !coding::GetVarint64(in, &stored) ||
      !coding::GetVarint64(in, &raw) || in->empty()) {
    return false;
  }
  const uint8_t c = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (c > 3 || stored > UINT32_MAX || raw > UINT32_MAX) return false;
  ref->offset = offset;
  ref->stored_length = static_cast<uint32_t>(stored);
  ref->raw_length = static_cast<uint32_t>(raw);
  ref->compression = static_cast<Compression>(c);
  return coding::GetFixed32(in, &ref->crc);
}

namespace {

// A chunk is stored compressed only when that saves at least an eighth of its raw bytes.
bool Saves(size_t compressed, size_t raw) { return compressed <= raw - raw / 8; }

}  // namespace

ChunkRef AppendChunk(std::string_view raw, Compression preferred, std::string* file,
                     const HexTableBuilder* table, size_t counted) {
  ChunkRef ref;
  ref.offset = file->size();
  ref.raw_length = static_cast<uint32_t>(raw.size());
  std::string packed;
  const bool text = preferred == Compression::kHexZstd;
  if ((preferred == Compression::kZstd || text) && raw.size() >= 64) {
    preferred = Compression::kZstd;
    static thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(),
                                                                                &ZSTD_freeCCtx);
    // Appends the zstd frame of `text` to `out`; false when zstd fails.
    auto compress = [&](std::string_view text, std::string* out) {
      const size_t at = out->size();
      out->resize(at + ZSTD_compressBound(text.size()));
      const size_t n = ZSTD_compressCCtx(cctx.get(), out->data() + at, out->size() - at,
                                         text.data(), text.size(), kZstdLevel);
      out->resize(ZSTD_isError(n) ? at : at + n);
      return !ZSTD_isError(n);
    };
    // Hex runs packed (MinPackedChars). Only the text goes through zstd: the nibbles of random
    // ids would cost the text's entropy coding more than they save.
    static thread_local HexPacked hex;
    const size_t min_packed = MinPackedChars(raw.size());
    std::string with_runs;
    if (text && PackHexRuns(raw, min_packed, &hex, table, counted) >= min_packed) {
      std::string frame;
      if (compress(hex.text, &frame)) {
        with_runs.push_back(static_cast<char>(hex.escape));
        coding::PutVarint64(&with_runs, frame.size());
        with_runs.append(frame);
        with_runs.append(hex.nibbles);
      }
      if (hex.text.capacity() > (4 << 20)) hex = HexPacked();
    }
    // Ids that repeat (one trace's id in each of its documents) zstd matches in the plain text,
    // where as nibbles they would take their length each time: both forms are compressed and
    // the smaller kept. A chunk its row group's table counted refers to the group's repeated
    // runs instead; packed, it came out smaller than plain in every such chunk of the workload
    // (600 of 600 at 1M spans), so plain is tried only when packing does not save an eighth.
    const bool counted_in_table = table != nullptr && counted != HexTableBuilder::kNotCounted;
    if (with_runs.empty() || !counted_in_table || !Saves(with_runs.size(), raw.size())) {
      compress(raw, &packed);  // empty if zstd failed
    }
    if (!with_runs.empty() && (packed.empty() || with_runs.size() < packed.size())) {
      packed = std::move(with_runs);
      preferred = Compression::kHexZstd;
    }
  } else if (preferred == Compression::kLz4 && raw.size() >= 64) {
    packed.resize(static_cast<size_t>(LZ4_compressBound(static_cast<int>(raw.size()))));
    int n = LZ4_compress_default(raw.data(), packed.data(), static_cast<int>(raw.size()),
                                 static_cast<int>(packed.size()));
    packed.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  std::string_view stored = raw;
  if (!packed.empty() && Saves(packed.size(), raw.size())) {
    stored = packed;
    ref.compression = preferred;
  }
  ref.stored_length = static_cast<uint32_t>(stored.size());
  ref.crc = crc32c::Mask(crc32c::Value(stored));
  file->append(stored);
  return ref;
}

ChunkRef AppendSmallerChunk(std::string_view raw, std::string_view alt, Compression preferred,
                            std::string* file) {
  ChunkRef first = AppendChunk(raw, preferred, file);
  if (alt.empty()) return first;
  ChunkRef second = AppendChunk(alt, preferred, file);
  if (second.stored_length < first.stored_length) {
    file->erase(first.offset, first.stored_length);
    second.offset = first.offset;
    return second;
  }
  file->resize(second.offset);
  return first;
}

Status ReadChunk(const ChunkRef& ref, std::string_view stored, bool verify, std::string* scratch,
                 std::string_view* raw, const HexTable* table) {
  if (stored.size() != ref.stored_length) return Corrupt("short read");
  if (verify && crc32c::Unmask(ref.crc) != crc32c::Value(stored)) {
    return Status::Corruption("block chunk at offset " + std::to_string(ref.offset) +
                              ": checksum mismatch");
  }
  switch (ref.compression) {
    case Compression::kNone:
      if (ref.raw_length != stored.size()) return Corrupt("length mismatch");
      *raw = stored;
      return Status::Ok();
    case Compression::kZstd: {
      scratch->resize(ref.raw_length);
      size_t n = ZSTD_decompressDCtx(ThreadDCtx(), scratch->data(), scratch->size(), stored.data(),
                                     stored.size());
      if (ZSTD_isError(n) || n != ref.raw_length) return Corrupt("bad zstd frame");
      *raw = *scratch;
      return Status::Ok();
    }
    case Compression::kHexZstd: {
      // Escape byte, zstd frame of the text, then the nibbles as they are (hex_runs.h).
      std::string_view in = stored;
      uint64_t frame_length;
      if (in.empty()) return Corrupt("empty hex-packed chunk");
      const auto escape = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      if (!coding::GetVarint64(&in, &frame_length) || frame_length > in.size()) {
        return Corrupt("bad hex-packed frame length");
      }
      const std::string_view frame = in.substr(0, frame_length);
      // The escape is the chunk's least frequent byte, so at most one in 256 is escaped.
      const uint64_t size = ZSTD_getFrameContentSize(frame.data(), frame.size());
      if (size > ref.raw_length + ref.raw_length / 256 + 1) return Corrupt("bad zstd frame");
      static thread_local std::string text;
      text.resize(size);
      size_t n =
          ZSTD_decompressDCtx(ThreadDCtx(), text.data(), text.size(), frame.data(), frame.size());
      Status s = ZSTD_isError(n) || n != size ? Corrupt("bad zstd frame")
                                              : UnpackHexRuns(escape, text, in.substr(frame_length),
                                                              ref.raw_length, scratch, table);
      if (text.capacity() > (4 << 20)) text = std::string();  // whatever the outcome
      if (s.ok()) *raw = *scratch;
      return s;
    }
    case Compression::kLz4: {
      scratch->resize(ref.raw_length);
      int n = LZ4_decompress_safe(stored.data(), scratch->data(), static_cast<int>(stored.size()),
                                  static_cast<int>(scratch->size()));
      if (n < 0 || static_cast<uint32_t>(n) != ref.raw_length) return Corrupt("bad lz4 block");
      *raw = *scratch;
      return Status::Ok();
    }
  }
  return Corrupt("unknown compression");
}

namespace {

// The width below 64 that packs `u` smallest with the numbers that do not fit patched (see
// kEncodingPatched), and the bytes that takes, estimated: the packed bits, the count and the
// largest excess, and for each exception a byte of gap and the varint of its number (which is
// at least that of its excess).
struct Patching {
  int width = 0;
  size_t bytes = SIZE_MAX;
};
Patching BestPatching(const std::vector<uint64_t>& u) {
  size_t count[65] = {};
  for (uint64_t x : u) ++count[column::BitWidth(x)];
  Patching best;
  size_t exceptions = count[64], exception_bytes = count[64] * 10;  // the numbers wider than w
  size_t largest_bytes = count[64] > 0 ? 10 : 0;
  for (int w = 63; w >= 1; --w) {
    const size_t bytes = column::PackedSize(u.size(), w) + coding::VarintLength(exceptions) +
                         largest_bytes + exceptions + exception_bytes;
    if (exceptions > 0 && bytes < best.bytes) best = {w, bytes};
    exceptions += count[w];
    exception_bytes += count[w] * static_cast<size_t>((w + 6) / 7);
    if (largest_bytes == 0 && count[w] > 0) largest_bytes = static_cast<size_t>((w + 6) / 7);
  }
  return best;
}

// Packs `u` in `width` bits after the header, patched (kEncodingPatched) when `patched`.
void PutPacked(std::vector<uint64_t>* u, int width, bool patched, std::string* out) {
  if (!patched) {
    column::BitPack(u->data(), u->size(), width, out);
    return;
  }
  const uint64_t all_ones = (uint64_t{1} << width) - 1;  // width is 1 to 63
  std::string exceptions;
  size_t count = 0, next = 0;  // the position after the last exception
  uint64_t largest = 0;        // excess
  for (size_t i = 0; i < u->size(); ++i) {
    uint64_t& x = (*u)[i];
    if (x <= all_ones) continue;
    coding::PutVarint64(&exceptions, i - next);
    coding::PutVarint64(&exceptions, x - all_ones);
    largest = std::max(largest, x - all_ones);
    x = all_ones;
    next = i + 1;
    ++count;
  }
  column::BitPack(u->data(), u->size(), width, out);
  coding::PutVarint64(out, count);
  coding::PutVarint64(out, largest);
  out->append(exceptions);
}

}  // namespace

namespace {

// EncodeInts, patched when `may_patch` and that is smaller; when it patches, *plain (when
// given) gets the plain form appended.
bool EncodeIntsMaybePatched(const int64_t* v, size_t n, std::string* out, bool may_patch,
                            std::string* plain) {
  if (n == 0) {
    out->push_back(static_cast<char>(kEncodingFor));
    coding::PutVarint64(out, 0);
    out->push_back(0);
    return false;
  }
  // Kept from call to call on the thread, as large as its largest chunk (a row group's values):
  // three allocations of up to 64 KiB for each int chunk were as many trips to jemalloc's arena.
  static thread_local std::vector<uint64_t> scratch, dscratch;
  static thread_local std::vector<int64_t> deltas;
  // Deltas (wrapping), framed by their minimum; the minimum of the values in the same pass.
  deltas.resize(n - 1);
  int64_t lo = v[0], dlo = INT64_MAX;
  for (size_t i = 1; i < n; ++i) {
    const auto d =
        static_cast<int64_t>(static_cast<uint64_t>(v[i]) - static_cast<uint64_t>(v[i - 1]));
    deltas[i - 1] = d;
    lo = std::min(lo, v[i]);
    dlo = std::min(dlo, d);
  }
  if (deltas.empty()) dlo = 0;
  int for_width;
  uint64_t for_scale;
  PackFrom(v, n, lo, &scratch, &for_width, &for_scale);
  int delta_width = 0;
  uint64_t delta_scale = 1;
  dscratch.clear();
  if (!deltas.empty()) {
    PackFrom(deltas.data(), deltas.size(), dlo, &dscratch, &delta_width, &delta_scale);
  }
  // Plain: delta when it saves more than its header's first value (counted as 64 bits).
  const bool delta =
      static_cast<size_t>(delta_width) * (n - 1) + 64 < static_cast<size_t>(for_width) * n;
  const size_t plain_bits =
      delta ? static_cast<size_t>(delta_width) * (n - 1) + 64 : static_cast<size_t>(for_width) * n;
  const auto put = [&](bool patched, bool as_delta, int width, std::string* to) {
    if (patched) to->push_back(static_cast<char>(kEncodingPatched));
    if (as_delta) {
      to->push_back(static_cast<char>(delta_scale > 1 ? kEncodingScaledDelta : kEncodingDelta));
      coding::PutVarsint64(to, v[0]);
      coding::PutVarsint64(to, dlo);
      if (delta_scale > 1) coding::PutVarint64(to, delta_scale);
      to->push_back(static_cast<char>(width));
      PutPacked(&dscratch, width, patched, to);
    } else {
      to->push_back(static_cast<char>(for_scale > 1 ? kEncodingScaledFor : kEncodingFor));
      coding::PutVarsint64(to, lo);
      if (for_scale > 1) coding::PutVarint64(to, for_scale);
      to->push_back(static_cast<char>(width));
      PutPacked(&scratch, width, patched, to);
    }
  };
  // Patched, frame of reference or delta, when the estimate says it saves a word (64 bits)
  // over plain.
  Patching patching;
  bool patched_delta = false;
  if (may_patch) {
    patching = BestPatching(scratch);
    if (!dscratch.empty()) {
      const Patching p = BestPatching(dscratch);
      if (p.bytes != SIZE_MAX && (p.bytes + 8 < patching.bytes || patching.bytes == SIZE_MAX)) {
        patching = p;
        patched_delta = true;
      }
    }
  }
  const size_t patched_bits =
      patching.bytes == SIZE_MAX ? SIZE_MAX : patching.bytes * 8 + (patched_delta ? 64 : 0);
  if (patched_bits == SIZE_MAX || patched_bits + 64 >= plain_bits) {
    put(false, delta, delta ? delta_width : for_width, out);
    return false;
  }
  // The estimate counts a byte for each gap: keep the plain form when it is not smaller after
  // all (exceptions spread wide apart). Plain first: patching rewrites the numbers.
  std::string local;
  if (plain == nullptr) plain = &local;
  const size_t plain_at = plain->size();
  put(false, delta, delta ? delta_width : for_width, plain);
  const size_t at = out->size();
  put(true, patched_delta, patching.width, out);
  if (out->size() - at < plain->size() - plain_at) return true;
  out->resize(at);
  out->append(*plain, plain_at);
  plain->resize(plain_at);
  return false;
}

}  // namespace

void EncodeInts(const int64_t* values, size_t n, std::string* out) {
  EncodeIntsMaybePatched(values, n, out, false, nullptr);
}

bool EncodeIntsPatched(const int64_t* values, size_t n, std::string* out, std::string* plain) {
  return EncodeIntsMaybePatched(values, n, out, true, plain);
}

namespace {

// The header of an int chunk of n values (docs/block-format.md, "Integers"), checked against
// what follows it; *in is left at the packed bits.
struct IntHeader {
  bool patched = false;
  bool delta = false;
  int64_t first = 0;  // delta: the first value
  int64_t base = 0;
  uint64_t scale = 1;
  int width = 0;
  size_t packed_count = 0;
  size_t packed_bytes = 0;

  // Patched: what an exception is packed as.
  uint64_t all_ones() const { return (uint64_t{1} << width) - 1; }  // width 1 to 63
};

Status GetIntHeader(std::string_view* in, size_t n, IntHeader* h) {
  if (in->empty()) return Corrupt("missing int encoding");
  h->patched = static_cast<uint8_t>((*in)[0]) == kEncodingPatched;
  if (h->patched) in->remove_prefix(1);
  if (in->empty()) return Corrupt("missing int encoding");
  const uint8_t encoding = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  h->delta = encoding == kEncodingDelta || encoding == kEncodingScaledDelta;
  const bool scaled = encoding == kEncodingScaledFor || encoding == kEncodingScaledDelta;
  if (!h->delta && !scaled && encoding != kEncodingFor) return Corrupt("unknown int encoding");
  if (h->delta) {
    if (!coding::GetVarsint64(in, &h->first)) return Corrupt("truncated delta header");
    if (n == 0) return Corrupt("delta encoding of no values");
  }
  if (!coding::GetVarsint64(in, &h->base)) return Corrupt("truncated int header");
  if (scaled && (!coding::GetVarint64(in, &h->scale) || h->scale < 2)) {
    return Corrupt("bad int scale");
  }
  if (in->empty()) return Corrupt("truncated int header");
  h->width = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (h->width > 64) return Corrupt("bit width over 64");
  if (h->patched && (h->width == 0 || h->width == 64)) {
    return Corrupt("patched ints of width 0 or 64");
  }
  h->packed_count = h->delta ? n - 1 : n;
  h->packed_bytes = column::PackedSize(h->packed_count, h->width);
  if (in->size() < h->packed_bytes) return Corrupt("truncated packed ints");
  return Status::Ok();
}

// The exception list of a patched chunk of `packed_count` numbers, after its packed bits: the
// count and the largest excess, read by Open, then each exception, by ForEach.
class Exceptions {
 public:
  Status Open(std::string_view* in, size_t packed_count, uint64_t all_ones) {
    packed_count_ = packed_count;
    if (!coding::GetVarint64(in, &count_) || count_ == 0 || count_ > packed_count ||
        !coding::GetVarint64(in, &largest_) || largest_ > UINT64_MAX - all_ones) {
      return Corrupt("bad header of patched ints");
    }
    return Status::Ok();
  }
  uint64_t largest() const { return largest_; }

  // Calls fn(position, excess) for each, in ascending position, reading them from *in.
  template <typename Fn>
  Status ForEach(std::string_view* in, const Fn& fn) const {
    size_t next = 0;  // the position after the last exception
    for (uint64_t k = 0; k < count_; ++k) {
      uint64_t gap, excess;
      if (!coding::GetVarint64(in, &gap) || !coding::GetVarint64(in, &excess)) {
        return Corrupt("truncated patched ints");
      }
      if (gap >= packed_count_ - next) return Corrupt("patched int beyond the chunk");
      if (excess > largest_) return Corrupt("patched int above the largest");
      const size_t at = next + static_cast<size_t>(gap);
      fn(at, excess);
      next = at + 1;
    }
    return Status::Ok();
  }

 private:
  size_t packed_count_ = 0;
  uint64_t count_ = 0, largest_ = 0;
};

}  // namespace

Status DecodeInts(std::string_view* in, size_t n, std::vector<int64_t>* out, size_t limit) {
  IntHeader h;
  WAGGLE_RETURN_IF_ERROR(GetIntHeader(in, n, &h));
  // Only the first `limit` values are unpacked (for delta, the first limit - 1 deltas).
  const size_t count = std::min(n, limit);
  const size_t unpack = h.delta ? (count == 0 ? 0 : count - 1) : count;
  const size_t start = out->size();
  out->resize(start + count);
  uint64_t* dst = reinterpret_cast<uint64_t*>(out->data() + start);
  uint64_t* packed = h.delta ? dst + 1 : dst;
  const std::string_view bits = in->substr(0, h.packed_bytes);
  in->remove_prefix(h.packed_bytes);
  const auto base = static_cast<uint64_t>(h.base);
  // Exceptions take their numbers: all ones (plus `offset`, when unpacked with it) + excess.
  // The whole list is read, so that `in` ends past the chunk.
  const auto patch = [&](uint64_t offset) {
    Exceptions exceptions;
    WAGGLE_RETURN_IF_ERROR(exceptions.Open(in, h.packed_count, h.all_ones()));
    bool packed_as_all_ones = true;
    WAGGLE_RETURN_IF_ERROR(exceptions.ForEach(in, [&](size_t at, uint64_t excess) {
      if (at >= unpack) return;
      packed_as_all_ones &= packed[at] == offset + h.all_ones();
      packed[at] += excess;
    }));
    return packed_as_all_ones ? Status::Ok() : Corrupt("patched int not packed as all ones");
  };
  // Plain FOR adds the base while unpacking; delta and scaled forms apply it after.
  const bool base_after = h.delta || h.scale != 1;
  const uint64_t offset = base_after ? 0 : base;
  column::BitUnpack(bits, unpack, h.width, offset, packed);
  if (h.patched) {
    if (Status s = patch(offset); !s.ok()) {
      out->resize(start);
      return s;
    }
  }
  if (h.delta) {
    // The prefix sum of the deltas, each base + scale x packed (wrapping, as specified).
    if (count > 0) dst[0] = static_cast<uint64_t>(h.first);
    for (size_t i = 1; i < count; ++i) dst[i] = dst[i - 1] + base + dst[i] * h.scale;
  } else if (base_after) {
    for (size_t i = 0; i < count; ++i) packed[i] = base + packed[i] * h.scale;
  }
  return Status::Ok();
}

Status SelectIntRange(std::string_view in, size_t n, int64_t lo, int64_t hi,
                      std::vector<uint32_t>* rows, bool* done) {
  *done = false;
  if (in.empty()) return Status::Ok();
  IntHeader h;
  WAGGLE_RETURN_IF_ERROR(GetIntHeader(&in, n, &h));
  if (h.delta) return Status::Ok();  // values need the deltas before them: decode instead
  if (!rows->empty() && rows->back() >= n) return Corrupt("row beyond the chunk");
  *done = true;
  // A value is base + scale x p for its packed p: the condition on p is
  // [ceil((lo - base) / scale), floor((hi - base) / scale)], clamped to what p can be.
  const __int128 from = static_cast<__int128>(lo) - h.base;
  const __int128 to = static_cast<__int128>(hi) - h.base;
  const __int128 s = h.scale;
  const __int128 plo = from <= 0 ? 0 : (from + s - 1) / s;
  const __int128 phi = to < 0 ? -1 : std::min<__int128>(to / s, UINT64_MAX);
  if (phi < plo) {
    rows->clear();
    return Status::Ok();
  }
  if (!h.patched) {
    rows->resize(column::BitSelectRange(in, h.width, static_cast<uint64_t>(plo),
                                        static_cast<uint64_t>(phi), rows->data(), rows->size()));
    return Status::Ok();
  }
  // Patched: an exception is packed as all ones, and its number is all ones + excess.
  std::string_view list = in.substr(h.packed_bytes);
  Exceptions exceptions;
  WAGGLE_RETURN_IF_ERROR(exceptions.Open(&list, n, h.all_ones()));
  const auto all_ones = static_cast<__int128>(h.all_ones());
  const __int128 largest = all_ones + exceptions.largest();
  if (plo > all_ones) {
    // Only exceptions can hold numbers that large: keep the rows of those in range. Rows are
    // distinct and below n, so n of them are all rows.
    if (largest < plo) {
      rows->clear();
      return Status::Ok();
    }
    const bool all_rows = rows->size() == n;
    size_t kept = 0;
    auto from = rows->begin();
    WAGGLE_RETURN_IF_ERROR(exceptions.ForEach(&list, [&](size_t at, uint64_t excess) {
      const __int128 number = all_ones + excess;
      if (number < plo || number > phi) return;
      if (!all_rows) {
        from = std::lower_bound(from, rows->end(), at);
        if (from == rows->end() || *from != at) return;
      }
      (*rows)[kept++] = static_cast<uint32_t>(at);  // at or before `from`: already passed
    }));
    rows->resize(kept);
    return Status::Ok();
  }
  // The packed numbers compared: exceptions count as all ones, which is below their number.
  rows->resize(column::BitSelectRange(in, h.width, static_cast<uint64_t>(plo),
                                      static_cast<uint64_t>(phi), rows->data(), rows->size()));
  // Exceptions were left out (rightly) when phi is below all ones, and kept when it is not:
  // rightly when their number is at most phi, so only the larger ones need dropping.
  if (phi < all_ones || largest <= phi) return Status::Ok();
  // One pass: rows before each such exception are kept, its own row dropped.
  size_t kept = 0, r = 0;
  std::vector<uint32_t>& v = *rows;
  WAGGLE_RETURN_IF_ERROR(exceptions.ForEach(&list, [&](size_t at, uint64_t excess) {
    if (all_ones + excess <= phi) return;
    for (; r < v.size() && v[r] < at; ++r) v[kept++] = v[r];
    if (r < v.size() && v[r] == at) ++r;
  }));
  for (; r < v.size(); ++r) v[kept++] = v[r];
  v.resize(kept);
  return Status::Ok();
}

namespace {

// A string chunk of the `n` values of `dict` whose codes are `globals`, leaving out entry i
// when `skip` is given and skip[i] is set.
void PutStrings(const column::Dictionary& dict, const uint32_t* globals, size_t n,
                const std::vector<uint8_t>* skip, std::string* out) {
  // The chunk's dictionary: global codes in order of first use here. `local` maps a global
  // code to its local code + 1 (0: not used yet). It is kept from call to call (as large as
  // the largest table's dictionary, at most a head's rows), all zeros again once the codes
  // this call set are cleared: no call allocates it or clears it whole.
  static thread_local std::vector<uint32_t> local;
  static thread_local std::vector<uint32_t> order;
  static thread_local std::vector<uint64_t> codes;
  if (local.size() < dict.size()) local.resize(dict.size(), 0);
  order.clear();
  codes.clear();
  codes.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (skip != nullptr && (*skip)[i]) continue;
    const uint32_t global = globals[i];
    uint32_t& slot = local[global];
    if (slot == 0) {
      order.push_back(global);
      slot = static_cast<uint32_t>(order.size());
    }
    codes.push_back(slot - 1);
  }
  for (uint32_t g : order) local[g] = 0;
  const bool distinct = order.size() == codes.size() && codes.size() > 1;
  const int width = column::BitWidth(order.empty() ? 0 : order.size() - 1);
  const bool recency = !distinct && width >= kRecencyMinWidth;
  out->push_back(static_cast<char>(distinct  ? kEncodingDistinct
                                   : recency ? kEncodingRecency
                                             : kEncodingDictionary));
  coding::PutVarint64(out, order.size());
  for (uint32_t g : order) coding::PutLengthPrefixed(out, dict.at(g));
  if (distinct) return;
  if (!recency) {
    out->push_back(static_cast<char>(width));
    column::BitPack(codes.data(), codes.size(), width, out);
    return;
  }
  // The codes used so far, the most recent last. Codes come in order of first use, so a code
  // not in it yet is the next.
  static thread_local std::vector<uint32_t> recent;
  recent.clear();
  for (uint64_t code : codes) {
    if (code == recent.size()) {
      out->push_back(0);
      recent.push_back(static_cast<uint32_t>(code));
      continue;
    }
    auto it = std::find(recent.rbegin(), recent.rend(), static_cast<uint32_t>(code));
    coding::PutVarint64(out, static_cast<uint64_t>(it - recent.rbegin()) + 1);
    std::rotate(it.base() - 1, it.base(), recent.end());
  }
}

}  // namespace

void EncodeStrings(const column::Dictionary& dict, const uint32_t* codes, size_t n,
                   std::string* out) {
  PutStrings(dict, codes, n, nullptr, out);
}

void EncodeEntryStrings(const column::Dictionary& dict, const uint32_t* codes, size_t n, int field,
                        const std::vector<uint8_t>& same, std::string* out) {
  if (field < 0 || std::none_of(same.begin(), same.begin() + static_cast<ptrdiff_t>(n),
                                [](uint8_t b) { return b != 0; })) {
    PutStrings(dict, codes, n, nullptr, out);
    return;
  }
  out->push_back(static_cast<char>(kEncodingFieldReference));
  out->push_back(static_cast<char>(field));
  // One bit an entry, the first in the lowest bit (BitPack's layout at width 1).
  for (size_t e = 0; e < n; e += 8) {
    uint8_t byte = 0;
    for (size_t b = 0; b < 8 && e + b < n; ++b) byte |= (same[e + b] != 0) << b;
    out->push_back(static_cast<char>(byte));
  }
  PutStrings(dict, codes, n, &same, out);
}

namespace {

// Sets *encoding to the chunk's: kEncodingDictionary, kEncodingDistinct or kEncodingRecency.
Status GetDictionary(std::string_view* in, std::vector<std::string_view>* values,
                     uint8_t* encoding = nullptr) {
  const uint8_t e = in->empty() ? 0 : static_cast<uint8_t>((*in)[0]);
  if (e != kEncodingDictionary && e != kEncodingDistinct && e != kEncodingRecency) {
    return Corrupt("not a dictionary chunk");
  }
  if (encoding != nullptr) *encoding = e;
  in->remove_prefix(1);
  uint64_t count;
  if (!coding::GetVarint64(in, &count) || count > in->size()) return Corrupt("bad dictionary size");
  values->resize(count);
  for (auto& v : *values) {
    if (!coding::GetLengthPrefixed(in, &v)) return Corrupt("truncated dictionary");
  }
  return Status::Ok();
}

}  // namespace

Status DecodeDictionary(std::string_view in, std::vector<std::string_view>* values) {
  return GetDictionary(&in, values);
}

Status DecodeStringCodes(std::string_view* in, size_t n, std::vector<std::string_view>* dict,
                         std::vector<uint32_t>* codes, size_t limit) {
  uint8_t encoding;
  WAGGLE_RETURN_IF_ERROR(GetDictionary(in, dict, &encoding));
  const size_t count = std::min(n, limit);  // the codes decoded
  if (encoding == kEncodingDistinct) {
    if (dict->size() != n) return Corrupt("distinct strings of the wrong count");
    const size_t start = codes->size();
    codes->resize(start + count);
    std::iota(codes->begin() + static_cast<ptrdiff_t>(start), codes->end(), 0u);
    return Status::Ok();
  }
  if (encoding == kEncodingRecency) {
    // The codes used so far, the most recent last.
    static thread_local std::vector<uint32_t> recent;
    recent.clear();
    const size_t start = codes->size();
    codes->resize(start + count);
    uint32_t* out = codes->data() + start;
    for (size_t i = 0; i < count; ++i) {
      uint64_t r;
      if (!coding::GetVarint64(in, &r)) return Corrupt("truncated string codes");
      if (r == 0) {
        if (recent.size() == dict->size()) return Corrupt("string code out of range");
        recent.push_back(static_cast<uint32_t>(recent.size()));
      } else if (r > recent.size()) {
        return Corrupt("string code used before");
      } else if (r > 1) {
        auto it = recent.end() - static_cast<ptrdiff_t>(r);
        std::rotate(it, it + 1, recent.end());
      }
      out[i] = recent.back();
    }
    return Status::Ok();
  }
  if (in->empty()) return Corrupt("truncated string codes");
  const int width = static_cast<uint8_t>((*in)[0]);
  in->remove_prefix(1);
  if (width > 32) return Corrupt("code width over 32");
  const size_t bytes = column::PackedSize(n, width);
  if (in->size() < bytes) return Corrupt("truncated string codes");
  const size_t start = codes->size();
  codes->resize(start + count);
  column::BitUnpack32(in->substr(0, bytes), count, width, codes->data() + start);
  in->remove_prefix(bytes);
  uint32_t max = 0;
  for (size_t i = start; i < start + count; ++i) max = std::max(max, (*codes)[i]);
  if (count > 0 && max >= dict->size()) return Corrupt("string code out of range");
  return Status::Ok();
}

namespace {

// The header of a reference chunk: its field and one bit per entry (set: the field's value).
Status GetReferenceHeader(std::string_view* in, size_t n, int* field, std::string_view* bits) {
  *field = -1;
  if (in->empty() || static_cast<uint8_t>((*in)[0]) != kEncodingFieldReference) {
    return Status::Ok();  // a string chunk
  }
  if (in->size() < 2) return Corrupt("truncated field reference");
  const uint8_t f = static_cast<uint8_t>((*in)[1]);
  if (f >= kStringFieldCount) return Corrupt("reference to no string field");
  *field = f;
  in->remove_prefix(2);
  const size_t bytes = column::PackedSize(n, 1);
  if (in->size() < bytes) return Corrupt("truncated field reference");
  *bits = in->substr(0, bytes);
  in->remove_prefix(bytes);
  return Status::Ok();
}

}  // namespace

Status DecodeEntryStrings(std::string_view* in, size_t n, std::vector<std::string_view>* dict,
                          std::vector<uint32_t>* codes, int* field, size_t limit) {
  std::string_view bits;
  WAGGLE_RETURN_IF_ERROR(GetReferenceHeader(in, n, field, &bits));
  if (*field < 0) return DecodeStringCodes(in, n, dict, codes, limit);
  auto same = [&](size_t e) { return (static_cast<uint8_t>(bits[e / 8]) >> (e % 8)) & 1; };
  const size_t count = std::min(n, limit);
  size_t own = 0, own_before = 0;  // of all entries, and of the first `count`
  for (size_t e = 0; e < n; ++e) {
    own += !same(e);
    if (e + 1 == count) own_before = own;
  }
  // The own entries' codes go to the tail, then spread out from the back to their entries.
  const size_t start = codes->size();
  WAGGLE_RETURN_IF_ERROR(DecodeStringCodes(in, own, dict, codes, own_before));
  codes->resize(start + count);
  uint32_t* c = codes->data() + start;
  for (size_t e = count, k = own_before; e-- > 0;) c[e] = same(e) ? kSameAsField : c[--k];
  return Status::Ok();
}

Status DecodeStrings(std::string_view* in, size_t n, column::StringColumn* out,
                     const FieldRows* refs) {
  std::vector<std::string_view> dict;
  std::vector<uint32_t> codes;
  int field;
  WAGGLE_RETURN_IF_ERROR(DecodeEntryStrings(in, n, &dict, &codes, &field));
  if (field >= 0 && refs == nullptr) return Corrupt("a field reference where none can be");
  std::vector<uint32_t> global(dict.size());
  for (size_t i = 0; i < dict.size(); ++i) global[i] = out->dict.Intern(dict[i]);
  // A referenced value is interned unless it is the field value the entry before referred to.
  uint32_t last_field_code = UINT32_MAX, last_code = 0;
  out->codes.reserve(out->codes.size() + n);
  for (size_t e = 0; e < n; ++e) {
    if (codes[e] != kSameAsField) {
      out->codes.push_back(global[codes[e]]);
      continue;
    }
    const column::StringColumn& f = refs->fields[field];
    const uint32_t fc = f.codes[refs->base + static_cast<size_t>(refs->rows[e])];
    if (fc != last_field_code) last_field_code = fc, last_code = out->dict.Intern(f.dict.at(fc));
    out->codes.push_back(last_code);
  }
  return Status::Ok();
}

Status DecodeEntryDictionary(std::string_view in, size_t n, std::vector<std::string_view>* dict,
                             int* field) {
  std::string_view bits;
  WAGGLE_RETURN_IF_ERROR(GetReferenceHeader(&in, n, field, &bits));
  return GetDictionary(&in, dict);
}

Status DecodeTraceRuns(std::string_view in, size_t n, std::vector<TraceRun>* runs) {
  uint64_t count, total = 0;
  if (!internal::GetCount(&in, 17, &count)) return Corrupt("trace id run count");
  runs->resize(count);
  for (size_t i = 0; i < runs->size(); ++i) {
    TraceRun& r = (*runs)[i];
    if (!internal::GetTraceId(&in, &r.id) || !coding::GetVarint64(&in, &r.rows) ||
        r.rows > n - total) {
      return Corrupt("trace id run");
    }
    // Readers find a trace's rows as the one run of its id (row groups, batched fetches).
    if (i > 0 && !((*runs)[i - 1].id < r.id)) return Corrupt("trace id runs out of order");
    total += r.rows;
  }
  if (total != n) return Corrupt("trace id runs do not cover the rows");
  return Status::Ok();
}

Status DecodeSpanIds(std::string_view in, size_t n, std::vector<uint64_t>* out) {
  if (in.size() != n * 8) return Corrupt("span ids of the wrong length");
  out->resize(n);
  for (size_t i = 0; i < n; ++i) (*out)[i] = coding::DecodeFixed64(in.data() + 8 * i);
  return Status::Ok();
}

Status DecodeParents(std::string_view* in, size_t n, const uint64_t* span_ids, uint64_t* out) {
  for (size_t i = 0; i < n; ++i) {
    uint64_t tag, v = 0;
    if (!coding::GetVarint64(in, &tag)) return Corrupt("truncated parent ids");
    if (tag == kParentExplicit) {
      if (!coding::GetFixed64(in, &v)) return Corrupt("truncated parent ids");
    } else if (tag != kParentNone) {
      if (tag > i + 1) return Corrupt("parent back reference out of range");
      v = span_ids[i - (tag - 1)];
    }
    out[i] = v;
  }
  return Status::Ok();
}

void PutSparseRows(const int64_t* rows, size_t n, std::string* out) {
  coding::PutVarint64(out, n);
  EncodeInts(rows, n, out);
}

void PutSameRows(size_t count, uint64_t column, std::string* out) {
  coding::PutVarint64(out, count);
  out->push_back(static_cast<char>(kSameRows));
  coding::PutVarint64(out, column);
}

Status DecodeSparseRows(std::string_view* in, size_t n, std::vector<int64_t>* rows,
                        SparseRowsSource* source) {
  uint64_t count;
  if (!coding::GetVarint64(in, &count) || count > n * 64) return Corrupt("sparse entry count");
  rows->clear();
  if (source != nullptr) *source = {SparseRowsSource::kOwn, count};
  if (!in->empty() && static_cast<uint8_t>((*in)[0]) == kSameRows) {
    in->remove_prefix(1);
    uint64_t column;
    if (!coding::GetVarint64(in, &column)) return Corrupt("truncated rows reference");
    if (source == nullptr || column == SparseRowsSource::kOwn) {
      return Corrupt("a rows reference where none can be");
    }
    source->column = column;
    return Status::Ok();
  }
  WAGGLE_RETURN_IF_ERROR(DecodeInts(in, count, rows));
  // Without branches, so that it vectorizes: every fetch checks every attribute's rows.
  const int64_t* r = rows->data();
  bool out_of_range = false, out_of_order = false;
  for (size_t i = 0; i < rows->size(); ++i) out_of_range |= static_cast<uint64_t>(r[i]) >= n;
  for (size_t i = 1; i < rows->size(); ++i) out_of_order |= r[i] < r[i - 1];
  if (out_of_range) return Corrupt("sparse row out of range");
  if (out_of_order) return Corrupt("sparse rows out of order");
  return Status::Ok();
}

Status DecodeDoubles(std::string_view* in, size_t n, std::vector<double>* out) {
  if (in->size() < n * 8) return Corrupt("truncated doubles");
  const size_t start = out->size();
  out->resize(start + n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t bits = coding::DecodeFixed64(in->data() + 8 * i);
    std::memcpy(&(*out)[start + i], &bits, 8);
  }
  in->remove_prefix(n * 8);
  return Status::Ok();
}

}  // namespace waggle::storage::columnar::block
