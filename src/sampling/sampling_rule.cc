#include "sampling/sampling_rule.h"

#include <cctype>
#include <string>

namespace waggle::sampling {

SamplingRule DefaultRule(std::string_view region, std::string_view account_id) {
  SamplingRule r;
  r.rule_name = std::string(kDefaultRuleName);
  r.rule_arn = "arn:aws:xray:" + std::string(region) + ":" + std::string(account_id) +
               ":sampling-rule/Default";
  return r;
}

bool WildcardMatch(std::string_view pattern, std::string_view text) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace waggle::sampling
