#include "server/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "base/env.h"
#include "storage/columnar/block/block.h"
#include "storage/columnar/engine.h"

namespace waggle::server {
namespace {

namespace block = storage::columnar::block;

std::string Ratio(uint64_t raw, uint64_t stored) {
  return stored == 0 ? "-" : fmt::format("{:.1f}x", static_cast<double>(raw) / stored);
}

std::string ColumnName(const block::ColumnMeta& c) {
  if (c.kind != block::ColumnKind::kAttribute) return c.name;
  static constexpr const char* kRoles[] = {"attr", "annotation", "metadata", "resource", "scope"};
  return fmt::format("{}.{}", kRoles[static_cast<int>(c.role)], c.name);
}

}  // namespace

Result<std::string> InspectDataDir(const std::string& data_dir) {
  Env* env = Env::Default();
  const std::string blocks_dir = data_dir + "/blocks";
  if (!env->FileExists(blocks_dir)) {
    return Status::NotFound(data_dir + " holds no waggle store (no blocks directory)");
  }
  WAGGLE_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(blocks_dir));
  std::sort(names.begin(), names.end());
  std::string out = fmt::format("data dir {}\n\nblocks:\n", data_dir);
  out += fmt::format("  {:<20} {:>5} {:>11} {:>9} {:>12} {:>8} {:>6}  {}\n", "file", "level",
                     "spans", "traces", "bytes", "B/span", "groups", "time range (UTC s)");
  struct Totals {
    uint64_t stored = 0, raw = 0, chunks = 0;
  };
  std::map<std::string, Totals> columns;
  uint64_t spans = 0, bytes = 0, blocks = 0, damaged = 0, leftover = 0;
  // Every block first: a compaction that stopped before removing its inputs left them beside
  // the block that replaces them (the store removes them at its next open); they are listed,
  // but not counted twice.
  // Only each block's footer is kept (a file open per block could run out of descriptors).
  struct Opened {
    std::string name;
    uint64_t id;
    Result<block::BlockMeta> meta;
  };
  std::vector<Opened> opened;
  std::set<uint64_t> replaced;
  for (const std::string& name : names) {
    uint64_t id = 0;
    if (!storage::columnar::ParseBlockName(name, &id)) continue;  // what the store opens, no more
    auto b = block::Block::Open(env, blocks_dir + "/" + name);
    if (!b.ok()) {
      opened.push_back({name, id, b.status()});
      continue;
    }
    replaced.insert((*b)->meta().replaces.begin(), (*b)->meta().replaces.end());
    opened.push_back({name, id, (*b)->meta()});
  }
  for (auto& [name, id, meta] : opened) {
    if (!meta.ok()) {
      out += fmt::format("  {:<20} unreadable: {}\n", name, meta.status().ToString());
      ++damaged;
      continue;
    }
    const block::BlockMeta& m = *meta;
    if (replaced.count(id)) {
      out += fmt::format("  {:<20} replaced by a compaction (removed at the next open)\n", name);
      ++leftover;
      continue;
    }
    ++blocks;
    spans += m.rows;
    bytes += m.file_bytes;
    out += fmt::format(
        "  {:<20} {:>5} {:>11} {:>9} {:>12} {:>8.1f} {:>6}  {} .. {}\n", name, m.level, m.rows,
        m.traces, m.file_bytes, m.rows ? static_cast<double>(m.file_bytes) / m.rows : 0.0,
        m.row_groups.size(), m.min_start_ns / 1'000'000'000, m.max_end_ns / 1'000'000'000);
    for (const block::ColumnMeta& c : m.columns) {
      Totals& t = columns[ColumnName(c)];
      for (const block::ChunkRef& r : c.chunks) {
        t.stored += r.stored_length;
        t.raw += r.raw_length;
        ++t.chunks;
      }
    }
    auto pages = [&](const char* what, const std::vector<block::PageMeta>& ps) {
      Totals& t = columns[what];
      for (const auto& p : ps) {
        t.stored += p.chunk.stored_length;
        t.raw += p.chunk.raw_length;
        ++t.chunks;
      }
    };
    pages("(trace table)", m.trace_pages);
    pages("(x-ray documents)", m.document_pages);
    pages("(logs)", m.log_pages);
    columns["(bloom filters)"].stored += m.trace_bloom.stored_length + m.value_bloom.stored_length;
  }
  out += fmt::format("  {} blocks, {} spans, {} bytes, {:.1f} bytes a span{}{}\n\n", blocks, spans,
                     bytes, spans ? static_cast<double>(bytes) / spans : 0.0,
                     damaged ? fmt::format(", {} unreadable", damaged) : "",
                     leftover ? fmt::format(", {} replaced", leftover) : "");
  std::vector<std::pair<std::string, Totals>> sorted(columns.begin(), columns.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second.stored > b.second.stored; });
  out += fmt::format("columns (largest first):\n  {:<40} {:>12} {:>12} {:>7} {:>8}\n", "column",
                     "stored", "raw", "ratio", "B/span");
  for (const auto& [name, t] : sorted) {
    out += fmt::format("  {:<40} {:>12} {:>12} {:>7} {:>8.2f}\n", name, t.stored, t.raw,
                       Ratio(t.raw, t.stored), spans ? static_cast<double>(t.stored) / spans : 0.0);
  }
  const std::string wal_dir = data_dir + "/wal";
  out += "\nwrite-ahead log (spans not yet in a block):\n";
  if (env->FileExists(wal_dir)) {
    WAGGLE_ASSIGN_OR_RETURN(std::vector<std::string> segments, env->ListDir(wal_dir));
    std::sort(segments.begin(), segments.end());
    uint64_t wal_bytes = 0;
    for (const std::string& s : segments) {
      auto size = env->FileSize(wal_dir + "/" + s);
      if (!size.ok()) continue;
      wal_bytes += *size;
      out += fmt::format("  {:<20} {:>12} bytes\n", s, *size);
    }
    out += fmt::format("  {} segments, {} bytes\n", segments.size(), wal_bytes);
  }
  return out;
}

}  // namespace waggle::server
