#pragma once

#include <string>

#include "model/span.h"

namespace waggle::codec::xray {

// The X-Ray segment document for a span that did not arrive as one (an OTLP span or a
// Honeycomb event), as the OpenTelemetry X-Ray exporter builds it (spec/otlp.md §9.3): a
// segment for server spans and roots, else an independent subsegment naming its parent;
// named for the service (server) or the remote it calls (client); http, sql, fault/error/
// throttle, exceptions as cause; resource attributes under metadata.default["otel.resource.*"]
// on segments and every other attribute under metadata.default; annotations from
// aws.xray.annotations.
std::string RenderSegment(const model::Span& span);

}  // namespace waggle::codec::xray
