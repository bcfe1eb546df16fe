#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/coding.h"
#include "model/attribute.h"
#include "model/ids.h"
#include "model/span.h"

// Field encodings shared by the stored record kinds (trace fragments, log groups).
namespace waggle::storage::internal {

// Differences of times are stored; wrapping arithmetic keeps corrupt input from overflowing.
inline int64_t WrapAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

// Reads a count of items that take at least `min_bytes` each, refusing counts the remaining
// input cannot hold (a corrupt count must not make us allocate).
bool GetCount(std::string_view* in, size_t min_bytes, uint64_t* n);
void PutTraceId(std::string* out, const model::TraceId& id);
bool GetTraceId(std::string_view* in, model::TraceId* id);
// A length-prefixed string into *s: a std::string or a model::Text.
template <typename S>
bool GetString(std::string_view* in, S* s) {
  std::string_view v;
  if (!coding::GetLengthPrefixed(in, &v)) return false;
  s->assign(v);
  return true;
}
void PutAttributes(std::string* out, const model::Attributes& attrs);
bool GetAttributes(std::string_view* in, model::Attributes* attrs);
// A span's events (times relative to its start) and links, as trace fragments keep them;
// `version` is the fragment version the bytes were written in (links have a trace state from
// version 2). `span->start_ns` must be set before Get.
void PutEventsAndLinks(std::string* out, const model::Span& span);
bool GetEventsAndLinks(std::string_view* in, uint64_t version, model::Span* span);

}  // namespace waggle::storage::internal
