#pragma once

#include <string_view>

#include "model/log_record.h"
#include "model/span.h"

// What every decoded OTLP span or log record gets, whichever encoding it came in (and the
// Honeycomb Events API's spans): the rules of spec/otlp.md §4 and §9.3 that read attributes.
namespace waggle::codec::otlp {

// Fills the well-known columns from the span's attributes (which keep them), takes the sample
// rate out of `sampleRate`/`SampleRate` (span, then scope, then resource), and sets
// status_flags from the HTTP status code or, without one, from the OTLP status.
void FinishSpan(model::Span* span);

// A resource's service.name value as a string, or empty.
std::string_view ServiceNameOf(const model::Attributes& resource);

// The sample rate an attribute value means: numbers and numeric strings, rounded; 1 for
// anything not positive or not a number.
uint32_t SampleRateOf(const model::AttributeValue& value);

// Whether a trace id / span id as bytes is valid for a span (exact length, not all zero).
bool ValidTraceIdBytes(std::string_view bytes);
bool ValidSpanIdBytes(std::string_view bytes);

}  // namespace waggle::codec::otlp
