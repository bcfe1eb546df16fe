#pragma once

#include <string>
#include <string_view>
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
  std::string environment;  // as stamped on its spans
  std::string json;
  bool operator==(const Document&) const = default;
};

// What one ingest request carries: spans, and the X-Ray documents they were decoded from.
// Thread-compatible.
struct SpanBatch {
  std::vector<Span> spans;
  std::vector<Document> documents;
  // Every span was decoded from `documents` (X-Ray ingest), so a store that can decode
  // documents again (storage::DocumentDecoder) may keep the documents alone.
  bool spans_from_documents = false;
  // When not empty: the encoded request every span was decoded from, which a
  // storage::SourceDecoder turns back into exactly these spans, so a store may log it in
  // place of the spans. It belongs to the caller, who keeps it alive during the write.
  std::string_view source;

  bool empty() const { return spans.empty() && documents.empty(); }
  void Clear() {
    spans.clear();
    documents.clear();
    spans_from_documents = false;
    source = {};
  }
};

}  // namespace waggle::model
