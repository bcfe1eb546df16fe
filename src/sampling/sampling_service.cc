#include "sampling/sampling_service.h"

#include <algorithm>
#include <cmath>

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
  double last = 0;
  for (const auto& r : rules_) last = std::max(last, r.modified_at);
  return last;
}

TargetsResult SamplingService::Targets(const std::vector<StatisticsDocument>& documents,
                                       double now) {
  TargetsResult result;
  MutexLock lock(&mu_);
  for (const auto& r : rules_)
    result.last_rule_modification = std::max(result.last_rule_modification, r.modified_at);
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
