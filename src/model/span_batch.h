#pragma once

#include <string>
#include <vector>

#include "model/ids.h"
#include "model/span.h"

namespace waggle::model {

// An X-Ray segment document kept as it was sent, so BatchGetTraces returns exactly that.
struct Document {
  TraceId trace_id;
  SpanId id;         // the segment's (or independent subsegment's) id
  SpanId parent_id;  // zero when none
  bool in_progress = false;
  bool subsegment = false;  // sent on its own with "type":"subsegment"
  std::string json;
  bool operator==(const Document&) const = default;
};

// What one ingest request carries: spans, and the X-Ray documents they were decoded from.
// Thread-compatible.
struct SpanBatch {
  std::vector<Span> spans;
  std::vector<Document> documents;

  bool empty() const { return spans.empty() && documents.empty(); }
  void Clear() {
    spans.clear();
    documents.clear();
  }
};

}  // namespace waggle::model
