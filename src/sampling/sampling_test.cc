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

SamplingRule Cruddur() {
  SamplingRule r;
  r.rule_name = "Cruddur";
  r.priority = 9000;
  r.fixed_rate = 0.1;
  r.reservoir_size = 5;
  r.service_name = "backend-flask";
  return r;
}

TEST(SamplingService, CreatesUpdatesAndDeletesRulesAndMovesTheModificationTime) {
  SamplingOptions options;
  options.default_rule_modified_at = 1000;
  SamplingService service(options);
  std::vector<std::vector<SamplingRuleRecord>> saved;
  service.SetSave([&](const std::vector<SamplingRuleRecord>& rules) {
    saved.push_back(rules);
    return Status::Ok();
  });
  auto created = service.Create(Cruddur(), 2000);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->rule.rule_arn, "arn:aws:xray:us-east-1:000000000000:sampling-rule/Cruddur");
  EXPECT_EQ(created->created_at, 2000);
  EXPECT_EQ(service.Rules()[0].rule.rule_name, "Cruddur");  // by priority: before Default
  EXPECT_EQ(service.LastRuleModification(), 2000);
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0].size(), 2u);

  EXPECT_EQ(service.Create(Cruddur(), 2001).status().code(), Status::Code::kAlreadyExists);
  SamplingRule bad = Cruddur();
  bad.rule_name = "Other";
  for (auto mutate : std::vector<void (*)(SamplingRule*)>{
           [](SamplingRule* r) { r->priority = 10000; }, [](SamplingRule* r) { r->priority = 0; },
           [](SamplingRule* r) { r->fixed_rate = 1.5; },
           [](SamplingRule* r) { r->reservoir_size = -1; },
           [](SamplingRule* r) { r->rule_name = std::string(33, 'x'); },
           [](SamplingRule* r) { r->service_name = std::string(65, 'x'); },
           [](SamplingRule* r) { r->version = 2; }}) {
    SamplingRule r = bad;
    mutate(&r);
    EXPECT_EQ(service.Create(r, 2002).status().code(), Status::Code::kInvalidArgument);
  }

  // Explicit zeros apply; members not named stay.
  SamplingRuleUpdate u;
  u.rule_arn = "arn:aws:xray:us-east-1:000000000000:sampling-rule/Cruddur";
  u.fixed_rate = 0.0;
  u.reservoir_size = 0;
  auto updated = service.Update(u, 3000);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->rule.fixed_rate, 0.0);
  EXPECT_EQ(updated->rule.reservoir_size, 0);
  EXPECT_EQ(updated->rule.service_name, "backend-flask");
  EXPECT_EQ(updated->created_at, 2000);
  EXPECT_EQ(updated->modified_at, 3000);

  SamplingRuleUpdate on_default;
  on_default.rule_name = "Default";
  on_default.service_name = "x";
  EXPECT_EQ(service.Update(on_default, 3001).status().code(), Status::Code::kInvalidArgument);
  on_default.service_name.reset();
  on_default.fixed_rate = 0.2;
  ASSERT_TRUE(service.Update(on_default, 3002).ok());

  // A failed save undoes the change.
  service.SetSave([](const std::vector<SamplingRuleRecord>&) { return Status::IOError("disk"); });
  EXPECT_EQ(service.Delete("Cruddur", "", 4000).status().code(), Status::Code::kIOError);
  EXPECT_EQ(service.Rules().size(), 2u);
  EXPECT_EQ(service.LastRuleModification(), 3002);
  service.SetSave(nullptr);

  EXPECT_EQ(service.Delete("Default", "", 5000).status().code(), Status::Code::kInvalidArgument);
  auto deleted = service.Delete("Cruddur", "", 5000);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->rule.rule_name, "Cruddur");
  EXPECT_EQ(service.Rules().size(), 1u);
  EXPECT_EQ(service.LastRuleModification(), 5000);  // deleting is a change too
  // And what the SDKs poll says so.
  EXPECT_EQ(service.Targets({}, 5000.5).last_rule_modification, 5000);
  EXPECT_EQ(service.Delete("Cruddur", "", 5001).status().code(), Status::Code::kNotFound);

  // Saved rules come back, a saved Default replacing the built-in one.
  SamplingService restored(options);
  ASSERT_TRUE(restored.Restore(saved.back()).ok());
  auto rules = restored.Rules();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_DOUBLE_EQ(rules[1].rule.fixed_rate, 0.2);
}

// Saved rules come from a file that can be edited by hand: Restore refuses what Create and
// Update would refuse, naming the rule, and then puts nothing back.
TEST(SamplingService, RestoreRefusesRulesCreateOrUpdateWouldRefuse) {
  SamplingOptions options;
  SamplingService source(options);
  std::vector<SamplingRuleRecord> saved;
  source.SetSave([&](const std::vector<SamplingRuleRecord>& rules) {
    saved = rules;
    return Status::Ok();
  });
  ASSERT_TRUE(source.Create(Cruddur(), 2000).ok());
  SamplingRuleUpdate rate;
  rate.rule_name = "Default";
  rate.fixed_rate = 0.2;
  rate.reservoir_size = 3;
  ASSERT_TRUE(source.Update(rate, 2001).ok());
  ASSERT_EQ(saved.size(), 2u);
  {
    SamplingService restored(options);
    ASSERT_TRUE(restored.Restore(saved).ok());  // a Default with another rate and reservoir
    EXPECT_EQ(restored.Rules(), source.Rules());
  }
  {
    // Saved under another region and account, or edited: the ARNs follow the configuration.
    std::vector<SamplingRuleRecord> moved = saved;
    for (SamplingRuleRecord& r : moved) r.rule.rule_arn = "arn:aws:xray:eu-west-1:1:x";
    SamplingService restored(options);
    ASSERT_TRUE(restored.Restore(moved).ok());
    EXPECT_EQ(restored.Rules(), source.Rules());
  }
  auto refused = [&](std::vector<SamplingRuleRecord> rules, std::string_view why) {
    SamplingService service(options);
    Status s = service.Restore(std::move(rules));
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << why;
    EXPECT_NE(s.message().find(why), std::string::npos) << s.ToString();
    EXPECT_EQ(service.Rules().size(), 1u) << why;  // the built-in Default alone
  };
  auto at = [](std::vector<SamplingRuleRecord>& rules, std::string_view name) -> SamplingRule& {
    return std::find_if(rules.begin(), rules.end(),
                        [&](const SamplingRuleRecord& r) { return r.rule.rule_name == name; })
        ->rule;
  };
  std::vector<SamplingRuleRecord> edited = saved;
  at(edited, "Cruddur").fixed_rate = 2;  // Create refuses a rate above 1
  refused(edited, "Cruddur");
  edited = saved;
  edited.push_back(edited.back());  // Create refuses a second rule of a name
  refused(edited, "twice");
  edited = saved;
  at(edited, "Default").service_name = "x";  // Update refuses to narrow Default
  refused(edited, "Default");
  edited = saved;
  for (size_t i = 0; i < SamplingService::kMaxRules; ++i) {  // one past the limit
    SamplingRuleRecord r{Cruddur(), 1, 1};
    r.rule.rule_name = "r" + std::to_string(i);
    edited.push_back(r);
  }
  refused(edited, "more than");
}

TEST(SamplingService, LimitsTheNumberOfRules) {
  SamplingService service(SamplingOptions{});
  for (size_t i = 0; i < SamplingService::kMaxRules; ++i) {
    SamplingRule r = Cruddur();
    r.rule_name = "r" + std::to_string(i);
    ASSERT_TRUE(service.Create(r, 1).ok());
  }
  SamplingRule r = Cruddur();
  r.rule_name = "one-too-many";
  EXPECT_EQ(service.Create(r, 1).status().code(), Status::Code::kResourceExhausted);
}

}  // namespace
}  // namespace waggle::sampling
