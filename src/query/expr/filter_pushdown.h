#pragma once

#include <vector>

#include "query/expr/filter_expression.h"
#include "storage/scan.h"

// What a filter expression asks of a trace's spans that a store can check where the data lies
// (Reader::Scan), so that only candidate traces are fetched and evaluated whole.
namespace waggle::query::filter {

// Some span of the trace meets every condition of one of `any_of` (a scan's `where` each).
struct SpanRequirement {
  std::vector<std::vector<storage::Condition>> any_of;
};

// Requirements every trace the (group-resolved) expression selects meets, each by some span;
// necessary, not sufficient: the expression is still evaluated on each candidate. Empty when
// the expression names nothing a store can check. What braces ask of a named service's
// segments is asked of the same span: `service("a") { fault }` needs a span of "a" with the
// fault flag, not a span of "a" and some faulty span. The braces of edge() and of service()
// without a name ask each of their conditions of some span.
std::vector<SpanRequirement> Requirements(const Expr& expr);

// A length every trace the expression selects reaches (its last span end, or in-progress
// span start, minus its first span start; at least its duration and its response time): from
// `duration` and `responsetime` lower bounds the expression requires. 0 when none.
int64_t MinTraceExtentNs(const Expr& expr);

}  // namespace waggle::query::filter
