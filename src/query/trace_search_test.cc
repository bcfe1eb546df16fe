#include "query/trace_search.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace waggle::query {
namespace {

using storage::ColumnRef;
using storage::Condition;
using storage::StringField;

// A store whose scans answer by their service condition: one starting "none" matches nothing at
// once, any other service matches a row in each of 200 slow batches, until the consumer stops it.
class SlowScans : public storage::Reader {
 public:
  Result<storage::TraceData> FetchTrace(const model::TraceId&) override {
    return Status::NotFound("no traces");
  }
  Result<storage::FindTracesResult> FindTraces(const storage::FindTracesRequest&) override {
    return storage::FindTracesResult{};
  }
  Result<storage::ScanStats> Scan(const storage::ScanRequest& request,
                                  const storage::BatchFn& consume) override {
    const std::string& service = request.where.at(0).values.at(0);
    ++scans[service];
    storage::ScanStats stats;
    if (service.starts_with("none")) return stats;
    column::ColumnBatch batch;
    batch.rows = 1;
    batch.columns.resize(1);
    batch.columns[0].type = column::VectorType::kTraceId;
    batch.columns[0].trace_ids.resize(1);
    batch.selection = {0};
    for (int i = 0; i < kBatches; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      batch.columns[0].trace_ids[0].bytes[15] = static_cast<uint8_t>(i);
      ++batches[service];
      if (!consume(batch)) break;
    }
    return stats;
  }

  static constexpr int kBatches = 200;
  // Each touched by one scan at a time (one job per service).
  std::map<std::string, std::atomic<int>> scans, batches;
};

filter::SpanRequirement ServiceIs(const std::string& name) {
  return {{{Condition::In(ColumnRef::Of(StringField::kService), {name})}}};
}

// A requirement no span meets leaves no candidate, so the scans for the other requirements
// stop, or never start, once it is known.
TEST(FindCandidates, AnUnmetRequirementEndsTheOtherScans) {
  SlowScans store;
  for (const char* s : {"none", "slow", "later"}) store.scans[s] = 0, store.batches[s] = 0;
  auto found = FindCandidates(&store, {ServiceIs("none"), ServiceIs("slow"), ServiceIs("later")},
                              storage::ScanRequest{});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_TRUE((*found)->empty());
  EXPECT_EQ(store.scans["none"], 1);
  EXPECT_LT(store.batches["slow"], SlowScans::kBatches);  // stopped, or never started
  EXPECT_EQ(store.scans["later"], 0);
}

// The same when the requirement has alternatives: once all of them found nothing.
TEST(FindCandidates, ARequirementWhoseAlternativesAllFindNothingEndsTheOtherScans) {
  SlowScans store;
  for (const char* s : {"none", "none either", "slow", "later"}) {
    store.scans[s] = 0, store.batches[s] = 0;
  }
  filter::SpanRequirement either = ServiceIs("none");
  either.any_of.push_back(ServiceIs("none either").any_of[0]);
  auto found = FindCandidates(&store, {either, ServiceIs("slow"), ServiceIs("later")},
                              storage::ScanRequest{});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->has_value());
  EXPECT_TRUE((*found)->empty());
  EXPECT_EQ(store.scans["none"], 1);
  EXPECT_EQ(store.scans["none either"], 1);
  EXPECT_LT(store.batches["slow"], SlowScans::kBatches);  // stopped, or never started
  EXPECT_EQ(store.scans["later"], 0);
}

// With every requirement met, the candidates are the traces all of them found.
TEST(FindCandidates, MetRequirementsKeepTheTracesAllOfThemFound) {
  SlowScans store;
  for (const char* s : {"a", "b"}) store.scans[s] = 0, store.batches[s] = 0;
  auto found = FindCandidates(&store, {ServiceIs("a"), ServiceIs("b")}, storage::ScanRequest{});
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->size(), static_cast<size_t>(SlowScans::kBatches));
  EXPECT_EQ(store.batches["a"], SlowScans::kBatches);
  EXPECT_EQ(store.batches["b"], SlowScans::kBatches);
}

}  // namespace
}  // namespace waggle::query
