#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/span.h"

// The workload's spans as clients send them: X-Ray daemon datagrams and OTLP protobuf
// requests. Pure functions of their input (deterministic), thread-safe.
namespace waggle::workload {

// The largest datagram ToXRayDatagrams makes: the largest UDP payload over IPv4, below the
// daemon's 64 KiB receive buffer.
inline constexpr size_t kMaxDatagramBytes = 65507;

// X-Ray daemon datagrams (spec/xray.md §1.2, §2): `{"format":"json","version":1}\n` and one
// segment document each. Spans are grouped by service: a span whose parent is a span of the
// same service in `spans` is embedded in its parent's `subsegments`; any other span starts a
// document of its own, a segment (named for its service, with parent_id when it has a parent)
// when it is a server span or a root, else an independent subsegment. Subsegments of client
// spans are named for their peer, in namespace "aws" (rpc.system aws-api) or "remote". Each
// document carries http, aws, sql, user, fault/error/throttle, cause (from exception events),
// annotations (role kAnnotation) and the remaining attributes under metadata.default (resource
// attributes of segments as otel.resource.<key>). A document over kMaxDatagramBytes sends its
// subsegments as documents of their own; a span too large on its own is sent without its
// metadata and stack frames, and left out if even that is too large.
std::vector<std::string> ToXRayDatagrams(const std::vector<model::Span>& spans);

// An OTLP ExportTraceServiceRequest (spec/otlp.md §5): one ResourceSpans per distinct
// (service, resource attributes), one ScopeSpans per scope within it, in order of first
// appearance. Resource attributes are those of role kResource (service.name is added from
// Span::service when missing), scope attributes kScope; every other attribute is the span's.
// Values of type kJson are sent as strings holding their JSON text.
std::string ToOtlpProtobuf(const std::vector<model::Span>& spans);

}  // namespace waggle::workload
