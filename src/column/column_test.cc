#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "column/bitpack.h"
#include "column/dictionary.h"

namespace waggle::column {
namespace {

TEST(BitPack, RoundTripsEveryWidthAndLength) {
  std::mt19937_64 rng(7);
  for (int width = 0; width <= 64; ++width) {
    for (size_t n : {0, 1, 2, 7, 8, 9, 63, 64, 65, 1000}) {
      std::vector<uint64_t> values(n);
      const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
      for (auto& v : values) v = rng() & mask;
      std::string packed = "prefix";
      BitPack(values.data(), n, width, &packed);
      ASSERT_EQ(packed.size(), 6 + PackedSize(n, width));
      std::vector<uint64_t> out(n);
      BitUnpack(std::string_view(packed).substr(6), n, width, 0, out.data());
      ASSERT_EQ(out, values) << "width " << width << " n " << n;
    }
  }
}

TEST(BitPack, UnpackAddsTheBase) {
  std::vector<uint64_t> values = {0, 5, 3, 7};
  std::string packed;
  BitPack(values.data(), values.size(), BitWidth(7), &packed);
  std::vector<uint64_t> out(4);
  BitUnpack(packed, 4, 3, 1000, out.data());
  EXPECT_EQ(out, (std::vector<uint64_t>{1000, 1005, 1003, 1007}));
}

TEST(BitPack, SelectKeepsTheRowsInRangeForEveryWidth) {
  std::mt19937_64 rng(9);
  for (int width = 0; width <= 64; ++width) {
    for (size_t n : {1, 9, 64, 1000}) {
      std::vector<uint64_t> values(n);
      const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
      for (auto& v : values) v = rng() & mask;
      std::string packed;
      BitPack(values.data(), n, width, &packed);
      // Every other row, then every row; a range around the middle of the values.
      for (size_t step : {2, 1}) {
        const uint64_t lo = mask / 4, hi = mask / 4 * 3;
        std::vector<uint32_t> rows, want;
        for (size_t r = 0; r < n; r += step) {
          rows.push_back(static_cast<uint32_t>(r));
          if (values[r] >= lo && values[r] <= hi) want.push_back(static_cast<uint32_t>(r));
        }
        rows.resize(BitSelectRange(packed, width, lo, hi, rows.data(), rows.size()));
        ASSERT_EQ(rows, want) << "width " << width << " n " << n << " step " << step;
      }
    }
  }
}

// Every row from 0 takes the eight-rows-a-step paths on CPUs with AVX2 (32-bit lanes up to 25
// bits, 64-bit lanes above): lengths around their steps and the end of the buffer, and ranges
// at the edges of the values and of uint64.
TEST(BitPack, SelectOverEveryRowMatchesAPlainCompare) {
  std::mt19937_64 rng(11);
  for (int width = 1; width <= 64; ++width) {
    const uint64_t mask = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
    for (size_t n : {7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 33, 8191, 8192}) {
      std::vector<uint64_t> values(n);
      for (auto& v : values) v = rng() & mask;
      values[n / 2] = 0;
      values[n - 1] = mask;
      std::string packed;
      BitPack(values.data(), n, width, &packed);
      // Past the largest value too: BitSelectRange cuts the range at the width's largest value.
      const uint64_t past = mask == UINT64_MAX ? mask : mask + 1;
      const std::pair<uint64_t, uint64_t> ranges[] = {{0, mask},
                                                      {0, UINT64_MAX},
                                                      {mask / 2, UINT64_MAX},
                                                      {mask, mask},
                                                      {0, 0},
                                                      {values[3], values[3]},
                                                      {mask / 3, mask / 2},
                                                      {past, UINT64_MAX},
                                                      {mask / 3, past + 1000},
                                                      {1, 1}};
      for (const auto& [lo, hi] : ranges) {
        std::vector<uint32_t> rows(n), want;
        for (size_t r = 0; r < n; ++r) {
          rows[r] = static_cast<uint32_t>(r);
          if (values[r] >= lo && values[r] <= hi) want.push_back(static_cast<uint32_t>(r));
        }
        rows.resize(BitSelectRange(packed, width, lo, hi, rows.data(), rows.size()));
        ASSERT_EQ(rows, want) << "width " << width << " n " << n << " [" << lo << ", " << hi << "]";
      }
    }
  }
}

TEST(BitPack, WidthOfAValue) {
  EXPECT_EQ(BitWidth(0), 0);
  EXPECT_EQ(BitWidth(1), 1);
  EXPECT_EQ(BitWidth(255), 8);
  EXPECT_EQ(BitWidth(256), 9);
  EXPECT_EQ(BitWidth(~uint64_t{0}), 64);
}

TEST(Dictionary, CodesAreDenseInOrderOfFirstAppearance) {
  StringColumn c;
  for (const char* s : {"b", "a", "b", "", "a long string that is not stored inline"}) c.Append(s);
  EXPECT_EQ(c.codes, (std::vector<uint32_t>{0, 1, 0, 2, 3}));
  EXPECT_EQ(c.dict.size(), 4u);
  EXPECT_EQ(c[4], "a long string that is not stored inline");
  EXPECT_EQ(c.dict.Find("a"), 1);
  EXPECT_EQ(c.dict.Find("zzz"), -1);
  // Codes stay valid as the dictionary grows (strings never move).
  for (int i = 0; i < 10000; ++i) c.Append("s" + std::to_string(i));
  EXPECT_EQ(c[0], "b");
  EXPECT_EQ(c[3], "");
  EXPECT_EQ(c.dict.at(c.codes.back()), "s9999");
}

TEST(Dictionary, AgreesWithAMapOnManyStringsOfEveryLength) {
  // Lengths around the 8-byte steps of the hash, embedded NULs, strings longer than a chunk,
  // and values that differ in one byte only; then the same after a move and after Clear.
  std::vector<std::string> values;
  for (size_t len = 0; len < 40; ++len) {
    for (char c : {'a', 'b', '\0'}) values.push_back(std::string(len, 'x') + c);
  }
  values.push_back(std::string(100'000, 'y'));
  values.push_back(std::string(100'000, 'y') + "z");
  for (int i = 0; i < 5000; ++i) values.push_back("https://example.com/users/" + std::to_string(i));
  Dictionary d;
  for (int round = 0; round < 2; ++round) {
    std::unordered_map<std::string, uint32_t> want;
    for (int pass = 0; pass < 2; ++pass) {
      for (const std::string& v : values) {
        auto [it, added] = want.try_emplace(v, static_cast<uint32_t>(want.size()));
        ASSERT_EQ(d.Intern(v), it->second) << v.size();
      }
    }
    Dictionary moved = std::move(d);
    // The moved-from one starts empty, and what goes into it leaves the other's strings be.
    EXPECT_EQ(d.size(), 0u);
    EXPECT_EQ(d.Intern(std::string(300, 'q')), 0u);
    EXPECT_EQ(d.at(0), std::string(300, 'q'));
    ASSERT_EQ(moved.size(), want.size());
    size_t bytes = 0;
    for (const auto& [v, code] : want) {
      EXPECT_EQ(moved.at(code), v);
      EXPECT_EQ(moved.Find(v), code);
      bytes += v.size();
    }
    EXPECT_EQ(moved.bytes(), bytes);
    EXPECT_EQ(moved.Find("absent"), -1);
    moved.Clear();
    EXPECT_EQ(moved.size(), 0u);
    EXPECT_EQ(moved.Find(values[0]), -1);
    d = std::move(moved);
  }
}

}  // namespace
}  // namespace waggle::column
