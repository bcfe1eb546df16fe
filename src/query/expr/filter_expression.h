#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

// X-Ray filter expressions (spec/xray.md §6): the syntax tree and its parser. Evaluation over a
// trace is in filter_eval.h; what storage can apply itself is in filter_pushdown.h.
namespace waggle::query::filter {

// Every keyword of §6.1. `annotation.KEY` and `group.name`/`group.arn` carry their own text.
enum class Keyword : uint8_t {
  // Booleans.
  kOk,
  kError,
  kThrottle,
  kFault,
  kPartial,
  kInferred,
  kFirst,
  kLast,
  kRemote,
  kRoot,
  // Numbers.
  kResponseTime,
  kDuration,
  kHttpStatus,
  kIndex,
  kCoverage,
  // Strings.
  kHttpUrl,
  kHttpMethod,
  kHttpUserAgent,
  kHttpClientIp,
  kUser,
  kName,
  kType,
  kMessage,
  kAvailabilityZone,
  kInstanceId,
  kResourceArn,
  // The others.
  kAnnotation,
  kGroupName,
  kGroupArn,
};

enum class ValueType : uint8_t { kBool, kNumber, kString };

ValueType TypeOf(Keyword k);  // kAnnotation: the type of the literal it is compared with
std::string_view KeywordName(Keyword k);
// The span attribute a keyword reads (user, availabilityzone, instance.id, resource.arn: the
// keys of the summary's lists); empty for the others.
std::string_view AttributeKeyOf(Keyword k);

enum class Op : uint8_t {
  kIsTrue,  // the bare keyword: true (booleans) or set (strings, numbers, annotations)
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kContains,
  kBeginsWith,
  kEndsWith,
};

struct Literal {
  ValueType type = ValueType::kBool;
  bool boolean = false;
  double number = 0;
  std::string text;
};

// A service named in service(...) or edge(...): by name, or by id(name:, type:, account.id:).
// Everything empty: any service.
struct ServiceRef {
  std::optional<std::string> name;
  std::optional<std::string> type;
  std::optional<std::string> account_id;
};

enum class RootCauseKind : uint8_t { kFault, kError, kResponseTime };
enum class RootCauseLevel : uint8_t { kService, kEntity, kException };

struct Expr {
  enum class Kind : uint8_t {
    kAnd,            // children
    kOr,             // children
    kNot,            // children[0]
    kCompare,        // keyword op literal
    kService,        // service(ref) { children[0] } (no child: the service is in the trace)
    kEdge,           // edge(ref, to) { children[0] }
    kRootCause,      // rootcause.<kind>.<level> { children[0] }
    kRootCauseJson,  // rootcause.json = #[ json ]
    kGroup,          // group.name / group.arn = "..."; children[0] once resolved
  };

  Kind kind = Kind::kAnd;
  size_t position = 0;  // where it starts in the text, 1-based
  std::vector<Expr> children;

  // kCompare.
  Keyword keyword = Keyword::kOk;
  std::string annotation_key;  // kAnnotation
  Op op = Op::kIsTrue;
  Literal value;

  // kService, kEdge.
  ServiceRef service;
  ServiceRef to;

  // kRootCause.
  RootCauseKind cause_kind = RootCauseKind::kFault;
  RootCauseLevel cause_level = RootCauseLevel::kService;

  // kRootCauseJson: the root causes written out, each a list of services, each with the
  // entity names of its path.
  struct JsonService {
    std::string name;
    std::vector<std::string> entity_path;
  };
  std::vector<std::vector<JsonService>> json_causes;

  // kGroup: the group named (its name or ARN; which one is `keyword`).
  std::string group;
};

// Parses a filter expression. InvalidArgument with a message that names the 1-based position of
// the problem ("... at position 12 ...") for text that does not parse, for a keyword where it
// means nothing (`first` outside rootcause braces, `annotation` inside service braces) or with
// an operator or value of the wrong type.
Result<Expr> Parse(std::string_view text);

// An entity selector (GetTimeSeriesServiceStatistics): one `service(...)`, `edge(...)` or
// `id(...)` with no braces, as a kService or kEdge. InvalidArgument naming the position
// otherwise.
Result<Expr> ParseSelector(std::string_view text);

// A group's filter expression by the group's name or ARN; NotFound when there is none.
using GroupLookup = std::function<Result<std::string>(Keyword by, std::string_view group)>;

// Replaces each group.name/group.arn comparison by the group's own expression (parsed; an
// empty one selects every trace), so the result needs no lookups to evaluate. A group may name
// groups; a cycle or nesting deeper than 8 is InvalidArgument, as is an unknown group.
Status ResolveGroups(Expr* expr, const GroupLookup& lookup);

// Parse, then ResolveGroups.
Result<Expr> Compile(std::string_view text, const GroupLookup& lookup);

}  // namespace waggle::query::filter
