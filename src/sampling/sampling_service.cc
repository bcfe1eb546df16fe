#include "sampling/sampling_service.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>

namespace waggle::sampling {

SamplingService::SamplingService(const SamplingOptions& options) : options_(options) {
  SamplingRuleRecord def;
  def.rule = DefaultRule(options.region, options.account_id);
  def.created_at = 0;
  def.modified_at = options.default_rule_modified_at;
  MutexLock lock(&mu_);
  rules_.push_back(std::move(def));
}

std::vector<SamplingRuleRecord> SamplingService::Rules() const {
  MutexLock lock(&mu_);
  std::vector<SamplingRuleRecord> out = rules_;
  std::sort(out.begin(), out.end(), [](const SamplingRuleRecord& a, const SamplingRuleRecord& b) {
    if (a.rule.priority != b.rule.priority) return a.rule.priority < b.rule.priority;
    return a.rule.rule_name < b.rule.rule_name;
  });
  return out;
}

double SamplingService::LastRuleModification() const {
  MutexLock lock(&mu_);
  return LastRuleModificationLocked();
}

double SamplingService::LastRuleModificationLocked() const {
  double last = last_deletion_;
  for (const auto& r : rules_) last = std::max(last, r.modified_at);
  return last;
}

void SamplingService::SetSave(SaveFn save) {
  MutexLock lock(&mu_);
  save_ = std::move(save);
}

Status SamplingService::Restore(std::vector<SamplingRuleRecord> rules) {
  size_t own = 0;  // besides Default
  std::set<std::string_view> names;
  for (SamplingRuleRecord& r : rules) {
    // An ARN follows the configured region and account (they may have changed since, or the
    // file been edited): as Create gives it, so that lookups by ARN find one rule.
    r.rule.rule_arn = RuleArn(options_.region, options_.account_id, r.rule.rule_name);
    if (Status s = ValidateRule(r.rule); !s.ok()) {
      return Status::InvalidArgument("sampling rule " + r.rule.rule_name + ": " + s.message());
    }
    if (!names.insert(r.rule.rule_name).second) {
      return Status::InvalidArgument("sampling rule " + r.rule.rule_name + " is there twice");
    }
    if (r.rule.rule_name == kDefaultRuleName) {
      // As Update allows: only its rate and reservoir differ from the built-in one.
      SamplingRule want = DefaultRule(options_.region, options_.account_id);
      want.fixed_rate = r.rule.fixed_rate;
      want.reservoir_size = r.rule.reservoir_size;
      if (!(r.rule == want)) {
        return Status::InvalidArgument(
            "sampling rule Default: only FixedRate and ReservoirSize can differ from the "
            "built-in rule");
      }
    }
    own += r.rule.rule_name != kDefaultRuleName;
  }
  if (own > kMaxRules) {
    return Status::InvalidArgument(std::to_string(own) + " sampling rules, more than " +
                                   std::to_string(kMaxRules));
  }
  MutexLock lock(&mu_);
  for (SamplingRuleRecord& r : rules) {
    auto it = FindLocked(r.rule.rule_name, "");
    if (it != rules_.end()) {
      *it = std::move(r);
    } else {
      rules_.push_back(std::move(r));
    }
  }
  return Status::Ok();
}

std::vector<SamplingRuleRecord>::iterator SamplingService::FindLocked(std::string_view name,
                                                                      std::string_view arn) {
  return std::find_if(rules_.begin(), rules_.end(), [&](const SamplingRuleRecord& r) {
    return name.empty() ? r.rule.rule_arn == arn : r.rule.rule_name == name;
  });
}

Status SamplingService::CommitLocked(std::vector<SamplingRuleRecord> before) {
  if (!save_) return Status::Ok();
  Status s = save_(rules_);
  if (!s.ok()) rules_ = std::move(before);
  return s;
}

Result<SamplingRuleRecord> SamplingService::Create(SamplingRule rule, double now) {
  WAGGLE_RETURN_IF_ERROR(ValidateRule(rule));
  if (rule.rule_name == kDefaultRuleName) {
    return Status::AlreadyExists("A sampling rule named Default already exists");
  }
  MutexLock lock(&mu_);
  if (FindLocked(rule.rule_name, "") != rules_.end()) {
    return Status::AlreadyExists("A sampling rule named " + rule.rule_name + " already exists");
  }
  if (rules_.size() > kMaxRules) {
    return Status::ResourceExhausted("You have reached the maximum number of sampling rules");
  }
  rule.rule_arn = RuleArn(options_.region, options_.account_id, rule.rule_name);
  std::vector<SamplingRuleRecord> before = rules_;
  rules_.push_back({std::move(rule), now, now});
  SamplingRuleRecord added = rules_.back();
  WAGGLE_RETURN_IF_ERROR(CommitLocked(std::move(before)));
  return added;
}

Result<SamplingRuleRecord> SamplingService::Update(const SamplingRuleUpdate& u, double now) {
  MutexLock lock(&mu_);
  auto it = FindLocked(u.rule_name, u.rule_arn);
  if (it == rules_.end()) return Status::NotFound("Sampling rule does not exist");
  SamplingRule r = it->rule;
  const bool is_default = r.rule_name == kDefaultRuleName;
  if (is_default && (u.resource_arn || u.priority || u.service_name || u.service_type || u.host ||
                     u.http_method || u.url_path || u.attributes)) {
    return Status::InvalidArgument(
        "Only FixedRate and ReservoirSize of the Default rule can be changed");
  }
  if (u.resource_arn) r.resource_arn = *u.resource_arn;
  if (u.priority) r.priority = *u.priority;
  if (u.fixed_rate) r.fixed_rate = *u.fixed_rate;
  if (u.reservoir_size) r.reservoir_size = *u.reservoir_size;
  if (u.service_name) r.service_name = *u.service_name;
  if (u.service_type) r.service_type = *u.service_type;
  if (u.host) r.host = *u.host;
  if (u.http_method) r.http_method = *u.http_method;
  if (u.url_path) r.url_path = *u.url_path;
  if (u.attributes) r.attributes = *u.attributes;
  WAGGLE_RETURN_IF_ERROR(ValidateRule(r));
  std::vector<SamplingRuleRecord> before = rules_;
  it->rule = std::move(r);
  it->modified_at = std::max(now, it->modified_at);
  SamplingRuleRecord updated = *it;
  WAGGLE_RETURN_IF_ERROR(CommitLocked(std::move(before)));
  return updated;
}

Result<SamplingRuleRecord> SamplingService::Delete(std::string_view name, std::string_view arn,
                                                   double now) {
  MutexLock lock(&mu_);
  auto it = FindLocked(name, arn);
  if (it == rules_.end()) return Status::NotFound("Sampling rule does not exist");
  if (it->rule.rule_name == kDefaultRuleName) {
    return Status::InvalidArgument("The Default sampling rule cannot be deleted");
  }
  std::vector<SamplingRuleRecord> before = rules_;
  SamplingRuleRecord deleted = *it;
  rules_.erase(it);
  const double last_deletion = last_deletion_;
  last_deletion_ = std::max(last_deletion_, now);
  Status s = CommitLocked(std::move(before));
  if (!s.ok()) {
    last_deletion_ = last_deletion;
    return s;
  }
  clients_.erase(deleted.rule.rule_name);
  return deleted;
}

TargetsResult SamplingService::Targets(const std::vector<StatisticsDocument>& documents,
                                       double now) {
  TargetsResult result;
  MutexLock lock(&mu_);
  // Deleting a rule is a change too (spec/xray.md §4.8 step 4).
  result.last_rule_modification = LastRuleModificationLocked();
  const double expiry = 3.0 * options_.report_interval_seconds;
  for (const StatisticsDocument& doc : documents) {
    auto rule = std::find_if(rules_.begin(), rules_.end(), [&](const SamplingRuleRecord& r) {
      return r.rule.rule_name == doc.rule_name;
    });
    if (rule == rules_.end()) {
      result.unprocessed.push_back({doc.rule_name, "400", "unknown rule " + doc.rule_name});
      continue;
    }
    auto& clients = clients_[doc.rule_name];
    for (auto it = clients.begin(); it != clients.end();) {
      it = now - it->second.last_seen > expiry ? clients.erase(it) : std::next(it);
    }
    if (clients.size() >= kMaxClientsPerRule && !clients.count(doc.client_id)) {
      // A flood of new client ids: the one silent longest makes room.
      auto oldest = std::min_element(
          clients.begin(), clients.end(),
          [](const auto& a, const auto& b) { return a.second.last_seen < b.second.last_seen; });
      clients.erase(oldest);
    }
    clients[doc.client_id] = {now, std::max<int64_t>(0, doc.request_count)};
    // Proportional split of ReservoirSize, floors first, remainders to the busiest clients.
    const int64_t size = rule->rule.reservoir_size;
    int64_t total = 0;
    for (const auto& [id, c] : clients) total += c.request_count;
    std::vector<std::pair<std::string, int64_t>> quotas;
    std::vector<std::pair<double, std::string>> remainders;
    int64_t given = 0;
    for (const auto& [id, c] : clients) {
      double exact = total > 0 ? static_cast<double>(size) * c.request_count / total
                               : static_cast<double>(size) / clients.size();
      int64_t q = static_cast<int64_t>(std::floor(exact));
      quotas.emplace_back(id, q);
      given += q;
      if (total == 0 || c.request_count > 0) remainders.emplace_back(exact - q, id);
    }
    std::sort(remainders.begin(), remainders.end(), std::greater<>());
    for (size_t i = 0; given < size && i < remainders.size(); ++i, ++given) {
      for (auto& [id, q] : quotas) {
        if (id == remainders[i].second) ++q;
      }
    }
    TargetDocument target;
    target.rule_name = doc.rule_name;
    target.fixed_rate = rule->rule.fixed_rate;
    for (const auto& [id, q] : quotas) {
      if (id == doc.client_id) target.reservoir_quota = q;
    }
    target.reservoir_quota_ttl = now + options_.quota_ttl_seconds;
    target.interval = options_.report_interval_seconds;
    result.targets.push_back(std::move(target));
  }
  return result;
}

}  // namespace waggle::sampling
