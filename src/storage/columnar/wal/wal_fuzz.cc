// Fuzzes WAL recovery: whatever a bad disk leaves in the segment files, opening the log
// replays only records that were written, loses none that the damage left whole, and leaves a
// log that takes appends and opens again to the same records. Records are checksummed, so
// random files would stop at the first check; the input here damages a valid log instead.
//
// Input: a mode byte, then edits of (2-byte offset, xor byte) over the segments laid end to
// end. Mode bit 0 also cuts the last segment short at the offset the next two bytes give (a
// torn tail); bit 1 damages only the records' headers (the edits' offsets pick a header).
//
// The log has three segments of records of every type and of sizes from empty to 3 KiB. Some
// payloads hold bytes that look like record headers (a length that fits, a known type, this
// segment's number) at every 13th byte, and some are random: the search for the next record
// after damage meets both.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/coding.h"
#include "base/env.h"
#include "storage/columnar/wal/wal.h"
#include "storage/columnar/wal/wal_format.h"

namespace {

using namespace waggle;
using namespace waggle::storage::columnar;
namespace fmt = waggle::storage::columnar::wal_format;

struct Record {
  WalPosition position;
  WalRecordType type;
  std::string payload;
};

struct Log {
  std::string dir;                    // where each input's log is put
  std::vector<std::string> segments;  // the files' bytes, segment 1 first
  std::vector<Record> records;        // in log order
};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "wal_fuzz: %s\n", what);
  std::abort();
}

std::string SegmentPath(const std::string& dir, size_t number) {
  char name[32];
  std::snprintf(name, sizeof(name), "/%08zu.wal", number);
  return dir + name;
}

void EmptyDir(const std::string& dir) {
  Env* env = Env::Default();
  auto names = env->ListDir(dir);
  if (!names.ok()) Fail("cannot list the fuzz dir");
  for (const std::string& n : *names) (void)env->RemoveFile(dir + "/" + n);
}

std::vector<Record> Replay(const WalOptions& options, Status* status,
                           std::unique_ptr<Wal>* wal = nullptr) {
  std::vector<Record> out;
  WalRecoveryStats stats;
  auto opened = Wal::Open(
      options,
      [&](const WalPosition& p, WalRecordType t, std::string_view payload) {
        out.push_back({p, t, std::string(payload)});
      },
      &stats);
  *status = opened.status();
  if (opened.ok() && wal != nullptr) *wal = std::move(*opened);
  return out;
}

const Log& ValidLog() {
  static const Log* log = [] {
    auto* l = new Log;
    // tmpfs when there is one: the log syncs its directory on every open.
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = std::string(base) + "/wal_fuzz.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp failed");
    l->dir = tmpl;
    std::atexit([] {
      EmptyDir(ValidLog().dir);
      (void)rmdir(ValidLog().dir.c_str());
    });
    WalOptions options{l->dir};
    options.segment_bytes = 4096;  // the least allowed: three segments of a few records
    Status s;
    std::unique_ptr<Wal> wal;
    Replay(options, &s, &wal);
    if (!s.ok()) Fail("cannot create the log");
    std::mt19937_64 rng(11);
    for (int i = 0; wal->current_segment() < 4; ++i) {
      const auto type = static_cast<WalRecordType>(1 + i % 3);
      std::string payload;
      const size_t size = i % 7 == 0 ? 0 : rng() % 1500;
      if (i % 3 == 0) {
        // Headers naming the current segment, with lengths that fit, at every 13th byte.
        while (payload.size() < size) {
          coding::PutFixed32(&payload, static_cast<uint32_t>(rng()));
          coding::PutFixed32(&payload, static_cast<uint32_t>(rng() % 64));
          payload.push_back(static_cast<char>(type));
          coding::PutFixed32(&payload, wal->current_segment());
        }
        payload.resize(size);
      } else {
        for (size_t k = 0; k < size; ++k) payload.push_back(static_cast<char>(rng()));
      }
      std::vector<WalPosition> pos;
      if (!wal->Append(type, {payload}, /*sync=*/false, &pos).ok()) Fail("append failed");
      l->records.push_back({pos[0], type, payload});
    }
    // The first three segments: the append that found the third full went to the fourth.
    std::erase_if(l->records, [](const Record& r) { return r.position.file > 3; });
    wal.reset();
    for (size_t n = 1; n <= 3; ++n) {
      std::string bytes;
      if (!Env::Default()->ReadFile(SegmentPath(l->dir, n), &bytes).ok()) Fail("read failed");
      l->segments.push_back(std::move(bytes));
    }
    return l;
  }();
  return *log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Log& log = ValidLog();
  const uint8_t mode = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  // The segments laid end to end, damaged; `edited` marks each byte changed.
  std::vector<std::string> files = log.segments;
  std::vector<std::vector<bool>> edited;
  size_t total = 0;
  for (const std::string& f : files) {
    edited.emplace_back(f.size(), false);
    total += f.size();
  }
  auto locate = [&](size_t at, size_t* file) {
    *file = 0;
    while (at >= files[*file].size()) at -= files[(*file)++].size();
    return at;
  };
  size_t cut = SIZE_MAX;  // the last segment's new size, when torn
  if ((mode & 1) && in.size() >= 2) {
    cut = (static_cast<uint8_t>(in[0]) | static_cast<uint8_t>(in[1]) << 8) % files.back().size();
    in.remove_prefix(2);
  }
  for (size_t i = 0; i + 3 <= in.size(); i += 3) {
    const size_t pick = static_cast<uint8_t>(in[i]) | static_cast<uint8_t>(in[i + 1]) << 8;
    size_t at;
    if (mode & 2) {
      const Record& r = log.records[pick % log.records.size()];
      at = r.position.offset + (pick >> 8) % fmt::kRecordHeaderSize;
      for (size_t f = 0; f + 1 < r.position.file; ++f) at += files[f].size();
    } else {
      at = pick % total;
    }
    size_t f;
    const size_t off = locate(at, &f);
    files[f][off] = static_cast<char>(files[f][off] ^ (in[i + 2] | 1));
    edited[f][off] = true;
  }
  if (cut != SIZE_MAX) files.back().resize(cut);

  EmptyDir(log.dir);
  for (size_t n = 0; n < files.size(); ++n) {
    if (!Env::Default()->WriteFileAtomic(SegmentPath(log.dir, n + 1), files[n]).ok()) {
      Fail("cannot write a segment");
    }
  }
  WalOptions options{log.dir};
  options.segment_bytes = 4096;
  Status status;
  std::unique_ptr<Wal> wal;
  const std::vector<Record> replayed = Replay(options, &status, &wal);

  auto header_damaged = [&](size_t f) {
    for (size_t k = 0; k < fmt::kFileHeaderSize && k < edited[f].size(); ++k) {
      if (edited[f][k]) return true;
    }
    return files[f].size() < fmt::kFileHeaderSize;
  };
  if (!status.ok()) {
    // Only a damaged segment header may stop the log from opening, and with a clear error.
    bool any = false;
    for (size_t f = 0; f < files.size(); ++f) any = any || header_damaged(f);
    if (!any) Fail("an intact log failed to open");
    if (status.code() != Status::Code::kCorruption &&
        status.code() != Status::Code::kUnimplemented) {
      Fail("a damaged header gave an error other than corruption or a newer version");
    }
    return 0;
  }

  // Every record replayed was written, or is made of damaged bytes (a checksum that the
  // damage happened to match).
  auto untouched = [&](const Record& r) {
    const size_t f = r.position.file - 1;
    if (f >= files.size()) return false;
    const size_t end = r.position.offset + fmt::kRecordHeaderSize + r.payload.size();
    if (end > files[f].size()) return false;  // cut off
    for (size_t k = r.position.offset; k < end; ++k) {
      if (edited[f][k]) return false;
    }
    return true;
  };
  bool forged = false;
  size_t next = 0;  // in log.records: replayed records come in log order
  for (const Record& r : replayed) {
    while (next < log.records.size() && log.records[next].position < r.position) ++next;
    if (next < log.records.size() && log.records[next].position == r.position) {
      if (log.records[next].payload != r.payload || log.records[next].type != r.type) {
        Fail("a record came back with other bytes than were written");
      }
      continue;
    }
    // Not a record that was written: it must be made of damaged bytes.
    if (untouched(r)) Fail("a record was found in intact bytes where none was written");
    forged = true;
  }
  // Without a forged record (which may swallow the records after it), every record the damage
  // left whole, in a segment whose header is whole, is replayed.
  if (!forged) {
    for (const Record& w : log.records) {
      if (!untouched(w) || header_damaged(w.position.file - 1)) continue;
      bool found = false;
      for (const Record& r : replayed) found = found || r.position == w.position;
      if (!found) Fail("a record that the damage left whole was not replayed");
    }
  }

  // The recovered log takes an append, and opens again to the same records and that one.
  std::vector<WalPosition> pos;
  if (!wal->Append(WalRecordType::kTraceFragment, {"after recovery"}, false, &pos).ok()) {
    Fail("the recovered log refused an append");
  }
  wal.reset();
  const std::vector<Record> again = Replay(options, &status);
  if (!status.ok()) Fail("the recovered log failed to open again");
  if (again.empty() || again.back().payload != "after recovery" ||
      again.back().position != pos[0]) {
    Fail("the record appended after recovery was not replayed");
  }
  if (again.size() != replayed.size() + 1) Fail("opening again replayed other records");
  for (size_t i = 0; i < replayed.size(); ++i) {
    if (again[i].position != replayed[i].position || again[i].payload != replayed[i].payload) {
      Fail("opening again replayed other records");
    }
  }
  return 0;
}
