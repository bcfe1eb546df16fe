#include "column/dictionary.h"

namespace waggle::column {

uint32_t Dictionary::Intern(std::string_view s) {
  auto it = index_.find(s);
  if (it != index_.end()) return it->second;
  const uint32_t code = static_cast<uint32_t>(values_.size());
  auto [pos, inserted] = index_.emplace(std::string(s), code);
  values_.push_back(&pos->first);
  bytes_ += s.size();
  return code;
}

int64_t Dictionary::Find(std::string_view s) const {
  auto it = index_.find(s);
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

void Dictionary::Clear() {
  index_.clear();
  values_.clear();
  bytes_ = 0;
}

}  // namespace waggle::column
