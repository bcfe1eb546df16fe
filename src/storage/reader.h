#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "model/log_record.h"
#include "storage/scan.h"
#include "storage/trace_data.h"

namespace waggle::storage {

// Which time places a trace in a time range (X-Ray's TimeRangeType).
enum class TraceTimeKey {
  kTraceIdTime,  // the epoch seconds in the trace id
  kEventTime,    // any span of the trace overlaps the range; ordered by when the trace was
                 // first seen (a key that never moves, unlike its end time)
};

struct FindTracesRequest {
  int64_t start_ns = 0;  // inclusive
  int64_t end_ns = 0;    // exclusive
  TraceTimeKey key = TraceTimeKey::kTraceIdTime;
  size_t limit = 100;
  // Empty for the first page; else a FindTracesResult::next_page_token.
  std::string page_token;
  // When set, only these traces are candidates (those a scan found to meet a filter's
  // requirements); traces_scanned then counts the candidates in the range. Must outlive the
  // call.
  const std::unordered_set<model::TraceId, model::TraceIdHash>* only = nullptr;
  // Only traces whose stored spans stretch at least this long, from the first start to the
  // last end (or start, for a span in progress): a filter's lower bound on duration. With the
  // TraceId key only: with the Event key, parts outside the range are not looked at, so a
  // trace's stretch is not known, and this is ignored.
  int64_t min_extent_ns = 0;
  // Only this share of the traces (0..1), picked by a hash of the id: the same traces every
  // time and on every page.
  double sample_rate = 1;
};

// Whether trace `id` is among the `rate` share (0..1) a FindTracesRequest::sample_rate keeps.
bool InSample(const model::TraceId& id, double rate);

struct TraceRef {
  model::TraceId id;
  int64_t time_ns = 0;  // the time the key placed it at
  // A page token that resumes right after this trace, so that a reader that stops part way
  // through a page can go on from where it stopped. Every store must give one.
  std::string resume_token;
};

struct FindTracesResult {
  std::vector<TraceRef> traces;  // newest first
  std::string next_page_token;   // empty on the last page
  uint64_t traces_scanned = 0;
};

// The trace ids a search by trace-id time may select: those whose seconds s (the first four
// bytes) satisfy start_ns <= s * 1e9 < end_ns, as [*first, *last]. False when there are none.
bool TraceIdTimeBounds(int64_t start_ns, int64_t end_ns, model::TraceId* first,
                       model::TraceId* last);

// What a fetch returns of each span's attributes (well-known fields, events and links always
// come): all of them, or only what a reader reads.
struct FetchOptions {
  bool all_attributes = true;
  // When not all: annotations, and attributes of any role whose key is one of these.
  std::vector<std::string> keys;

  bool Wants(std::string_view key, model::AttributeRole role) const;
  // Removes from `trace` (or one span) the attributes not wanted.
  void Apply(TraceData* trace) const;
  void Apply(model::Span* span) const;
};

// Reads what a Writer stored. Thread-safe. The caller owns everything a read returns.
class Reader {
 public:
  virtual ~Reader() = default;

  // The trace, merged per document and span id. NotFound when no span of it is stored. A trace
  // larger than the store returns at once comes back cut, with limit_exceeded set.
  virtual Result<TraceData> FetchTrace(const model::TraceId& id) = 0;

  // Several traces, each as FetchTrace returns it (NotFound for one not stored) with the
  // attributes `options` asks for, in the order of `ids`. A store may read what the traces
  // share (a row group, a page) once for all of them.
  virtual std::vector<Result<TraceData>> FetchTraces(const std::vector<model::TraceId>& ids,
                                                     const FetchOptions& options);

  // Trace ids in a time range, newest first, a page at a time. Pages are stable under
  // concurrent writes: a page token names a position in the order, not an offset.
  // InvalidArgument for a token this store did not issue.
  virtual Result<FindTracesResult> FindTraces(const FindTracesRequest& request) = 0;

  // Hands every stored span that starts in the request's range and meets its conditions to
  // `consume`, as column batches (in no particular order; each batch's selection vector names
  // the rows that qualify; what a vector holds at other rows is unspecified). A span stored
  // in two versions (an X-Ray segment sent in progress, then complete) may come in both until
  // the store merges them; `in_progress` tells them apart. InvalidArgument for a request that
  // does not validate.
  virtual Result<ScanStats> Scan(const ScanRequest& request, const BatchFn& consume) {
    return Status::Unimplemented("this store cannot scan");
  }

  // The attribute columns that spans starting in [start_ns, end_ns) may have (more, not fewer:
  // a store may list the columns of a whole file that overlaps the range).
  virtual Result<std::vector<ColumnRef>> ListColumns(int64_t start_ns, int64_t end_ns) {
    return Status::Unimplemented("this store cannot list columns");
  }

  // The log records that name trace `id`, in order of arrival (empty when none).
  virtual Result<std::vector<model::LogRecord>> FetchLogs(const model::TraceId& id) {
    return Status::Unimplemented("this store keeps no logs");
  }
};

}  // namespace waggle::storage
