#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/text.h"

namespace waggle::model {

// A typed attribute value. Arrays and maps are kept as JSON text (type kJson).
struct AttributeValue {
  enum class Type : uint8_t {
    kString = 0,
    kInt = 1,
    kDouble = 2,
    kBool = 3,
    kBytes = 4,
    kJson = 5
  };

  // The types held as text: string, bytes and JSON.
  static constexpr bool IsStringType(Type t) {
    return t == Type::kString || t == Type::kBytes || t == Type::kJson;
  }

  Type type = Type::kString;
  int64_t int_value = 0;    // kInt; kBool as 0/1
  double double_value = 0;  // kDouble
  Text string_value;        // kString, kBytes, kJson

  static AttributeValue String(std::string_view s) {
    AttributeValue v;
    v.string_value = s;
    return v;
  }
  static AttributeValue Int(int64_t i) {
    AttributeValue v;
    v.type = Type::kInt;
    v.int_value = i;
    return v;
  }
  static AttributeValue Double(double d) {
    AttributeValue v;
    v.type = Type::kDouble;
    v.double_value = d;
    return v;
  }
  static AttributeValue Bool(bool b) {
    AttributeValue v;
    v.type = Type::kBool;
    v.int_value = b ? 1 : 0;
    return v;
  }
  static AttributeValue Json(std::string_view s) {
    AttributeValue v;
    v.type = Type::kJson;
    v.string_value = s;
    return v;
  }
  bool operator==(const AttributeValue&) const = default;
};

// Where an attribute came from, for the X-Ray view of it.
enum class AttributeRole : uint8_t {
  kPlain = 0,
  kAnnotation = 1,  // an X-Ray annotation: indexed, filterable as `annotation.KEY`
  kMetadata = 2,    // an X-Ray metadata namespace (JSON): stored, not indexed
  kResource = 3,    // an OTLP resource attribute (service.name, host.name, ...)
  kScope = 4,       // an OTLP instrumentation scope attribute
};

struct Attribute {
  Text key;
  AttributeValue value;
  AttributeRole role = AttributeRole::kPlain;
  bool operator==(const Attribute&) const = default;
};

using Attributes = std::vector<Attribute>;

// Returns the attribute with `key`, or nullptr.
const Attribute* FindAttribute(const Attributes& attrs, std::string_view key);
// The value of the string attribute `key`; empty when there is none or it is not a string.
std::string_view FindString(const Attributes& attrs, std::string_view key);

}  // namespace waggle::model
