#include "codec/msgpack.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <string>

namespace waggle::codec::msgpack {
namespace {

// Bytes from a list of byte values.
std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// The one value in `bytes` (kept for the test's length: its views point into them).
Value One(std::string bytes) {
  static std::deque<std::string> kept;
  const std::string& in = kept.emplace_back(std::move(bytes));
  Reader r(in);
  Value v;
  EXPECT_TRUE(r.Next(&v)) << "reading a value of " << in.size() << " bytes";
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.done());
  return v;
}

TEST(MsgpackReader, ReadsEveryIntegerForm) {
  struct Case {
    std::string in;
    Type type;
    int64_t i;
    uint64_t u;
  } cases[] = {
      {B({0x00}), Type::kUint, 0, 0},
      {B({0x7f}), Type::kUint, 0, 127},
      {B({0xe0}), Type::kInt, -32, 0},
      {B({0xff}), Type::kInt, -1, 0},
      {B({0xcc, 0xff}), Type::kUint, 0, 255},
      {B({0xcd, 0x01, 0x00}), Type::kUint, 0, 256},
      {B({0xce, 0xff, 0xff, 0xff, 0xff}), Type::kUint, 0, 0xffffffffu},
      {B({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), Type::kUint, 0, UINT64_MAX},
      {B({0xd0, 0x80}), Type::kInt, -128, 0},
      {B({0xd1, 0x80, 0x00}), Type::kInt, -32768, 0},
      {B({0xd2, 0xff, 0xff, 0xff, 0xfe}), Type::kInt, -2, 0},
      {B({0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}), Type::kInt, INT64_MIN, 0},
      {B({0xd3, 0x00, 0, 0, 0, 0, 0, 0, 0x05}), Type::kInt, 5, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(static_cast<uint8_t>(c.in[0])));
    const Value v = One(c.in);
    EXPECT_EQ(v.type, c.type);
    if (c.type == Type::kInt) EXPECT_EQ(v.i, c.i);
    if (c.type == Type::kUint) EXPECT_EQ(v.u, c.u);
  }
  int64_t n;
  EXPECT_TRUE(One(B({0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})).AsInt64(&n));
  EXPECT_EQ(n, INT64_MAX);
  EXPECT_FALSE(One(B({0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0})).AsInt64(&n));
  EXPECT_FALSE(One(B({0xc3})).AsInt64(&n));
}

TEST(MsgpackReader, ReadsScalarsStringsBinariesAndExtensions) {
  EXPECT_EQ(One(B({0xc0})).type, Type::kNil);
  EXPECT_TRUE(One(B({0xc3})).b);
  EXPECT_FALSE(One(B({0xc2})).b);
  EXPECT_EQ(One(B({0xca, 0x3f, 0xc0, 0x00, 0x00})).d, 1.5);  // float 32
  EXPECT_EQ(One(B({0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18})).d, M_PI);

  const Value fix = One(B({0xa3, 'a', 'b', 'c'}));
  EXPECT_EQ(fix.type, Type::kString);
  EXPECT_EQ(fix.bytes, "abc");
  EXPECT_EQ(One(B({0xd9, 0x02, 'h', 'i'})).bytes, "hi");
  EXPECT_EQ(One(B({0xda, 0x00, 0x01, 'x'})).bytes, "x");
  EXPECT_EQ(One(B({0xdb, 0x00, 0x00, 0x00, 0x01, 'y'})).bytes, "y");
  const Value bin = One(B({0xc4, 0x02, 0x00, 0xff}));
  EXPECT_EQ(bin.type, Type::kBinary);
  EXPECT_EQ(bin.bytes, B({0x00, 0xff}));
  EXPECT_EQ(One(B({0xc5, 0x00, 0x01, 0x07})).bytes, B({0x07}));
  EXPECT_EQ(One(B({0xc6, 0x00, 0x00, 0x00, 0x00})).bytes, "");

  const Value fixext = One(B({0xd6, 0xff, 0x00, 0x00, 0x00, 0x01}));
  EXPECT_EQ(fixext.type, Type::kExt);
  EXPECT_EQ(fixext.ext_type, -1);
  EXPECT_EQ(fixext.bytes.size(), 4u);
  for (int tag = 0xd4, size = 1; tag <= 0xd8; ++tag, size *= 2) {
    std::string in = B({tag, 0x05});
    in.append(static_cast<size_t>(size), 'z');
    const Value v = One(in);
    EXPECT_EQ(v.ext_type, 5);
    EXPECT_EQ(v.bytes.size(), static_cast<size_t>(size));
  }
  EXPECT_EQ(One(B({0xc7, 0x01, 0x02, 'q'})).bytes, "q");
  EXPECT_EQ(One(B({0xc8, 0x00, 0x01, 0x02, 'q'})).bytes, "q");
  EXPECT_EQ(One(B({0xc9, 0x00, 0x00, 0x00, 0x01, 0x02, 'q'})).bytes, "q");
}

TEST(MsgpackReader, ContainersGiveTheirCountsAndAreSkippedWhole) {
  // [1, {"a": [2, 3]}, "x"] then 7.
  const std::string in = B({0x93, 0x01, 0x81, 0xa1, 'a', 0x92, 0x02, 0x03, 0xa1, 'x', 0x07});
  Reader r(in);
  Value v;
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_EQ(v.count, 3u);
  ASSERT_TRUE(r.SkipEntries(v));
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.u, 7u);
  EXPECT_TRUE(r.done());

  Reader again(in);
  ASSERT_TRUE(again.SkipValue());
  EXPECT_EQ(again.left(), 1u);

  const std::string array16_bytes = B({0xdc, 0x00, 0x01, 0xc0});
  Reader array16(array16_bytes);
  ASSERT_TRUE(array16.Next(&v));
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_EQ(v.count, 1u);
  const std::string map16_bytes = B({0xde, 0x00, 0x01, 0xa0, 0xc0});
  Reader map16(map16_bytes);
  ASSERT_TRUE(map16.Next(&v));
  EXPECT_EQ(v.type, Type::kMap);
  EXPECT_EQ(v.count, 1u);
}

TEST(MsgpackReader, DeepNestingIsSkippedWithoutRecursion) {
  std::string in(100000, static_cast<char>(0x91));  // [[[[...]]]] a hundred thousand deep
  in.push_back(static_cast<char>(0xc0));
  Reader r(in);
  ASSERT_TRUE(r.SkipValue());
  EXPECT_TRUE(r.done());
}

TEST(MsgpackReader, CutOrLyingBytesEndTheRead) {
  for (const std::string& in : {
           B({0xa3, 'a', 'b'}),                                  // string cut
           B({0xcd, 0x01}),                                      // uint16 cut
           B({0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}),               // 4 GiB string claimed
           B({0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}),              // 4 billion entries claimed
           B({0xdf, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02, 0x03}),  // two pairs in three bytes
           B({0xc1}),                                            // never used
           B({0xd8, 0x01, 0x00}),                                // fixext 16 cut
       }) {
    SCOPED_TRACE(static_cast<int>(static_cast<uint8_t>(in[0])));
    Reader r(in);
    Value v;
    const bool read = r.Next(&v) && r.SkipEntries(v);
    EXPECT_FALSE(read);
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.Next(&v));  // and it stays ended
  }
  const std::string three_bytes = B({0x93, 0x01, 0x02});  // an array of three holding two
  Reader three(three_bytes);
  EXPECT_FALSE(three.SkipValue());
}

TEST(MsgpackTime, ReadsTheSpecsThreeFormsAndTinylibsTime) {
  int64_t ns;
  // 4 bytes: seconds.
  ASSERT_TRUE(TimeOf(One(B({0xd6, 0xff, 0x6a, 0x4f, 0x5b, 0x80})), &ns));
  EXPECT_EQ(ns, int64_t{1783585664} * 1'000'000'000);
  // 8 bytes: 30 bits of nanoseconds over 34 of seconds: 5 ns, 1 s.
  ASSERT_TRUE(TimeOf(One(B({0xd7, 0xff, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01})), &ns));
  EXPECT_EQ(ns, 1'000'000'005);
  // 12 bytes (ext 8): nanoseconds, then signed seconds: -1 s + 500 ms.
  ASSERT_TRUE(TimeOf(One(B({0xc7, 0x0c, 0xff, 0x1d, 0xcd, 0x65, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xff, 0xff, 0xff})),
                     &ns));
  EXPECT_EQ(ns, -500'000'000);
  // tinylib/msgp's time.Time (extension 5): seconds, then nanoseconds.
  ASSERT_TRUE(TimeOf(
      One(B({0xc7, 0x0c, 0x05, 0, 0, 0, 0, 0x6a, 0x4f, 0x5b, 0x80, 0x00, 0x00, 0x00, 0x07})), &ns));
  EXPECT_EQ(ns, int64_t{1783585664} * 1'000'000'000 + 7);

  // Not times: another extension, a wrong size, nanoseconds of a second or more, past int64 ns.
  EXPECT_FALSE(TimeOf(One(B({0xd6, 0x07, 0, 0, 0, 1})), &ns));
  EXPECT_FALSE(TimeOf(One(B({0xd5, 0xff, 0, 1})), &ns));
  EXPECT_FALSE(
      TimeOf(One(B({0xc7, 0x0c, 0xff, 0x3b, 0x9a, 0xca, 0x00, 0, 0, 0, 0, 0, 0, 0, 1})), &ns));
  EXPECT_FALSE(TimeOf(One(B({0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0, 0, 0})), &ns));
  EXPECT_FALSE(TimeOf(One(B({0xc3})), &ns));
}

TEST(MsgpackWriter, WritesWhatTheReaderReadsBack) {
  std::string out;
  PutArrayHeader(&out, 3);
  PutMapHeader(&out, 2);
  PutString(&out, "status");
  PutInt(&out, 202);
  PutString(&out, std::string(40, 's'));
  PutInt(&out, -5);
  PutString(&out, std::string(300, 'l'));
  PutInt(&out, -100000);
  Reader r(out);
  Value v;
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.type, Type::kArray);
  EXPECT_EQ(v.count, 3u);
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.type, Type::kMap);
  EXPECT_EQ(v.count, 2u);
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.bytes, "status");
  int64_t n;
  ASSERT_TRUE(r.Next(&v));
  ASSERT_TRUE(v.AsInt64(&n));
  EXPECT_EQ(n, 202);
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.bytes, std::string(40, 's'));
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.i, -5);
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.bytes, std::string(300, 'l'));
  ASSERT_TRUE(r.Next(&v));
  EXPECT_EQ(v.i, -100000);
  EXPECT_TRUE(r.done());

  for (uint32_t n : {15u, 16u, 65535u, 65536u}) {
    std::string a, m;
    PutArrayHeader(&a, n);
    PutMapHeader(&m, n);
    a.append(n, '\x01');
    m.append(2 * size_t{n}, '\x01');
    Reader ra(a), rm(m);
    ASSERT_TRUE(ra.SkipValue());
    ASSERT_TRUE(rm.SkipValue());
    EXPECT_TRUE(ra.done());
    EXPECT_TRUE(rm.done());
  }
  std::string big;
  PutString(&big, std::string(70000, 'b'));
  EXPECT_EQ(One(big).bytes.size(), 70000u);
}

}  // namespace
}  // namespace waggle::codec::msgpack
