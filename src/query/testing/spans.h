#pragma once

#include <cstdint>
#include <string>

#include "model/span.h"

// Spans for the query tests: ids, service, name and times, the rest left as it is by default.
namespace waggle::query::testing {

// A finished span from `start` to `end` seconds, in whole microseconds as X-Ray sends them.
inline model::Span MakeSpan(uint64_t id, uint64_t parent, std::string service, std::string name,
                            double start, double end) {
  model::Span s;
  s.span_id.value = id;
  s.parent_span_id.value = parent;
  s.service = std::move(service);
  s.name = std::move(name);
  s.start_ns = static_cast<int64_t>(start * 1e6) * 1000;
  s.end_ns = static_cast<int64_t>(end * 1e6) * 1000;
  return s;
}

}  // namespace waggle::query::testing
