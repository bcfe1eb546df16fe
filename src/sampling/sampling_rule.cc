#include "sampling/sampling_rule.h"

#include <string>

namespace waggle::sampling {

std::string RuleArn(std::string_view region, std::string_view account_id, std::string_view name) {
  return "arn:aws:xray:" + std::string(region) + ":" + std::string(account_id) + ":sampling-rule/" +
         std::string(name);
}

SamplingRule DefaultRule(std::string_view region, std::string_view account_id) {
  SamplingRule r;
  r.rule_name = std::string(kDefaultRuleName);
  r.rule_arn = RuleArn(region, account_id, kDefaultRuleName);
  return r;
}

Status ValidateRule(const SamplingRule& r) {
  auto length = [](std::string_view member, std::string_view value, size_t min, size_t max) {
    if (value.size() < min || value.size() > max) {
      return Status::InvalidArgument(std::string(member) + " must be " + std::to_string(min) +
                                     " to " + std::to_string(max) + " characters long");
    }
    return Status::Ok();
  };
  WAGGLE_RETURN_IF_ERROR(length("RuleName", r.rule_name, 1, 32));
  WAGGLE_RETURN_IF_ERROR(length("ResourceARN", r.resource_arn, 0, 500));
  WAGGLE_RETURN_IF_ERROR(length("ServiceName", r.service_name, 0, 64));
  WAGGLE_RETURN_IF_ERROR(length("ServiceType", r.service_type, 0, 64));
  WAGGLE_RETURN_IF_ERROR(length("Host", r.host, 0, 64));
  WAGGLE_RETURN_IF_ERROR(length("HTTPMethod", r.http_method, 0, 10));
  WAGGLE_RETURN_IF_ERROR(length("URLPath", r.url_path, 0, 128));
  const bool is_default = r.rule_name == kDefaultRuleName;
  if (!is_default && (r.priority < 1 || r.priority > 9999)) {
    return Status::InvalidArgument("Priority must be between 1 and 9999");
  }
  if (!(r.fixed_rate >= 0 && r.fixed_rate <= 1)) {
    return Status::InvalidArgument("FixedRate must be between 0 and 1");
  }
  if (r.reservoir_size < 0) return Status::InvalidArgument("ReservoirSize must not be negative");
  if (r.version != 1) return Status::InvalidArgument("Version must be 1");
  if (r.attributes.size() > 5)
    return Status::InvalidArgument("Attributes may hold at most 5 entries");
  for (const auto& [k, v] : r.attributes) {
    WAGGLE_RETURN_IF_ERROR(length("an Attributes key", k, 1, 32));
    WAGGLE_RETURN_IF_ERROR(length("an Attributes value", v, 1, 32));
  }
  return Status::Ok();
}

}  // namespace waggle::sampling
