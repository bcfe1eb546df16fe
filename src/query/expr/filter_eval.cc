#include "query/expr/filter_eval.h"

#include <optional>
#include <string_view>

#include "base/clock.h"

namespace waggle::query::filter {
namespace {

std::optional<double> SpanSeconds(const model::Span& s) {
  if (s.in_progress) return std::nullopt;
  return NanosToSeconds(s.duration_ns());
}

// What a keyword reads, in the place it is evaluated.
struct Scope {
  enum class Kind : uint8_t { kTrace, kEntity, kCauseService, kCauseEntity, kCauseException };
  Kind kind = Kind::kTrace;
  // kEntity: a segment of a service (service braces) or a call along an edge (edge braces), and
  // the node it belongs to (for an edge, the callee).
  const model::Span* span = nullptr;
  const GraphNode* node = nullptr;
  // Root causes: the service, the entity and the exception at hand, and the position of the
  // service (entity) in its list.
  const RootCauseService* cause_service = nullptr;
  const RootCauseEntity* cause_entity = nullptr;
  const std::pair<std::string, std::string>* exception = nullptr;
  size_t index = 0;
  size_t count = 0;
};

bool CompareNumber(double actual, Op op, double want) {
  switch (op) {
    case Op::kEq:
      return actual == want;
    case Op::kNe:
      return actual != want;
    case Op::kLt:
      return actual < want;
    case Op::kLe:
      return actual <= want;
    case Op::kGt:
      return actual > want;
    case Op::kGe:
      return actual >= want;
    default:
      return false;
  }
}

bool CompareString(std::string_view actual, Op op, std::string_view want) {
  switch (op) {
    case Op::kEq:
      return actual == want;
    case Op::kContains:
      return actual.find(want) != std::string_view::npos;
    case Op::kBeginsWith:
      return actual.starts_with(want);
    case Op::kEndsWith:
      return actual.ends_with(want);
    default:
      return false;
  }
}

// A bare boolean is its value; `= true|false` and `!=` compare with it. Absent is false.
bool EvalBool(std::optional<bool> v, const Expr& e) {
  const bool b = v.value_or(false);
  switch (e.op) {
    case Op::kIsTrue:
      return b;
    case Op::kEq:
      return b == e.value.boolean;
    case Op::kNe:
      return b != e.value.boolean;
    default:
      return false;
  }
}

// A bare number is "set"; `!=` is "not equal or not set", so `a != b` is `!(a = b)`.
bool EvalNumber(std::optional<double> v, const Expr& e) {
  if (e.op == Op::kIsTrue) return v.has_value();
  if (e.op == Op::kNe) return !v || *v != e.value.number;
  return v && CompareNumber(*v, e.op, e.value.number);
}

// Over the values a keyword has (a trace may have several users): some value satisfies the
// comparison; `!=` holds when none is equal. A bare string keyword is "has a non-empty value".
template <typename Values>
bool EvalStrings(const Values& values, const Expr& e) {
  if (e.op == Op::kNe) {
    for (std::string_view v : values) {
      if (v == e.value.text) return false;
    }
    return true;
  }
  for (std::string_view v : values) {
    if (e.op == Op::kIsTrue ? !v.empty() : CompareString(v, e.op, e.value.text)) return true;
  }
  return false;
}

bool EvalString(std::string_view v, const Expr& e) {
  std::string_view one[] = {v};
  return EvalStrings(one, e);
}

std::optional<double> Optional(double v, bool present) {
  return present ? std::optional<double>(v) : std::nullopt;
}

// annotation.KEY over every span of the trace: the literal's type picks which values compare.
// != holds when no value equals the literal; the other operators when some value meets them.
bool EvalAnnotation(const TraceFacts& t, const Expr& e) {
  using Type = model::AttributeValue::Type;
  const Op op = e.op == Op::kNe ? Op::kEq : e.op;
  for (const model::Span& s : t.trace().spans) {
    for (const model::Attribute& a : s.attributes) {
      if (a.role != model::AttributeRole::kAnnotation || a.key != e.annotation_key) continue;
      if (e.op == Op::kIsTrue) return true;
      const model::AttributeValue& v = a.value;
      bool hit = false;
      switch (e.value.type) {
        case ValueType::kString:
          if (v.type != Type::kString) continue;
          hit = CompareString(v.string_value, op, e.value.text);
          break;
        case ValueType::kNumber:
          if (v.type == Type::kInt) {
            hit = CompareNumber(static_cast<double>(v.int_value), op, e.value.number);
          } else if (v.type == Type::kDouble) {
            hit = CompareNumber(v.double_value, op, e.value.number);
          }
          break;
        case ValueType::kBool:
          hit = v.type == Type::kBool && (v.int_value != 0) == e.value.boolean;
          break;
      }
      if (hit) return e.op != Op::kNe;
    }
  }
  return e.op == Op::kNe;
}

bool EvalTraceKeyword(const TraceFacts& t, const Expr& e) {
  // These two read no summary (which a graph's group filter would otherwise work out whole).
  if (e.keyword == Keyword::kAnnotation) return EvalAnnotation(t, e);
  if (e.keyword == Keyword::kInferred) {
    bool inferred = false;
    for (const GraphNode& n : t.graph().nodes) inferred |= n.inferred;
    return EvalBool(inferred, e);
  }
  const TraceSummary& sum = t.summary();
  const bool has_root = t.segments().root != SIZE_MAX;
  switch (e.keyword) {
    case Keyword::kOk:
      return EvalBool(has_root && !sum.has_fault && !sum.has_error && !sum.has_throttle, e);
    case Keyword::kError:
      return EvalBool(sum.has_error, e);
    case Keyword::kFault:
      return EvalBool(sum.has_fault, e);
    case Keyword::kThrottle:
      return EvalBool(sum.has_throttle, e);
    case Keyword::kPartial:
      return EvalBool(sum.is_partial, e);
    case Keyword::kResponseTime:
      return EvalNumber(Optional(sum.response_time, has_root && !sum.is_partial), e);
    case Keyword::kDuration:
      return EvalNumber(Optional(sum.duration, !t.trace().spans.empty()), e);
    case Keyword::kHttpStatus:
      return EvalNumber(Optional(sum.http.status, sum.http.status != 0), e);
    case Keyword::kHttpUrl:
      return EvalString(sum.http.url, e);
    case Keyword::kHttpMethod:
      return EvalString(sum.http.method, e);
    case Keyword::kHttpUserAgent:
      return EvalString(sum.http.user_agent, e);
    case Keyword::kHttpClientIp:
      return EvalString(sum.http.client_ip, e);
    case Keyword::kUser: {
      std::vector<std::string_view> users;
      for (const auto& [name, ids] : sum.users) users.push_back(name);
      return EvalStrings(users, e);
    }
    case Keyword::kAvailabilityZone:
      return EvalStrings(sum.availability_zones, e);
    case Keyword::kInstanceId:
      return EvalStrings(sum.instance_ids, e);
    case Keyword::kResourceArn:
      return EvalStrings(sum.resource_arns, e);
    default:
      return false;  // the parser keeps the others out of trace scope
  }
}

// A segment of a service, or a call along an edge.
bool EvalEntityKeyword(const Scope& scope, const Expr& e) {
  const model::Span& s = *scope.span;
  const uint8_t flags = s.status_flags;
  switch (e.keyword) {
    case Keyword::kOk:
      return EvalBool(!s.in_progress && flags == 0, e);
    case Keyword::kError:
      return EvalBool((flags & model::kStatusError) != 0, e);
    case Keyword::kFault:
      return EvalBool((flags & model::kStatusFault) != 0, e);
    case Keyword::kThrottle:
      return EvalBool((flags & model::kStatusThrottle) != 0, e);
    case Keyword::kPartial:
      return EvalBool(s.in_progress, e);
    case Keyword::kInferred:
      return EvalBool(scope.node->inferred, e);
    case Keyword::kRoot:
      return EvalBool(scope.node->root, e);
    case Keyword::kResponseTime:
    case Keyword::kDuration:
      return EvalNumber(SpanSeconds(s), e);
    case Keyword::kHttpStatus:
      return EvalNumber(Optional(s.http_status, s.http_status != 0), e);
    case Keyword::kHttpUrl:
      return EvalString(s.http_url, e);
    case Keyword::kHttpMethod:
      return EvalString(s.http_method, e);
    case Keyword::kHttpUserAgent:
      return EvalString(s.user_agent, e);
    case Keyword::kHttpClientIp:
      return EvalString(s.client_ip, e);
    case Keyword::kUser:
    case Keyword::kAvailabilityZone:
    case Keyword::kInstanceId:
    case Keyword::kResourceArn:
      return EvalString(model::FindString(s.attributes, AttributeKeyOf(e.keyword)), e);
    case Keyword::kName:
      return EvalString(scope.node->id.name, e);
    case Keyword::kType:
      return EvalString(scope.node->id.type, e);
    default:
      return false;
  }
}

bool EvalCauseKeyword(const Scope& scope, const Expr& e) {
  using Kind = Scope::Kind;
  switch (e.keyword) {
    case Keyword::kName:
      return EvalString(scope.kind == Kind::kCauseService  ? scope.cause_service->id.name
                        : scope.kind == Kind::kCauseEntity ? scope.cause_entity->name
                                                           : scope.exception->first,
                        e);
    case Keyword::kType:
      return EvalString(scope.cause_service->id.type, e);
    case Keyword::kMessage:
      return EvalString(scope.exception->second, e);
    case Keyword::kFirst:
      return EvalBool(scope.index == 0, e);
    case Keyword::kLast:
      return EvalBool(scope.index + 1 == scope.count, e);
    case Keyword::kIndex:
      return EvalNumber(static_cast<double>(scope.index), e);
    case Keyword::kRemote:
      return EvalBool(scope.cause_entity->remote, e);
    case Keyword::kCoverage:
      return EvalNumber(scope.cause_entity->coverage, e);
    default:
      return false;
  }
}

}  // namespace

bool RefMatches(const ServiceRef& ref, const ServiceId& id) {
  return (!ref.name || *ref.name == id.name) && (!ref.type || *ref.type == id.type) &&
         (!ref.account_id || *ref.account_id == id.account_id);
}

namespace {

bool Eval(const Expr& e, const TraceFacts& t, const Scope& scope);

bool EvalService(const Expr& e, const TraceFacts& t) {
  for (const GraphNode& n : t.graph().nodes) {
    if (!RefMatches(e.service, n.id)) continue;
    if (e.children.empty()) return true;
    for (size_t i : n.spans) {
      Scope inner{.kind = Scope::Kind::kEntity, .span = &t.trace().spans[i], .node = &n};
      if (Eval(e.children[0], t, inner)) return true;
    }
  }
  return false;
}

bool EvalEdge(const Expr& e, const TraceFacts& t) {
  for (const GraphEdge& edge : t.graph().edges) {
    const GraphNode& from = t.graph().nodes[edge.from];
    const GraphNode& to = t.graph().nodes[edge.to];
    if (!RefMatches(e.service, from.id) || !RefMatches(e.to, to.id)) continue;
    if (e.children.empty()) return true;
    for (size_t i : edge.calls) {
      Scope inner{.kind = Scope::Kind::kEntity, .span = &t.trace().spans[i], .node = &to};
      if (Eval(e.children[0], t, inner)) return true;
    }
  }
  return false;
}

const std::vector<RootCause>& CausesOf(const TraceSummary& sum, RootCauseKind kind) {
  switch (kind) {
    case RootCauseKind::kFault:
      return sum.fault_root_causes;
    case RootCauseKind::kError:
      return sum.error_root_causes;
    case RootCauseKind::kResponseTime:
      break;
  }
  return sum.response_time_root_causes;
}

bool EvalRootCause(const Expr& e, const TraceFacts& t) {
  const Expr& inner = e.children[0];
  for (const RootCause& cause : CausesOf(t.summary(), e.cause_kind)) {
    const size_t services = cause.services.size();
    for (size_t i = 0; i < services; ++i) {
      const RootCauseService& svc = cause.services[i];
      Scope scope{.cause_service = &svc};
      if (e.cause_level == RootCauseLevel::kService) {
        scope.kind = Scope::Kind::kCauseService;
        scope.index = i;
        scope.count = services;
        if (Eval(inner, t, scope)) return true;
        continue;
      }
      const size_t entities = svc.entity_path.size();
      for (size_t j = 0; j < entities; ++j) {
        const RootCauseEntity& entity = svc.entity_path[j];
        scope.cause_entity = &entity;
        if (e.cause_level == RootCauseLevel::kEntity) {
          scope.kind = Scope::Kind::kCauseEntity;
          scope.index = j;
          scope.count = entities;
          if (Eval(inner, t, scope)) return true;
          continue;
        }
        scope.kind = Scope::Kind::kCauseException;
        for (const auto& exception : entity.exceptions) {
          scope.exception = &exception;
          if (Eval(inner, t, scope)) return true;
        }
      }
    }
  }
  return false;
}

// rootcause.json: some root cause of the trace has every service listed, each with the listed
// entities along its path in that order.
bool EvalRootCauseJson(const Expr& e, const TraceFacts& t) {
  auto path_has = [](const RootCauseService& svc, const std::vector<std::string>& want) {
    size_t at = 0;
    for (const RootCauseEntity& entity : svc.entity_path) {
      if (at < want.size() && entity.name == want[at]) ++at;
    }
    return at == want.size();
  };
  auto cause_has = [&](const RootCause& cause, const std::vector<Expr::JsonService>& want) {
    for (const Expr::JsonService& w : want) {
      bool found = false;
      for (const RootCauseService& svc : cause.services) {
        if (svc.id.name == w.name && path_has(svc, w.entity_path)) found = true;
      }
      if (!found) return false;
    }
    return true;
  };
  for (RootCauseKind kind :
       {RootCauseKind::kFault, RootCauseKind::kError, RootCauseKind::kResponseTime}) {
    for (const RootCause& cause : CausesOf(t.summary(), kind)) {
      for (const auto& want : e.json_causes) {
        if (cause_has(cause, want)) return true;
      }
    }
  }
  return false;
}

bool Eval(const Expr& e, const TraceFacts& t, const Scope& scope) {
  switch (e.kind) {
    case Expr::Kind::kAnd:
      for (const Expr& c : e.children) {
        if (!Eval(c, t, scope)) return false;
      }
      return true;
    case Expr::Kind::kOr:
      for (const Expr& c : e.children) {
        if (Eval(c, t, scope)) return true;
      }
      return false;
    case Expr::Kind::kNot:
      return !Eval(e.children[0], t, scope);
    case Expr::Kind::kCompare:
      switch (scope.kind) {
        case Scope::Kind::kTrace:
          return EvalTraceKeyword(t, e);
        case Scope::Kind::kEntity:
          return EvalEntityKeyword(scope, e);
        default:
          return EvalCauseKeyword(scope, e);
      }
    case Expr::Kind::kService:
      return EvalService(e, t);
    case Expr::Kind::kEdge:
      return EvalEdge(e, t);
    case Expr::Kind::kRootCause:
      return EvalRootCause(e, t);
    case Expr::Kind::kRootCauseJson:
      return EvalRootCauseJson(e, t);
    case Expr::Kind::kGroup:
      return !e.children.empty() && Eval(e.children[0], t, scope);
  }
  return false;
}

}  // namespace

bool Matches(const Expr& expr, const TraceFacts& trace) { return Eval(expr, trace, Scope{}); }

}  // namespace waggle::query::filter
