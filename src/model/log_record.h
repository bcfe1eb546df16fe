#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/attribute.h"
#include "model/ids.h"

// A log record (OTLP LogRecord; later CloudWatch Logs events), kept with the trace and span it
// belongs to when it names one (DESIGN.md §2).
namespace waggle::model {

struct LogRecord {
  TraceId trace_id;  // zero when the record names no trace
  SpanId span_id;    // zero when none
  std::string environment;
  std::string service;  // resource service.name, or the dataset the sender named
  int64_t time_ns = 0;  // the event time; the observed time when the sender gave none
  int64_t observed_ns = 0;
  uint8_t severity_number = 0;  // OTLP SeverityNumber, 0..24
  std::string severity_text;
  // A string body as it was sent; any other body as JSON text (body_is_json).
  std::string body;
  bool body_is_json = false;
  std::string event_name;
  uint32_t flags = 0;  // low 8 bits: W3C trace flags
  std::string scope_name;
  Attributes attributes;  // resource attributes (role kResource) then the record's own
  bool operator==(const LogRecord&) const = default;
};

// What one ingest request carries of logs. Thread-compatible.
struct LogBatch {
  std::vector<LogRecord> records;
  bool empty() const { return records.empty(); }
};

}  // namespace waggle::model
