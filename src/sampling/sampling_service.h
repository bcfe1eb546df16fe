#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "sampling/sampling_rule.h"

namespace waggle::sampling {

// One SamplingStatisticsDocument of a GetSamplingTargets call.
struct StatisticsDocument {
  std::string rule_name;
  std::string client_id;
  double timestamp = 0;  // epoch seconds
  int64_t request_count = 0;
  int64_t sampled_count = 0;
  int64_t borrow_count = 0;
};

struct TargetDocument {
  std::string rule_name;
  double fixed_rate = 0;
  int64_t reservoir_quota = 0;
  double reservoir_quota_ttl = 0;  // epoch seconds
  int32_t interval = 10;           // seconds until the client reports again
};

struct UnprocessedStatistics {
  std::string rule_name;
  std::string error_code;  // "400": unknown rule (the SDKs then refresh their rules)
  std::string message;
};

struct TargetsResult {
  std::vector<TargetDocument> targets;
  double last_rule_modification = 0;
  std::vector<UnprocessedStatistics> unprocessed;
};

struct SamplingOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  // ModifiedAt of the built-in Default rule: the data dir's creation time, so that
  // LastRuleModification is never 0 (SDKs reject 0) and stays the same across restarts.
  double default_rule_modified_at = 1;
  int32_t report_interval_seconds = 10;
  double quota_ttl_seconds = 60;  // short, so rule edits reach clients quickly
};

// Serves sampling rules and computes reservoir quotas: a rule's ReservoirSize per second is
// split across the clients reporting for it, in proportion to their request counts (§4.8).
// Thread-safe.
class SamplingService {
 public:
  explicit SamplingService(const SamplingOptions& options);

  // All rules, by ascending priority then name (Default, priority 10000, last).
  std::vector<SamplingRuleRecord> Rules() const;
  double LastRuleModification() const;

  TargetsResult Targets(const std::vector<StatisticsDocument>& documents, double now);

 private:
  struct ClientState {
    double last_seen = 0;
    int64_t request_count = 0;  // in its last report
  };

  // Clients remembered per rule; past this the longest-silent one is forgotten.
  static constexpr size_t kMaxClientsPerRule = 1000;

  const SamplingOptions options_;
  mutable Mutex mu_;
  std::vector<SamplingRuleRecord> rules_ GUARDED_BY(mu_);
  // rule name -> client id -> state
  std::map<std::string, std::map<std::string, ClientState>> clients_ GUARDED_BY(mu_);
};

}  // namespace waggle::sampling
