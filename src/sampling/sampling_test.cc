#include <gtest/gtest.h>

#include "sampling/sampling_rule.h"
#include "sampling/sampling_service.h"

namespace waggle::sampling {
namespace {

TEST(SamplingService, ServesTheDefaultRuleWithANonZeroModificationTime) {
  SamplingOptions options;
  options.region = "eu-west-1";
  options.account_id = "123456789012";
  options.default_rule_modified_at = 1795235388.5;
  SamplingService service(options);
  auto rules = service.Rules();
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].rule.rule_name, "Default");
  EXPECT_EQ(rules[0].rule.rule_arn, "arn:aws:xray:eu-west-1:123456789012:sampling-rule/Default");
  EXPECT_EQ(rules[0].rule.priority, 10000);
  EXPECT_DOUBLE_EQ(rules[0].rule.fixed_rate, 0.05);
  EXPECT_EQ(rules[0].rule.reservoir_size, 1);
  EXPECT_DOUBLE_EQ(service.LastRuleModification(), 1795235388.5);
}

TEST(SamplingService, SplitsTheReservoirAcrossReportingClients) {
  SamplingService service(SamplingOptions{});
  // Default has ReservoirSize 1: the busier of two clients gets it.
  auto a = service.Targets({{"Default", "aaaaaaaaaaaaaaaaaaaaaaaa", 100, 30, 3, 1}}, 100);
  ASSERT_EQ(a.targets.size(), 1u);
  EXPECT_EQ(a.targets[0].reservoir_quota, 1);
  auto b = service.Targets({{"Default", "bbbbbbbbbbbbbbbbbbbbbbbb", 101, 10, 1, 1}}, 101);
  EXPECT_EQ(b.targets[0].reservoir_quota, 0);
  EXPECT_DOUBLE_EQ(b.targets[0].fixed_rate, 0.05);
  EXPECT_DOUBLE_EQ(b.targets[0].reservoir_quota_ttl, 161);
  EXPECT_EQ(b.targets[0].interval, 10);
  // Once the first client stops reporting, the second gets the whole reservoir.
  auto c = service.Targets({{"Default", "bbbbbbbbbbbbbbbbbbbbbbbb", 200, 10, 1, 1}}, 200);
  EXPECT_EQ(c.targets[0].reservoir_quota, 1);
}

TEST(SamplingService, ReportsUnknownRulesAsUnprocessed) {
  SamplingService service(SamplingOptions{});
  auto r = service.Targets({{"Cruddur", "aaaaaaaaaaaaaaaaaaaaaaaa", 100, 7, 0, 1}}, 100);
  EXPECT_TRUE(r.targets.empty());
  ASSERT_EQ(r.unprocessed.size(), 1u);
  EXPECT_EQ(r.unprocessed[0].error_code, "400");
  EXPECT_GT(r.last_rule_modification, 0);
}

}  // namespace
}  // namespace waggle::sampling

namespace waggle::sampling {
namespace {

TEST(SamplingService, ForgetsTheLongestSilentClientPastTheLimit) {
  SamplingService service(SamplingOptions{});
  char id[25];
  for (int i = 0; i < 1500; ++i) {
    std::snprintf(id, sizeof(id), "%024d", i);
    auto r = service.Targets({{"Default", id, 100, 1, 0, 0}}, 100 + i * 0.001);
    ASSERT_EQ(r.targets.size(), 1u);
  }
  // Everyone reported one request: with 1000 remembered clients sharing ReservoirSize 1,
  // the newest client is served all the same.
  auto r = service.Targets({{"Default", "zzzzzzzzzzzzzzzzzzzzzzzz", 102, 1000, 0, 0}}, 102);
  EXPECT_EQ(r.targets[0].reservoir_quota, 1);
}

}  // namespace
}  // namespace waggle::sampling
