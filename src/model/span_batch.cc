#include "model/span_batch.h"

#include <cassert>
#include <iterator>
#include <utility>

namespace waggle::model {
namespace {

// Empties `s`, letting its memory go when it grew past what a kept string may hold.
void Trim(std::string* s) {
  if (s->capacity() > SpanBatch::kKeptStringBytes) {
    std::string().swap(*s);
  } else {
    s->clear();
  }
}
void Trim(Text* s) {
  if (s->capacity() > SpanBatch::kKeptStringBytes) {
    s->Release();
  } else {
    s->clear();  // a borrowed one too: what it borrowed goes with its request
  }
}

// Puts `s` in the state of a default Span but for its attributes, keeping the memory of its
// strings up to kKeptStringBytes. Every member is named here or in kSpanStrings: the size checks
// fail when Span or Attribute gains one, as a reminder to reset it too.
void Reset(Span* s) {
#if defined(__GLIBCXX__) && __SIZEOF_POINTER__ == 8
  static_assert(sizeof(Span) == 648, "reset the new member of Span here");
#endif
  s->trace_id = {};
  s->span_id = {};
  s->parent_span_id = {};
  for (std::string Span::*str : kSpanStrings) Trim(&(s->*str));
  s->kind = SpanKind::kUnspecified;
  s->start_ns = 0;
  s->end_ns = 0;
  s->in_progress = false;
  s->status_flags = 0;
  s->http_status = 0;
  s->flags = 0;
  s->otel_status = 0;
  s->sample_rate = 1;
  s->from_xray_document = false;
  s->context = kNoContext;
  std::vector<SpanEvent>().swap(s->events);
  std::vector<SpanLink>().swap(s->links);
}

}  // namespace

Attribute& AttributeFiller::Add() {
#if defined(__GLIBCXX__) && __SIZEOF_POINTER__ == 8
  static_assert(sizeof(Attribute) == 96, "reset the new member of Attribute here");
#endif
  if (used_ == to_->size()) {
    ++used_;
    return to_->emplace_back();
  }
  Attribute& a = (*to_)[used_++];
  a.key.clear();
  a.value.type = AttributeValue::Type::kString;
  a.value.int_value = 0;
  a.value.double_value = 0;
  a.value.string_value.clear();
  a.role = AttributeRole::kPlain;
  return a;
}

void AttributeFiller::Finish() {
  to_->erase(to_->begin() + static_cast<std::ptrdiff_t>(used_), to_->end());
}

void SpanBatch::BeginFill() {
  assert(!filling_ && "fills do not nest");
  filling_ = true;
  filled_ = spans.size();
  if (spans.empty()) {
    spans.swap(kept_);  // as after Recycle: the kept spans take the place of `spans`
  } else {
    spans.insert(spans.end(), std::make_move_iterator(kept_.begin()),
                 std::make_move_iterator(kept_.end()));
    kept_.clear();
  }
}

Span& SpanBatch::AddSpan(bool keep_attributes) {
  assert(filling_ && "spans are added between BeginFill and EndFill");
  if (filled_ == spans.size()) {
    ++filled_;
    return spans.emplace_back();
  }
  Span& s = spans[filled_++];  // kept, and reset by Recycle or DropLastSpan
  if (!keep_attributes) s.attributes.clear();
  return s;
}

void SpanBatch::DropLastSpan() {
  assert(filling_ && filled_ > 0);
  Reset(&spans[--filled_]);  // its attributes stay, stale, for the next AddSpan to fill over
}

void SpanBatch::EndFill() {
  assert(filling_);
  filling_ = false;
  // The kept spans not handed out (this request had fewer than the last) stay kept.
  const auto rest = spans.begin() + static_cast<ptrdiff_t>(filled_);
  kept_.assign(std::make_move_iterator(rest), std::make_move_iterator(spans.end()));
  spans.erase(rest, spans.end());
}

void SpanBatch::Materialize() {
  for (Span& s : spans) {
    if (s.context == kNoContext) continue;
    const Attributes& c = contexts[s.context];
    s.attributes.insert(s.attributes.begin(), c.begin(), c.end());
    s.context = kNoContext;
  }
  contexts.clear();
}

void SpanBatch::Recycle() {
  if (spans.capacity() > kKeptSpans) {
    if (spans.size() > kKeptSpans) spans.resize(kKeptSpans);
    spans.shrink_to_fit();
  }
  for (Span& s : spans) {
    Reset(&s);
    if (s.attributes.capacity() > kKeptAttributes) {
      if (s.attributes.size() > kKeptAttributes) s.attributes.resize(kKeptAttributes);
      s.attributes.shrink_to_fit();
    }
    for (Attribute& a : s.attributes) {
      Trim(&a.key);
      Trim(&a.value.string_value);
    }
  }
  // The kept spans not handed out (reset already) stay kept, after these, up to the bound.
  for (size_t i = 0; i < kept_.size() && spans.size() < kKeptSpans; ++i) {
    spans.push_back(std::move(kept_[i]));
  }
  kept_.swap(spans);  // the moved-from rest goes with Clear()
  Clear();
}

}  // namespace waggle::model
