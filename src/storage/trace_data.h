#pragma once

#include <span>
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
  // The trace is larger than a reader returns (X-Ray's LimitExceeded): what is here is the
  // part that arrived first.
  bool limit_exceeded = false;
};

// Keeps one span per span id and one document per document id, in order of first arrival: a
// later version replaces an earlier one, except that a complete version is never replaced by
// an in-progress one. Linear in the trace's size.
void Deduplicate(TraceData* trace);

// Decodes a stored document back into its spans, for stores that keep documents alone
// (model::SpanBatch::spans_from_documents). Implemented outside storage (by ingest, with the
// X-Ray codec) and handed to the store, so storage depends on no wire format.
// Implementations are thread-safe.
class DocumentDecoder {
 public:
  virtual ~DocumentDecoder() = default;
  // Appends the spans of `document` to `spans`.
  virtual Status DecodeSpans(const model::Document& document,
                             std::vector<model::Span>* spans) const = 0;
};

// Decodes a batch's source (model::SpanBatch::source) back into its spans, for stores that log
// the source in place of the spans. Implemented outside storage (by ingest, with the OTLP
// codec) and handed to the store. Implementations are thread-safe, and decode a source into
// the same spans every time within one build. Sources outlive a build only in a WAL not yet
// sealed into blocks, when a new build replays what the old one logged: a decoder that would
// decode a stored source differently (refusing spans the old one kept, mapping fields
// otherwise) must keep decoding the old kind as before and mark its new sources with a new
// kind (docs/wal-format.md, "Record type 3").
class SourceDecoder {
 public:
  virtual ~SourceDecoder() = default;
  // Appends the spans of `source` to `out`. Their attributes' text may refer to the bytes of
  // `source` (model::Text::Borrow): the caller keeps them for as long as it reads `out`.
  virtual Status DecodeSource(std::string_view source, model::SpanBatch* out) const = 0;
};

// A trace fragment: the spans and documents of one trace that arrived in one write.
// Encoded for the write-ahead log and decoded on read (docs/wal-format.md).
struct FragmentHeader {
  model::TraceId trace_id;
  int64_t min_start_ns = 0;
  int64_t max_end_ns = 0;  // the latest start or end of any span in the fragment
};

// With `documents_only`, the spans are left out: a DocumentDecoder re-derives them on read.
// A span with a shared context (model::Span::context) is written with that context's
// attributes ahead of its own, from `contexts` (its batch's), as if they were its own.
void EncodeFragment(const FragmentHeader& header, const std::vector<const model::Span*>& spans,
                    const std::vector<const model::Document*>& documents, bool documents_only,
                    std::string* out, const std::vector<model::Attributes>* contexts = nullptr);
// Decodes only the header (cheap: used when replaying the log).
Status DecodeFragmentHeader(std::string_view in, FragmentHeader* header);
// Decodes the whole fragment and appends its spans and documents to `out` (whose id must
// match); call Deduplicate() once the last fragment is in. A documents-only fragment needs
// `decoder` (Unimplemented without one).
Status DecodeFragment(std::string_view in, const DocumentDecoder* decoder, TraceData* out);

// Splits a batch into per-trace fragments (spans and documents by trace id, in order).
struct BatchFragment {
  FragmentHeader header;
  std::vector<const model::Span*> spans;
  std::vector<const model::Document*> documents;
  const std::vector<model::Attributes>* contexts = nullptr;  // the batch's shared contexts
};
std::vector<BatchFragment> SplitByTrace(const model::SpanBatch& batch);
// EncodeFragment of each fragment, one after the other in `out` (cleared first; reusing it
// across calls saves growing it each time): (*views)[i] is fragment i's encoding.
void EncodeFragments(std::span<const BatchFragment> fragments, bool documents_only,
                     std::string* out, std::vector<std::string_view>* views);

}  // namespace waggle::storage
