#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

// X-Ray centralized sampling rules (spec/xray.md §4.1).
namespace waggle::sampling {

struct SamplingRule {
  std::string rule_name;
  std::string rule_arn;
  std::string resource_arn = "*";
  int32_t priority = 10000;
  double fixed_rate = 0.05;
  int64_t reservoir_size = 1;
  std::string service_name = "*";
  std::string service_type = "*";
  std::string host = "*";
  std::string http_method = "*";
  std::string url_path = "*";
  int32_t version = 1;
  std::map<std::string, std::string> attributes;
};

struct SamplingRuleRecord {
  SamplingRule rule;
  double created_at = 0;   // epoch seconds
  double modified_at = 0;  // epoch seconds
};

inline constexpr std::string_view kDefaultRuleName = "Default";

// The rule every account has: first request each second, then 5 %.
SamplingRule DefaultRule(std::string_view region, std::string_view account_id);

}  // namespace waggle::sampling
