#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/attribute.h"
#include "storage/trace_data.h"

// What X-Ray's GetTraceSummaries says about one trace (spec/xray.md §5.4, §2.9).
namespace waggle::query {

// A service as X-Ray names it: segment name, origin (Type), account.
struct ServiceId {
  std::string name;
  std::string type;  // empty when the segments carry no origin
  std::string account_id;
  auto operator<=>(const ServiceId&) const = default;
};

struct AnnotationValue {
  model::AttributeValue value;
  std::vector<ServiceId> service_ids;
  bool operator==(const AnnotationValue&) const = default;
};

// One entity on the path to a root cause: a segment or subsegment, by name.
struct RootCauseEntity {
  std::string name;
  std::vector<std::pair<std::string, std::string>> exceptions;  // (type, message)
  bool remote = false;  // a call to another service (a client span)
  double coverage = 0;  // response time only: share of the root's response time
  bool operator==(const RootCauseEntity&) const = default;
};

// A service on the path to a root cause, with its entities from its segment down.
struct RootCauseService {
  ServiceId id;
  std::vector<RootCauseEntity> entity_path;
  bool inferred = false;
  bool operator==(const RootCauseService&) const = default;
};

// Where a fault, an error or the response time of a trace comes from.
struct RootCause {
  std::vector<RootCauseService> services;
  bool client_impacting = false;  // the root segment itself has the fault / error
  bool operator==(const RootCause&) const = default;
};

// The span attributes the summary lists (Users, ResourceARNs, InstanceIds, AvailabilityZones),
// which the filter keywords user, resource.arn, instance.id and availabilityzone read.
inline constexpr std::string_view kUserKey = "enduser.id";
inline constexpr std::string_view kResourceArnKey = "aws.xray.resource_arn";
inline constexpr std::string_view kInstanceIdKey = "host.id";
inline constexpr std::string_view kAvailabilityZoneKey = "cloud.availability_zone";
// A service's type and account (ServiceOf).
inline constexpr std::string_view kOriginKey = "aws.xray.origin";
inline constexpr std::string_view kAccountKey = "cloud.account.id";

struct TraceSummary {
  model::TraceId id;
  double start_time = 0;      // earliest segment start, epoch seconds
  double duration = 0;        // max end - min start over all segments, seconds
  double response_time = 0;   // root segment end - start, seconds
  bool has_fault = false;     // root segment
  bool has_error = false;     // root segment
  bool has_throttle = false;  // any segment
  bool is_partial = false;    // any document still in progress
  struct Http {
    std::string url, method, user_agent, client_ip;
    int32_t status = 0;
    bool operator==(const Http&) const = default;
  } http;  // of the root segment
  std::map<std::string, std::vector<AnnotationValue>> annotations;
  std::vector<std::pair<std::string, std::vector<ServiceId>>> users;
  std::vector<ServiceId> service_ids;
  std::vector<std::string> resource_arns;
  std::vector<std::string> instance_ids;
  std::vector<std::string> availability_zones;
  std::optional<ServiceId> entry_point;
  // Faults (errors) with no faulted (erroneous) entity below them, each with the path from its
  // service's segment down; and the chain of slowest entities from the root segment down.
  std::vector<RootCause> fault_root_causes;
  std::vector<RootCause> error_root_causes;
  std::vector<RootCause> response_time_root_causes;
  int64_t revision = 0;  // how many documents the trace holds
  bool operator==(const TraceSummary&) const = default;
};

// The service a span belongs to, as X-Ray names it.
ServiceId ServiceOf(const model::Span& span);

// Which spans of a trace are segments (a service serving one request: the top span of a
// segment document, or an OTel server, consumer or parentless span) and which segment is the
// root (the earliest without a parent here; of two as early, the lower span id).
struct SegmentIndex {
  std::vector<char> is_segment;  // by span index
  size_t root = SIZE_MAX;        // span index; SIZE_MAX when the trace has no segment
};
SegmentIndex IndexSegments(const storage::TraceData& trace);

// Fills in what spans learn only from their trace: a subsegment sent on its own carries no
// service name until its parent segment is known.
void AssembleTrace(storage::TraceData* trace);

// Summarises an assembled trace.
TraceSummary SummarizeTrace(const storage::TraceData& trace);
TraceSummary SummarizeTrace(const storage::TraceData& trace, const SegmentIndex& segments);

}  // namespace waggle::query
