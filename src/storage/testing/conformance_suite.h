#pragma once

// The storage conformance suite: what every backend behind storage::Writer and
// storage::Reader must do (the columnar engine, on its head and on its blocks; ClickHouse). The
// tests are in conformance_suite.cc, which a backend's test binary compiles once and instantiates:
//
//   INSTANTIATE_TEST_SUITE_P(MyBackend, StoreConformance, ::testing::Values(MyBackendFactory()));

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/testing/temp_dir.h"
#include "storage/reader.h"
#include "storage/testing/random_spans.h"
#include "storage/writer.h"

namespace waggle::storage::testing {

// A store under test: writes and reads through the storage interfaces.
class TestStore : public Writer, public Reader {};

struct ConformanceBackend {
  std::string name;
  // Opens the store kept in `dir` (new when the directory is empty). FetchTrace returns about
  // `max_trace_bytes` of a trace (documents plus a few dozen bytes a span).
  std::function<Result<std::unique_ptr<TestStore>>(const std::string& dir,
                                                   uint64_t max_trace_bytes)>
      open;
  bool locks_data_dir = true;  // a second Open of the same dir fails with Unavailable
};

inline std::string BackendName(const ::testing::TestParamInfo<ConformanceBackend>& info) {
  return info.param.name;
}

class StoreConformance : public ::testing::TestWithParam<ConformanceBackend> {
 public:
  Result<std::unique_ptr<TestStore>> OpenStore(const std::string& dir) { return Open(dir); }

 protected:
  Result<std::unique_ptr<TestStore>> Open(const std::string& dir,
                                          uint64_t max_trace_bytes = 16ull << 20) {
    return GetParam().open(dir, max_trace_bytes);
  }
};

// A backend that forwards to `Store` (which is both a Writer and a Reader) and calls `after`
// once every write is done (to push what was written further down, e.g. into blocks).
template <typename Store>
class ForwardingStore : public TestStore {
 public:
  ForwardingStore(std::unique_ptr<Store> store, std::function<Status(Store*)> after = nullptr)
      : store_(std::move(store)), after_(std::move(after)) {}
  Status Write(const model::SpanBatch& b, Durability d) override {
    Status s = store_->Write(b, d);
    return s.ok() && after_ ? after_(store_.get()) : s;
  }
  Status WriteLogs(const model::LogBatch& b, Durability d) override {
    Status s = store_->WriteLogs(b, d);
    return s.ok() && after_ ? after_(store_.get()) : s;
  }
  Result<TraceData> FetchTrace(const model::TraceId& id) override { return store_->FetchTrace(id); }
  std::vector<Result<TraceData>> FetchTraces(const std::vector<model::TraceId>& ids,
                                             const FetchOptions& options) override {
    return store_->FetchTraces(ids, options);
  }
  Result<FindTracesResult> FindTraces(const FindTracesRequest& r) override {
    return store_->FindTraces(r);
  }
  Result<std::vector<model::LogRecord>> FetchLogs(const model::TraceId& id) override {
    return store_->FetchLogs(id);
  }
  Result<ScanStats> Scan(const ScanRequest& r, const BatchFn& consume) override {
    return store_->Scan(r, consume);
  }
  Result<std::vector<ColumnRef>> ListColumns(int64_t start_ns, int64_t end_ns) override {
    return store_->ListColumns(start_ns, end_ns);
  }
  Store* store() { return store_.get(); }

 private:
  std::unique_ptr<Store> store_;
  std::function<Status(Store*)> after_;
};

}  // namespace waggle::storage::testing
