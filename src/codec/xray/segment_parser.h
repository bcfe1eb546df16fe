#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "model/span_batch.h"

// Decodes X-Ray segment documents (spec/xray.md §2) into spans (spec/otlp.md §9.4 mapping).
namespace waggle::codec::xray {

// Why a document was rejected, in the form X-Ray's UnprocessedTraceSegments reports it.
struct SegmentError {
  std::string id;          // the document's id when it could be read, else empty
  std::string error_code;  // "MissingId", "InvalidTraceId", "InvalidName", ...
  std::string message;     // "Invalid segment. ErrorCode: InvalidName, Cause: ..."
};

// Largest document accepted (X-Ray's documented segment document size limit).
constexpr size_t kMaxDocumentBytes = 64 * 1024;

// Parses documents one at a time, reusing its buffers. Thread-compatible: use one parser
// per thread.
class SegmentParser {
 public:
  SegmentParser();
  ~SegmentParser();
  SegmentParser(const SegmentParser&) = delete;
  SegmentParser& operator=(const SegmentParser&) = delete;

  // Decodes one document: a segment with its embedded subsegments, or an independent
  // subsegment ("type":"subsegment"). On success appends a span per (sub)segment and the
  // document itself (verbatim) to `batch` and returns true; on failure appends nothing, fills
  // `error` and returns false. `environment` is stamped on every span and the document.
  // Marks the batch spans_from_documents when it held no other spans.
  // A document that is not quite valid JSON (lone surrogate escapes, as JavaScript's
  // JSON.stringify writes them, or bytes that are not UTF-8) is read repaired
  // (codec::RepairJsonText), and the repaired text is the one kept; the repairs are added to
  // `*text_repairs` when it is not null.
  bool Parse(std::string_view json, std::string_view environment, model::SpanBatch* batch,
             SegmentError* error, uint64_t* text_repairs = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `name` is a valid segment name: 1..200 characters of Unicode letters, digits,
// whitespace and `_ . : / % & # = + \ - @` (spec/xray.md §2.2).
bool IsValidSegmentName(std::string_view name);

}  // namespace waggle::codec::xray
