#include "query/expr/filter_pushdown.h"

#include <algorithm>
#include <cmath>

#include "base/clock.h"
#include "model/span.h"

namespace waggle::query::filter {
namespace {

using storage::ColumnRef;
using storage::Condition;
using storage::IntField;
using storage::StringField;
using Type = model::AttributeValue::Type;
using Role = model::AttributeRole;

// A requirement that some span meets one of `conditions`.
SpanRequirement AnyOf(std::vector<Condition> conditions) {
  SpanRequirement r;
  for (Condition& c : conditions) r.any_of.push_back({std::move(c)});
  return r;
}

// Status flags hold error (1), fault (2) and throttle (4): every value with the bit lies in
// [bit, 7] (a superset, which is all a requirement must be).
SpanRequirement FlagRequirement(uint8_t bit) {
  return AnyOf({Condition::Range(ColumnRef::Of(IntField::kStatusFlags), bit, 7)});
}

SpanRequirement In(ColumnRef column, const std::string& value) {
  return AnyOf({Condition::In(std::move(column), {value})});
}

// Integers in [lo, hi] when a comparison with `v` selects any, as whole-number bounds that
// hold every integer the comparison selects.
bool IntBounds(Op op, double v, int64_t* lo, int64_t* hi) {
  constexpr double kMax = 9.2e18;
  if (!(std::fabs(v) < kMax)) return false;
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  switch (op) {
    case Op::kEq:
      if (v != std::floor(v)) return false;
      *lo = *hi = static_cast<int64_t>(v);
      return true;
    case Op::kGt:
    case Op::kGe:
      *lo = static_cast<int64_t>(std::floor(v));
      return true;
    case Op::kLt:
    case Op::kLe:
      *hi = static_cast<int64_t>(std::ceil(v));
      return true;
    default:
      return false;
  }
}

// A comparison that makes every true value of a boolean keyword necessary.
bool WantsTrue(const Expr& e) {
  return e.op == Op::kIsTrue || (e.op == Op::kEq && e.value.boolean) ||
         (e.op == Op::kNe && !e.value.boolean);
}

void Annotation(const Expr& e, std::vector<SpanRequirement>* out) {
  auto col = [&](Type type) {
    return ColumnRef::Attribute(e.annotation_key, Role::kAnnotation, type);
  };
  if (e.op == Op::kIsTrue) {
    out->push_back(
        AnyOf({Condition::Exists(col(Type::kString)), Condition::Exists(col(Type::kInt)),
               Condition::Exists(col(Type::kDouble)), Condition::Exists(col(Type::kBool))}));
    return;
  }
  if (e.op == Op::kNe) return;
  switch (e.value.type) {
    case ValueType::kString:
      if (e.op == Op::kEq) out->push_back(In(col(Type::kString), e.value.text));
      return;
    case ValueType::kNumber: {
      int64_t lo, hi;
      std::vector<Condition> any;
      if (IntBounds(e.op, e.value.number, &lo, &hi)) {
        any.push_back(Condition::Range(col(Type::kInt), lo, hi));
      } else if (e.op == Op::kEq) {
        // Not a whole number: no integer equals it.
      } else {
        any.push_back(Condition::Exists(col(Type::kInt)));
      }
      any.push_back(Condition::Exists(col(Type::kDouble)));
      out->push_back(AnyOf(std::move(any)));
      return;
    }
    case ValueType::kBool:
      out->push_back(AnyOf({Condition::Range(col(Type::kBool), e.value.boolean, e.value.boolean)}));
      return;
  }
}

// A plain or resource attribute (OTel puts host and zone on the resource).
SpanRequirement AttributeIn(std::string_view key, const std::string& value) {
  return AnyOf({Condition::In(ColumnRef::Attribute(key, Role::kPlain, Type::kString), {value}),
                Condition::In(ColumnRef::Attribute(key, Role::kResource, Type::kString), {value})});
}

// A span whose own duration meets a lower bound (`> x`, `>= x`, `= x` seconds) on it.
void SpanTookAtLeast(const Expr& e, std::vector<SpanRequirement>* out) {
  if (e.op != Op::kGt && e.op != Op::kGe && e.op != Op::kEq) return;
  const double ns = e.value.number * kNanosPerSecond;
  if (!(ns > 0 && ns < 9e18)) return;
  const int64_t hi = e.op == Op::kEq ? static_cast<int64_t>(std::ceil(ns)) : INT64_MAX;
  out->push_back(AnyOf({Condition::Range(ColumnRef::Of(IntField::kDurationNs),
                                         static_cast<int64_t>(std::floor(ns)), hi)}));
}

void Compare(const Expr& e, std::vector<SpanRequirement>* out) {
  switch (e.keyword) {
    case Keyword::kFault:
      if (WantsTrue(e)) out->push_back(FlagRequirement(model::kStatusFault));
      return;
    case Keyword::kError:
      if (WantsTrue(e)) out->push_back(FlagRequirement(model::kStatusError));
      return;
    case Keyword::kThrottle:
      if (WantsTrue(e)) out->push_back(FlagRequirement(model::kStatusThrottle));
      return;
    case Keyword::kResponseTime:
      // The root segment took at least that long: so did some span.
      SpanTookAtLeast(e, out);
      return;
    case Keyword::kHttpStatus: {
      int64_t lo, hi;
      if (e.op == Op::kLt || e.op == Op::kLe) return;  // an absent status is not compared
      if (!IntBounds(e.op, e.value.number, &lo, &hi)) return;
      out->push_back(AnyOf({Condition::Range(ColumnRef::Of(IntField::kHttpStatus), lo, hi)}));
      return;
    }
    default:
      break;
  }
  if (e.op != Op::kEq) {
    if (e.keyword == Keyword::kAnnotation) Annotation(e, out);
    return;
  }
  switch (e.keyword) {
    case Keyword::kHttpUrl:
      out->push_back(In(ColumnRef::Of(StringField::kHttpUrl), e.value.text));
      return;
    case Keyword::kHttpMethod:
      out->push_back(In(ColumnRef::Of(StringField::kHttpMethod), e.value.text));
      return;
    case Keyword::kHttpUserAgent:
      out->push_back(In(ColumnRef::Of(StringField::kUserAgent), e.value.text));
      return;
    case Keyword::kHttpClientIp:
      out->push_back(In(ColumnRef::Of(StringField::kClientIp), e.value.text));
      return;
    case Keyword::kUser:
    case Keyword::kAvailabilityZone:
    case Keyword::kInstanceId:
    case Keyword::kResourceArn:
      out->push_back(AttributeIn(AttributeKeyOf(e.keyword), e.value.text));
      return;
    case Keyword::kAnnotation:
      Annotation(e, out);
      return;
    default:
      return;
  }
}

// A node named `name`: a service that sent segments, or what a call names (its peer, or its
// own name when it names no peer), as trace_graph.cc names inferred nodes.
SpanRequirement NodeNamed(const std::string& name) {
  return AnyOf({Condition::In(ColumnRef::Of(StringField::kService), {name}),
                Condition::In(ColumnRef::Of(StringField::kPeer), {name}),
                Condition::In(ColumnRef::Of(StringField::kName), {name})});
}

// What braces ask of each span they read (a segment of a service, a call along an edge), as
// requirements on that one span: the conjunction's parts that a scan can check. Other parts
// are left to the evaluation.
void CollectEntity(const Expr& e, std::vector<SpanRequirement>* out) {
  if (e.kind == Expr::Kind::kAnd) {
    for (const Expr& c : e.children) CollectEntity(c, out);
    return;
  }
  if (e.kind != Expr::Kind::kCompare) return;
  switch (e.keyword) {
    case Keyword::kFault:
    case Keyword::kError:
    case Keyword::kThrottle:
    case Keyword::kHttpStatus:
    case Keyword::kHttpUrl:
    case Keyword::kHttpMethod:
    case Keyword::kHttpUserAgent:
    case Keyword::kHttpClientIp:
      Compare(e, out);  // the same condition on the span as at trace level
      return;
    case Keyword::kResponseTime:  // in braces, both are the span's own duration
    case Keyword::kDuration:
      SpanTookAtLeast(e, out);
      return;
    default:
      return;
  }
}

// `node`'s alternatives, each joined with what the braces ask of the same span. Braces'
// requirements with more than one alternative stay requirements of their own (some span meets
// them; which one, the evaluation decides).
void Braced(SpanRequirement node, const Expr* body, std::vector<SpanRequirement>* out) {
  std::vector<SpanRequirement> inner;
  if (body != nullptr) CollectEntity(*body, &inner);
  for (SpanRequirement& r : inner) {
    if (r.any_of.size() != 1) {
      out->push_back(std::move(r));
      continue;
    }
    for (std::vector<Condition>& alt : node.any_of) {
      alt.insert(alt.end(), r.any_of[0].begin(), r.any_of[0].end());
    }
  }
  out->push_back(std::move(node));
}

void Collect(const Expr& e, std::vector<SpanRequirement>* out) {
  switch (e.kind) {
    case Expr::Kind::kAnd:
      for (const Expr& c : e.children) Collect(c, out);
      return;
    case Expr::Kind::kOr: {
      // Each branch's first requirement, joined: whichever branch holds meets its own.
      SpanRequirement joined;
      for (const Expr& c : e.children) {
        std::vector<SpanRequirement> branch;
        Collect(c, &branch);
        if (branch.empty()) return;
        for (auto& alt : branch[0].any_of) joined.any_of.push_back(std::move(alt));
      }
      if (!joined.any_of.empty()) out->push_back(std::move(joined));
      return;
    }
    case Expr::Kind::kNot:
      return;
    case Expr::Kind::kCompare:
      Compare(e, out);
      return;
    case Expr::Kind::kService: {
      const Expr* body = e.children.empty() ? nullptr : &e.children[0];
      if (e.service.name) {
        Braced(NodeNamed(*e.service.name), body, out);
      } else if (body != nullptr) {
        CollectEntity(*body, out);  // some segment of whichever service
      }
      return;
    }
    case Expr::Kind::kEdge: {
      // The braces read the caller's calls, which are spans of the caller's service only once
      // the trace is assembled: a subsegment sent on its own is stored without a service. So
      // some span of the caller, and some span (any) that meets the braces.
      const Expr* body = e.children.empty() ? nullptr : &e.children[0];
      if (e.service.name) out->push_back(In(ColumnRef::Of(StringField::kService), *e.service.name));
      if (body != nullptr) CollectEntity(*body, out);
      if (e.to.name) out->push_back(NodeNamed(*e.to.name));
      return;
    }
    case Expr::Kind::kRootCause:
      if (e.cause_kind == RootCauseKind::kFault)
        out->push_back(FlagRequirement(model::kStatusFault));
      if (e.cause_kind == RootCauseKind::kError)
        out->push_back(FlagRequirement(model::kStatusError));
      return;
    case Expr::Kind::kRootCauseJson:
      return;
    case Expr::Kind::kGroup:
      if (!e.children.empty()) Collect(e.children[0], out);
      return;
  }
}

}  // namespace

std::vector<SpanRequirement> Requirements(const Expr& expr) {
  std::vector<SpanRequirement> out;
  Collect(expr, &out);
  return out;
}

int64_t MinTraceExtentNs(const Expr& expr) {
  switch (expr.kind) {
    case Expr::Kind::kAnd: {
      int64_t most = 0;
      for (const Expr& c : expr.children) most = std::max(most, MinTraceExtentNs(c));
      return most;
    }
    case Expr::Kind::kOr: {
      // Whichever branch holds: the least of theirs.
      int64_t least = INT64_MAX;
      for (const Expr& c : expr.children) least = std::min(least, MinTraceExtentNs(c));
      return expr.children.empty() ? 0 : least;
    }
    case Expr::Kind::kGroup:
      return expr.children.empty() ? 0 : MinTraceExtentNs(expr.children[0]);
    case Expr::Kind::kCompare: {
      // The trace's duration (last end minus first start over its segments) and its root's
      // response time are both at most its extent over every stored span.
      if (expr.keyword != Keyword::kDuration && expr.keyword != Keyword::kResponseTime) return 0;
      if (expr.op != Op::kGt && expr.op != Op::kGe && expr.op != Op::kEq) return 0;
      const double ns = expr.value.number * kNanosPerSecond;
      if (!(ns > 0 && ns < 9e18)) return 0;
      // Durations are whole nanoseconds turned into seconds: a little below, for rounding.
      return std::max<int64_t>(0, static_cast<int64_t>(std::floor(ns)) - 1);
    }
    default:
      return 0;
  }
}

}  // namespace waggle::query::filter
