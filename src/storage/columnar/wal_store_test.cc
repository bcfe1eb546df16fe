#include "storage/columnar/wal_store.h"

#include <gtest/gtest.h>

#include "storage/testing/conformance_suite.h"

namespace waggle::storage::columnar {
namespace {

using storage::testing::ConformanceBackend;
using storage::testing::ForwardingStore;
using storage::testing::StoreConformance;
using storage::testing::TestStore;

ConformanceBackend WalStoreBackend() {
  return {
      "WalStore",
      [](const std::string& dir, uint64_t max_trace_bytes) -> Result<std::unique_ptr<TestStore>> {
        WalStoreOptions options;
        options.dir = dir;
        options.max_trace_bytes = max_trace_bytes;
        WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<WalStore> store, WalStore::Open(options));
        return std::unique_ptr<TestStore>(new ForwardingStore<WalStore>(std::move(store)));
      }};
}

INSTANTIATE_TEST_SUITE_P(Interim, StoreConformance, ::testing::Values(WalStoreBackend()),
                         storage::testing::BackendName);

TEST(WalStore, CountsTracesAndLogGroupsAcrossReopen) {
  test_util::TempDir dir;
  model::TraceId trace;
  trace.bytes[0] = 1;
  {
    auto store = WalStore::Open({dir.path()});
    ASSERT_TRUE(store.ok());
    model::SpanBatch batch;
    batch.spans.emplace_back().trace_id = trace;
    ASSERT_TRUE((*store)->Write(batch, Durability::kSync).ok());
    model::LogBatch logs;
    logs.records.emplace_back().trace_id = trace;
    logs.records.emplace_back();  // names no trace: its own group
    ASSERT_TRUE((*store)->WriteLogs(logs, Durability::kSync).ok());
  }
  auto store = WalStore::Open({dir.path()});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->stats().traces, 1u);
  EXPECT_EQ((*store)->stats().log_groups, 2u);
  EXPECT_EQ((*store)->stats().recovery.corrupt_regions, 0u);
}

}  // namespace
}  // namespace waggle::storage::columnar
