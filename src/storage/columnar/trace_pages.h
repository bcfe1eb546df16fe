#pragma once

#include <cstdint>
#include <functional>

#include "base/result.h"
#include "storage/reader.h"

// FindTraces' paging, shared by the stores: which traces a request selects, in what order,
// and the page tokens that walk that order.
namespace waggle::storage::columnar {

// One stored part of a trace (a trace may be stored in several parts).
struct TracePart {
  model::TraceId id;
  int64_t min_start_ns = INT64_MAX;  // INT64_MAX when the part has no spans
  int64_t max_end_ns = INT64_MIN;
  int64_t arrival = 0;  // when the part first arrived, in an order that never changes
};

// Calls `emit` for every part.
using ForEachTracePart = std::function<void(const std::function<void(const TracePart&)>& emit)>;

// The page of `request` over the parts: trace-id time selects by the id's epoch seconds;
// event time selects traces with a part overlapping the range, ordered by their earliest
// arrival. Newest first; InvalidArgument for a token of another kind or not ours.
Result<FindTracesResult> SelectTraces(const FindTracesRequest& request,
                                      const ForEachTracePart& for_each);

}  // namespace waggle::storage::columnar
