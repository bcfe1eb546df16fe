#include "codec/xray/document_merge.h"

#include <gtest/gtest.h>

#include "codec/xray/segment_parser.h"

namespace waggle::codec::xray {
namespace {

std::vector<model::Document> Parse(const std::vector<std::string>& jsons) {
  SegmentParser parser;
  model::SpanBatch batch;
  for (const auto& j : jsons) {
    SegmentError e;
    EXPECT_TRUE(parser.Parse(j, "default", &batch, &e)) << e.message;
  }
  return batch.documents;
}

constexpr const char* kSegment =
    R"({"id":"9fdaf31a0171a3ad","name":"svc","start_time":1795238971.5,"end_time":1795238971.9,)"
    R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347","subsegments":[)"
    R"({"id":"1111111111111111","name":"outer","start_time":1795238971.6,"end_time":1795238971.7}]})";

TEST(MergeTraceDocuments, ReturnsDocumentsVerbatimWhenNothingWasStreamed) {
  auto docs = Parse({kSegment});
  auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].json, kSegment);
}

TEST(MergeTraceDocuments, PutsStreamedSubsegmentsBackIntoTheirParents) {
  // step-1 is streamed under the embedded "outer"; step-2 under the streamed step-1.
  auto docs = Parse({
      R"({"type":"subsegment","id":"2222222222222222","name":"step-1","start_time":1795238971.61,"end_time":1795238971.62,"parent_id":"1111111111111111","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
      R"({"type":"subsegment","id":"3333333333333333","name":"step-2","start_time":1795238971.611,"end_time":1795238971.612,"parent_id":"2222222222222222","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
      R"({"type":"subsegment","id":"4444444444444444","name":"step-3","start_time":1795238971.8,"end_time":1795238971.81,"parent_id":"9fdaf31a0171a3ad","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
      kSegment,
  });
  auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].id.ToHex(), "9fdaf31a0171a3ad");
  const std::string& j = merged[0].json;
  size_t outer = j.find("\"outer\"");
  size_t s1 = j.find("\"step-1\"");
  size_t s2 = j.find("\"step-2\"");
  size_t s3 = j.find("\"step-3\"");
  ASSERT_NE(outer, std::string::npos);
  ASSERT_NE(s1, std::string::npos);
  ASSERT_NE(s2, std::string::npos);
  ASSERT_NE(s3, std::string::npos);
  EXPECT_LT(outer, s1);
  EXPECT_LT(s1, s2);
  // The merged document still parses into the same five spans.
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError e;
  ASSERT_TRUE(parser.Parse(j, "default", &batch, &e)) << e.message << j;
  EXPECT_EQ(batch.spans.size(), 5u);
}

TEST(MergeTraceDocuments, KeepsOrphanSubsegmentAsItsOwnDocument) {
  auto docs = Parse({
      R"({"type":"subsegment","id":"2222222222222222","name":"step-1","start_time":1795238971.61,"end_time":1795238971.62,"parent_id":"5555555555555555","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
      kSegment,
  });
  auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].json, docs[0].json);
  EXPECT_EQ(merged[1].json, kSegment);
}

}  // namespace
}  // namespace waggle::codec::xray

namespace waggle::codec::xray {
namespace {

// A member named twice: the segment parser checks only the last "subsegments" array, so the
// first can hold values that are not entities. The merge used to read the first, and looked
// members up in such values, which rapidjson asserts against (found by segment_parser_fuzz);
// it reads the last now, as the parser does, and steps over any value that is not an object.
TEST(MergeTraceDocuments, StepsOverSubsegmentsThatAreNotObjects) {
  const std::string segment =
      R"({"id":"9fdaf31a0171a3ad","name":"svc","start_time":1795238971.5,)"
      R"("end_time":1795238971.9,"trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347",)"
      R"("subsegments":[7,"x",null,[],{"name":"no id"}],)"
      R"("subsegments":[{"id":"1111111111111111","name":"outer","start_time":1795238971.6,)"
      R"("end_time":1795238971.7}]})";
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError e;
  ASSERT_TRUE(parser.Parse(segment, "default", &batch, &e)) << e.message;
  ASSERT_TRUE(parser.Parse(
      R"({"type":"subsegment","id":"2222222222222222","name":"step-1",)"
      R"("start_time":1795238971.61,"end_time":1795238971.62,"parent_id":"9fdaf31a0171a3ad",)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
      "default", &batch, &e))
      << e.message;
  const auto merged = MergeTraceDocuments(batch.documents);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_NE(merged[0].json.find("\"step-1\""), std::string::npos) << merged[0].json;
}

// A member named twice counts as the segment parser counts it: the last one. The segment's
// last "id" is the parent a streamed subsegment names.
TEST(MergeTraceDocuments, ReadsTheLastOfAnIdNamedTwice) {
  auto docs = Parse({
      R"({"id":"aaaaaaaaaaaaaaaa","id":"9fdaf31a0171a3ad","name":"svc","start_time":1795238971.5,)"
      R"("end_time":1795238971.9,"trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
      R"({"type":"subsegment","id":"2222222222222222","name":"step-1",)"
      R"("start_time":1795238971.61,"end_time":1795238971.62,"parent_id":"9fdaf31a0171a3ad",)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
  });
  ASSERT_EQ(docs.size(), 2u);
  ASSERT_EQ(docs[0].id.ToHex(), "9fdaf31a0171a3ad");  // the parser's reading
  const auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_NE(merged[0].json.find("\"step-1\""), std::string::npos) << merged[0].json;
}

// An embedded subsegment whose last "in_progress" is true gives way to the complete copy
// streamed later, though its first "in_progress" says false.
TEST(MergeTraceDocuments, ReadsTheLastOfAnInProgressNamedTwice) {
  auto docs = Parse({
      R"({"id":"9fdaf31a0171a3ad","name":"svc","start_time":1795238971.5,"end_time":1795238971.9,)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347","subsegments":[)"
      R"({"id":"1111111111111111","name":"outer","start_time":1795238971.6,)"
      R"("in_progress":false,"in_progress":true}]})",
      R"({"type":"subsegment","id":"1111111111111111","name":"outer-done",)"
      R"("start_time":1795238971.6,"end_time":1795238971.7,"parent_id":"9fdaf31a0171a3ad",)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
  });
  const auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_NE(merged[0].json.find("\"outer-done\""), std::string::npos) << merged[0].json;
  EXPECT_EQ(merged[0].json.find("\"in_progress\""), std::string::npos) << merged[0].json;
}

// A last "subsegments" that is not an array (the first one is) is replaced by the array the
// merge adds, and the parser reads that one back.
TEST(MergeTraceDocuments, AddsSubsegmentsWhereTheLastMemberIsNotAnArray) {
  auto docs = Parse({
      R"({"id":"9fdaf31a0171a3ad","name":"svc","start_time":1795238971.5,"end_time":1795238971.9,)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347",)"
      R"("subsegments":[{"id":"1111111111111111","name":"hidden","start_time":1795238971.6,)"
      R"("end_time":1795238971.7}],"subsegments":null})",
      R"({"type":"subsegment","id":"2222222222222222","name":"step-1",)"
      R"("start_time":1795238971.61,"end_time":1795238971.62,"parent_id":"9fdaf31a0171a3ad",)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
  });
  ASSERT_EQ(docs.size(), 2u);
  const auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 1u);
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError e;
  ASSERT_TRUE(parser.Parse(merged[0].json, "default", &batch, &e)) << e.message;
  ASSERT_EQ(batch.spans.size(), 2u) << merged[0].json;  // the segment and step-1, as parsed
  EXPECT_EQ(batch.spans[1].name, "step-1");
}

TEST(MergeTraceDocuments, KeepsNumbersExactlyInARewrittenDocument) {
  auto docs = Parse({
      R"({"id":"9fdaf31a0171a3ad","name":"svc","start_time":1795248345.1191704,"end_time":1795248345.2,)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347","metadata":{"d":{"x":1.0000000000000002}}})",
      R"({"type":"subsegment","id":"2222222222222222","name":"s","start_time":1795248345.12,"end_time":1795248345.13,"parent_id":"9fdaf31a0171a3ad","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})",
  });
  auto merged = MergeTraceDocuments(docs);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_NE(merged[0].json.find("1795248345.1191704"), std::string::npos) << merged[0].json;
  EXPECT_NE(merged[0].json.find("1.0000000000000002"), std::string::npos) << merged[0].json;
}

TEST(MergeTraceDocuments, ALongChainOfStreamedSubsegmentsIsCappedInDepthAndLosesNothing) {
  // Each streamed subsegment is the parent of the next: 1000 levels.
  constexpr int kChain = 1000;
  std::vector<std::string> jsons = {
      R"({"id":"1000000000000000","name":"svc","start_time":1795238971.5,"end_time":1795238972.5,)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})"};
  for (int i = 1; i <= kChain; ++i) {
    char id[17], parent[17];
    std::snprintf(id, sizeof(id), "%016x", 0x10000000 + i);
    std::snprintf(parent, sizeof(parent), "%016x", i == 1 ? 0 : 0x10000000 + i - 1);
    std::string p = i == 1 ? "1000000000000000" : parent;
    jsons.push_back(
        std::string(R"({"type":"subsegment","id":")") + id +
        R"(","name":"s","start_time":1795238971.6,"end_time":1795238971.7,"parent_id":")" + p +
        R"(","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347"})");
  }
  auto docs = Parse(jsons);
  auto merged = MergeTraceDocuments(docs);
  // Nesting stops at the depth cap, so the chain comes back in several documents...
  EXPECT_GT(merged.size(), 1u);
  EXPECT_LE(merged.size(), static_cast<size_t>(kChain / 47 + 2));
  // ...that together hold every entity once, each parsing back to its spans.
  size_t entities = 0;
  SegmentParser parser;
  for (const auto& m : merged) {
    model::SpanBatch batch;
    SegmentError e;
    ASSERT_TRUE(parser.Parse(m.json, "default", &batch, &e)) << e.message;
    entities += batch.spans.size();
  }
  EXPECT_EQ(entities, static_cast<size_t>(kChain + 1));
}

}  // namespace
}  // namespace waggle::codec::xray
