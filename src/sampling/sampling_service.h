#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
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

  // Called with every rule after each change, under the service's lock; when it fails the
  // change is undone and its error returned (the server keeps the rules in the data dir).
  using SaveFn = std::function<Status(const std::vector<SamplingRuleRecord>& rules)>;
  void SetSave(SaveFn save);
  // Puts back the rules a SaveFn saved (a saved Default replaces the built-in one), checked as
  // Create and Update check them (Default may differ only in FixedRate and ReservoirSize):
  // InvalidArgument naming the first rule at fault (none is put back).
  Status Restore(std::vector<SamplingRuleRecord> rules);

  // CreateSamplingRule: InvalidArgument for limits, AlreadyExists for a name in use,
  // ResourceExhausted past kMaxRules.
  Result<SamplingRuleRecord> Create(SamplingRule rule, double now);
  // UpdateSamplingRule: only FixedRate and ReservoirSize may change on Default. NotFound for
  // no such rule.
  Result<SamplingRuleRecord> Update(const SamplingRuleUpdate& update, double now);
  // DeleteSamplingRule by name or ARN; returns the rule deleted. Default cannot be deleted.
  Result<SamplingRuleRecord> Delete(std::string_view name, std::string_view arn, double now);

  static constexpr size_t kMaxRules = 25;  // besides Default

  TargetsResult Targets(const std::vector<StatisticsDocument>& documents, double now);

 private:
  struct ClientState {
    double last_seen = 0;
    int64_t request_count = 0;  // in its last report
  };

  // Clients remembered per rule; past this the longest-silent one is forgotten.
  static constexpr size_t kMaxClientsPerRule = 1000;

  std::vector<SamplingRuleRecord>::iterator FindLocked(std::string_view name, std::string_view arn)
      REQUIRES(mu_);
  // Saves; on failure puts `before` back.
  Status CommitLocked(std::vector<SamplingRuleRecord> before) REQUIRES(mu_);

  const SamplingOptions options_;
  mutable Mutex mu_;
  SaveFn save_ GUARDED_BY(mu_);
  double LastRuleModificationLocked() const REQUIRES(mu_);
  double last_deletion_ GUARDED_BY(mu_) = 0;  // so deleting a rule also moves the clock
  std::vector<SamplingRuleRecord> rules_ GUARDED_BY(mu_);
  // rule name -> client id -> state
  std::map<std::string, std::map<std::string, ClientState>> clients_ GUARDED_BY(mu_);
};

}  // namespace waggle::sampling
