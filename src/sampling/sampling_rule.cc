#include "sampling/sampling_rule.h"

#include <string>

namespace waggle::sampling {

SamplingRule DefaultRule(std::string_view region, std::string_view account_id) {
  SamplingRule r;
  r.rule_name = std::string(kDefaultRuleName);
  r.rule_arn = "arn:aws:xray:" + std::string(region) + ":" + std::string(account_id) +
               ":sampling-rule/Default";
  return r;
}

}  // namespace waggle::sampling
