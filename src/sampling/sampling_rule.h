#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

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
  bool operator==(const SamplingRule&) const = default;
};

struct SamplingRuleRecord {
  SamplingRule rule;
  double created_at = 0;   // epoch seconds
  double modified_at = 0;  // epoch seconds
  bool operator==(const SamplingRuleRecord&) const = default;
};

inline constexpr std::string_view kDefaultRuleName = "Default";

// The ARN of the rule named `name` in that region and account.
std::string RuleArn(std::string_view region, std::string_view account_id, std::string_view name);

// The rule every account has: first request each second, then 5 %.
SamplingRule DefaultRule(std::string_view region, std::string_view account_id);

// The limits of spec/xray.md §4.1 (AWS checks them on the server; the CLI checks only
// minimums). InvalidArgument naming the member that is out of bounds.
Status ValidateRule(const SamplingRule& rule);

// The members an UpdateSamplingRule names; the others stay as they are.
struct SamplingRuleUpdate {
  std::string rule_name;  // or
  std::string rule_arn;
  std::optional<std::string> resource_arn;
  std::optional<int32_t> priority;
  std::optional<double> fixed_rate;
  std::optional<int64_t> reservoir_size;
  std::optional<std::string> service_name;
  std::optional<std::string> service_type;
  std::optional<std::string> host;
  std::optional<std::string> http_method;
  std::optional<std::string> url_path;
  std::optional<std::map<std::string, std::string>> attributes;
};

}  // namespace waggle::sampling
