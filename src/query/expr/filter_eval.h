#pragma once

#include "query/expr/filter_expression.h"
#include "query/trace_facts.h"

// Evaluates filter expressions over whole traces (spec/xray.md §6.2): trace-level keywords
// read the root segment or the whole trace, service() and edge() braces read that service's
// segments or that edge's calls, and rootcause braces read the trace's root causes.
namespace waggle::query::filter {

// Whether the trace satisfies `expr` (groups resolved: a kGroup without its child is false).
bool Matches(const Expr& expr, const TraceFacts& trace);

// Whether a service(...) or edge(...) reference names the service: every part it gives is
// equal (no part: any service).
bool RefMatches(const ServiceRef& ref, const ServiceId& id);

}  // namespace waggle::query::filter
