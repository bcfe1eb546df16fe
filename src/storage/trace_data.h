#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/span_batch.h"

namespace waggle::storage {

// Everything stored of one trace.
struct TraceData {
  model::TraceId id;
  std::vector<model::Span> spans;
  std::vector<model::Document> documents;
};

// Folds `more` into `into`, keeping one span per span id and one document per document id:
// a later version replaces an earlier one, except that a complete version is never replaced
// by an in-progress one. Order of first arrival is kept.
void MergeInto(TraceData* into, TraceData&& more);

// A trace fragment: the spans and documents of one trace that arrived in one write.
// Encoded for the write-ahead log and decoded on read (docs/wal-format.md).
struct FragmentHeader {
  model::TraceId trace_id;
  int64_t min_start_ns = 0;
  int64_t max_end_ns = 0;  // the latest start or end of any span in the fragment
};

void EncodeFragment(const FragmentHeader& header, const std::vector<const model::Span*>& spans,
                    const std::vector<const model::Document*>& documents, std::string* out);
// Decodes only the header (cheap: used when replaying the log).
Status DecodeFragmentHeader(std::string_view in, FragmentHeader* header);
// Decodes the whole fragment and appends it to `out` (whose id must match).
Status DecodeFragment(std::string_view in, TraceData* out);

// Splits a batch into per-trace fragments (spans and documents by trace id, in order).
struct BatchFragment {
  FragmentHeader header;
  std::vector<const model::Span*> spans;
  std::vector<const model::Document*> documents;
};
std::vector<BatchFragment> SplitByTrace(const model::SpanBatch& batch);

}  // namespace waggle::storage
