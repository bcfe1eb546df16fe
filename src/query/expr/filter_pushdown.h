#pragma once

#include <vector>

#include "query/expr/filter_expression.h"
#include "storage/scan.h"

// What a filter expression asks of a trace's spans that a store can check where the data lies
// (Reader::Scan), so that only candidate traces are fetched and evaluated whole.
namespace waggle::query::filter {

// Some span of the trace meets one of `any_of`.
struct SpanRequirement {
  std::vector<storage::Condition> any_of;
};

// Requirements every trace the (group-resolved) expression selects meets, each by some span;
// necessary, not sufficient: the expression is still evaluated on each candidate. Empty when
// the expression names nothing a store can check.
std::vector<SpanRequirement> Requirements(const Expr& expr);

}  // namespace waggle::query::filter
