#pragma once

#include <string>
#include <string_view>

#include "model/attribute.h"
#include "model/ids.h"

// Field encodings shared by the stored record kinds (trace fragments, log groups).
namespace waggle::storage::internal {

// Reads a count of items that take at least `min_bytes` each, refusing counts the remaining
// input cannot hold (a corrupt count must not make us allocate).
bool GetCount(std::string_view* in, size_t min_bytes, uint64_t* n);
void PutTraceId(std::string* out, const model::TraceId& id);
bool GetTraceId(std::string_view* in, model::TraceId* id);
bool GetString(std::string_view* in, std::string* s);
void PutAttributes(std::string* out, const model::Attributes& attrs);
bool GetAttributes(std::string_view* in, model::Attributes* attrs);

}  // namespace waggle::storage::internal
