#include "model/attribute.h"

namespace waggle::model {

const Attribute* FindAttribute(const Attributes& attrs, std::string_view key) {
  for (const Attribute& a : attrs) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

}  // namespace waggle::model
