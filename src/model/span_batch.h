#pragma once

#include <cstddef>
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

// Fills an attribute list from the front: assigning over the attributes it held before (left
// in a span kept by SpanBatch::Recycle, their strings keeping their memory), then appending.
// Until Finish() the list still holds the stale ones not assigned over, at its end.
class AttributeFiller {
 public:
  AttributeFiller() = default;
  explicit AttributeFiller(Attributes* to) : to_(to) {}
  // An attribute in its default state, at the end of those filled so far.
  Attribute& Add();
  // Takes back the last Add.
  void Drop() { --used_; }
  // Drops the stale attributes: the list holds those added, in order.
  void Finish();

 private:
  Attributes* to_ = nullptr;
  size_t used_ = 0;
};

// What one ingest request carries: spans, and the X-Ray documents they were decoded from.
// Thread-compatible.
struct SpanBatch {
  std::vector<Span> spans;
  std::vector<Document> documents;
  // Attribute lists that spans share (an OTLP resource's then its scope's attributes), each
  // kept once: a span whose `context` is i has contexts[i] before its own attributes. A
  // consumer that reads spans' attributes reads ContextOf(span) first, or calls Materialize.
  std::vector<Attributes> contexts;
  // Every span was decoded from `documents` (X-Ray ingest), so a store that can decode
  // documents again (storage::DocumentDecoder) may keep the documents alone.
  bool spans_from_documents = false;
  // When not both empty: `source_header` then `source` are the encoded request every span was
  // decoded from, which a storage::SourceDecoder turns back into exactly these spans, so a
  // store may log it in place of the spans. In two parts so that a request's body can be the
  // second as it is, uncopied. They belong to the caller, who keeps them alive during the write.
  std::string_view source_header;
  std::string_view source;

  bool empty() const { return spans.empty() && documents.empty(); }
  void Clear() {
    spans.clear();
    documents.clear();
    contexts.clear();
    spans_from_documents = false;
    source_header = {};
    source = {};
  }

  // The attributes that come before `span`'s own: its context's; null when it has none.
  const Attributes* ContextOf(const Span& span) const {
    return span.context == kNoContext ? nullptr : &contexts[span.context];
  }
  // Copies each span's context attributes into its own list, ahead of them, and empties
  // `contexts`: every span then holds all its attributes.
  void Materialize();

  // Reuse, for a batch decoded into request after request: Recycle keeps the spans, and
  // AddSpan hands them out again where they lie, so a decoder assigns into strings that hold
  // memory already instead of allocating, and no span is moved (a Span is 648 bytes: moving each
  // kept one into place was 3% of OTLP ingest's CPU).
  //
  // Spans are added between BeginFill and EndFill. In between, `spans` holds the spans added so
  // far (filled() of them) and, after those, the kept spans not handed out yet; only AddSpan,
  // DropLastSpan and filled() may be used on the spans. EndFill keeps those not handed out.
  void BeginFill();
  void EndFill();
  // Adds a span in its default state (a kept one, when there is one) while filling. Its
  // attribute list is empty, unless `keep_attributes`: then it may hold stale attributes, which
  // the caller fills over with an AttributeFiller and Finish()es before the span is read.
  Span& AddSpan(bool keep_attributes = false);
  // Takes back the last AddSpan (its span is reset, to be handed out again).
  void DropLastSpan();
  // The spans added so far: spans.size(), but while filling.
  size_t filled() const { return filling_ ? filled_ : spans.size(); }
  // Clear(), keeping up to kKeptSpans spans for AddSpan, with up to kKeptAttributes
  // attributes each; a string that grew past kKeptStringBytes lets its memory go. A kept batch
  // so holds about 16 MiB at most.
  void Recycle();
  // How many kept spans AddSpan has yet to hand out.
  size_t kept() const { return filling_ ? spans.size() - filled_ : kept_.size(); }

  static constexpr size_t kKeptSpans = 1024;
  static constexpr size_t kKeptAttributes = 32;
  static constexpr size_t kKeptStringBytes = 128;

 private:
  std::vector<Span> kept_;  // reset by Recycle or DropLastSpan; empty while filling
  bool filling_ = false;    // between BeginFill and EndFill
  size_t filled_ = 0;       // while filling: how many of `spans` were added
};

}  // namespace waggle::model
