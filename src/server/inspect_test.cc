#include "server/inspect.h"

#include <gtest/gtest.h>

#include <random>

#include "base/env.h"
#include "base/testing/temp_dir.h"
#include "storage/columnar/block/block.h"
#include "storage/testing/random_spans.h"

namespace waggle::server {
namespace {

namespace block = storage::columnar::block;

// A compaction that stopped before removing its inputs leaves them beside the block that
// replaces them: inspect lists them as replaced and counts their spans once.
TEST(Inspect, CountsBlocksLeftByACompactionOnce) {
  test_util::TempDir dir;
  ASSERT_TRUE(Env::Default()->CreateDirs(dir.path() + "/blocks").ok());
  std::mt19937_64 rng(3);
  storage::columnar::SpanTable table;
  block::BlockContents contents;
  for (int t = 0; t < 4; ++t) {
    for (const model::Span& s : storage::testing::RandomTrace(rng, 5)) table.Append(s);
    contents.traces.push_back({table.trace_ids.back(), 0, 1, static_cast<uint64_t>(t)});
  }
  contents.spans = &table;
  auto write = [&](const char* name) {
    ASSERT_TRUE(Env::Default()
                    ->WriteFileAtomic(dir.path() + "/blocks/" + name,
                                      block::EncodeBlock(contents, block::WriteOptions{}))
                    .ok());
  };
  write("0000000000000001.blk");
  write("0000000000000002.blk");
  auto before = InspectDataDir(dir.path());
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_NE(before->find("2 blocks, 40 spans"), std::string::npos) << *before;
  contents.replaces = {1, 2};
  contents.level = 1;
  write("0000000000000003.blk");
  auto after = InspectDataDir(dir.path());
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_NE(after->find("1 blocks, 20 spans"), std::string::npos) << *after;
  EXPECT_NE(after->find(", 2 replaced"), std::string::npos) << *after;
  EXPECT_NE(after->find("0000000000000001.blk replaced by a compaction"), std::string::npos)
      << *after;
}

}  // namespace
}  // namespace waggle::server
