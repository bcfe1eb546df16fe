#include "base/mix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace waggle {
namespace {

TEST(SeededHash64, SpanIdsThatShareABucketUnderStdHashSpreadOut) {
  // std::hash of an integer is the integer in libstdc++: ids that are multiples of a table's
  // bucket count all land in its first bucket. A client can send such span ids.
  constexpr uint64_t kIds = 4000;
  std::unordered_set<uint64_t> plain;
  std::unordered_set<uint64_t, SeededHash64> seeded;
  plain.reserve(kIds);  // no rehash below: the bucket count stays the one the ids are made for
  seeded.reserve(kIds);
  const uint64_t buckets = plain.bucket_count();
  for (uint64_t i = 1; i <= kIds; ++i) {
    plain.insert(i * buckets);
    seeded.insert(i * buckets);
  }
  ASSERT_EQ(plain.bucket_count(), buckets);
  size_t plain_fullest = 0, seeded_fullest = 0;
  for (size_t b = 0; b < plain.bucket_count(); ++b) {
    plain_fullest = std::max(plain_fullest, plain.bucket_size(b));
  }
  for (size_t b = 0; b < seeded.bucket_count(); ++b) {
    seeded_fullest = std::max(seeded_fullest, seeded.bucket_size(b));
  }
  EXPECT_EQ(plain_fullest, kIds);  // what the seed is for
  EXPECT_LE(seeded_fullest, 12u);
}

TEST(SeededHash64, TheSeedKeysEveryHash) {
  size_t same = 0;
  for (uint64_t x = 0; x < 1000; ++x) same += SeededHash64{1}(x) == SeededHash64{2}(x);
  EXPECT_EQ(same, 0u);
  EXPECT_EQ(SeededHash64{}.seed, ProcessHashSeed());
  EXPECT_EQ(ProcessHashSeed(), ProcessHashSeed());  // drawn once
}

TEST(SeededStringHash, TheSeedKeysEveryHashAndViewsFindStrings) {
  size_t same = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string s = "1-5f84c7a1-" + std::to_string(i);
    same += SeededStringHash{1}(s) == SeededStringHash{2}(s);
    EXPECT_EQ(SeededStringHash{7}(s), SeededStringHash{7}(std::string_view(s)));
  }
  EXPECT_EQ(same, 0u);
  EXPECT_EQ(SeededStringHash{}.seed, ProcessHashSeed());
  std::unordered_map<std::string, int, SeededStringHash, std::equal_to<>> ids;
  ids.emplace("53995c3f42cd8ad8", 1);
  EXPECT_EQ(ids.find(std::string_view("53995c3f42cd8ad8"))->second, 1);
  EXPECT_EQ(ids.find(std::string_view("53995c3f42cd8ad9")), ids.end());
}

}  // namespace
}  // namespace waggle
