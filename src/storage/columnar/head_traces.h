#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/ids.h"
#include "model/span_batch.h"
#include "model/trace_index.h"

// The traces of a table's rows: what the engine keeps per trace id beside a head's rows, and
// beside the rows a compaction merges.
namespace waggle::storage::columnar {

// Each trace once, in the order of its first row, found by id through a model::TraceIndex. A
// trace's rows are chained through one array indexed by row, so that adding a span allocates
// nothing per trace (a vector of rows per trace was 4% of waggle serve's CPU).
// Thread-compatible.
class HeadTraces {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  struct Trace {
    int64_t min_start_ns = INT64_MAX;
    int64_t max_end_ns = INT64_MIN;
    int64_t arrival = INT64_MAX;
    uint32_t first_row = kNone, last_row = kNone;
    std::vector<model::Document> documents;
    std::vector<std::string> logs;  // encoded log groups
  };

  // The trace with `id`, added (with no rows) when new.
  Trace& FindOrAdd(const model::TraceId& id);
  const Trace* Find(const model::TraceId& id) const;
  // Adds `row` to `trace`'s rows: each row once, and every row below it added first (the head
  // appends rows one after another).
  void AddRow(Trace* trace, uint32_t row);
  // Adds each row of a table not added yet (from the number added so far up to
  // trace_ids.size()) to the trace trace_ids[row] names, adding the trace when new.
  void AddRows(const std::vector<model::TraceId>& trace_ids);
  // A trace's rows, in the order they were added: its first_row, then NextRow of each, up to
  // kNone.
  uint32_t NextRow(uint32_t row) const { return next_row_[row]; }

  // Every trace, in the order of all(): the id of all()[i] is id(i).
  const std::vector<Trace>& all() const { return traces_; }
  const model::TraceId& id(size_t i) const { return index_.id(static_cast<uint32_t>(i)); }
  size_t size() const { return traces_.size(); }
  bool empty() const { return traces_.empty(); }
  // Room for `traces` traces and `rows` rows.
  void Reserve(size_t traces, size_t rows);

  // Every row (but those `dropped` marks, when given) by trace id, and in a trace by
  // `starts[row]`, rows of equal start in the order they were added: the order a block stores
  // rows in (block::BlockContents::rows). Every row up to starts.size() must have been added.
  std::vector<uint32_t> RowsByTraceAndStart(const std::vector<int64_t>& starts,
                                            const std::vector<bool>* dropped) const;

 private:
  model::TraceIndex index_;  // trace id -> index in traces_
  std::vector<Trace> traces_;
  std::vector<uint32_t> next_row_;  // by row: its trace's next row, kNone after the last
};

}  // namespace waggle::storage::columnar
