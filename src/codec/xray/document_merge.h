#pragma once

#include <string>
#include <vector>

#include "model/span_batch.h"

namespace waggle::codec::xray {

struct MergedDocument {
  model::SpanId id;
  std::string json;
};

// Builds what BatchGetTraces returns for one trace: one document per segment. Subsegments that
// were sent on their own ("type":"subsegment") are put back into the `subsegments` array of the
// entity their parent_id names (which may itself have been streamed); documents that receive
// none are returned byte for byte as sent. A subsegment whose parent is not (yet) in the trace
// is returned as a document of its own. `documents` holds at most one document per id.
std::vector<MergedDocument> MergeTraceDocuments(const std::vector<model::Document>& documents);

}  // namespace waggle::codec::xray
