#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "codec/json_writer.h"
#include "model/attribute.h"

// What every writer of X-Ray segment documents shares: the JSON writer, X-Ray's times and
// names, and attribute values as JSON. Included only by .cc files that write documents (the
// API's view of OTLP spans, the workload's X-Ray SDK-shaped datagrams).
namespace waggle::codec::xray {

// JsonWriter, WriteString and WriteKey: codec/json_writer.h.
// Epoch seconds with microseconds, as the SDKs send them.
void WriteSeconds(JsonWriter& w, int64_t ns);
// Strings as strings, kJson as raw JSON, bytes as base64 (as protobuf JSON writes them),
// non-finite doubles as null.
void WriteAttributeValue(JsonWriter& w, const model::AttributeValue& v);

// An X-Ray entity name: letters, digits, whitespace and _ . : / % & # = + \ - @, at most 200
// bytes (a little stricter than 200 characters, never cutting a code point), never empty.
std::string EntityName(std::string_view name);
// A db.system value that X-Ray reports under "sql".
bool IsSqlSystem(std::string_view db_system);

}  // namespace waggle::codec::xray
