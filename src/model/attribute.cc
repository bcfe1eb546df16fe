#include "model/attribute.h"

namespace waggle::model {

const Attribute* FindAttribute(const Attributes& attrs, std::string_view key) {
  for (const Attribute& a : attrs) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

std::string_view FindString(const Attributes& attrs, std::string_view key) {
  const Attribute* a = FindAttribute(attrs, key);
  return a != nullptr && a->value.type == AttributeValue::Type::kString
             ? std::string_view(a->value.string_value)
             : std::string_view();
}

}  // namespace waggle::model
