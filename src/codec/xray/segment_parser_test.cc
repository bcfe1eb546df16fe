#include "codec/xray/segment_parser.h"

#include <gtest/gtest.h>

#include "base/testing/testdata.h"
#include "codec/xray/datagram.h"

namespace waggle::codec::xray {
namespace {

// Datagrams between BEGIN/END markers, as captured from the Python SDK.
std::vector<std::string> CapturedDatagrams() {
  std::string text = test_util::ReadTestdata("xray-udp-flask-more.txt");
  std::vector<std::string> out;
  const std::string begin = "-----BEGIN DATAGRAM-----\n", end = "\n-----END DATAGRAM-----";
  for (size_t at = text.find(begin); at != std::string::npos; at = text.find(begin, at)) {
    at += begin.size();
    size_t stop = text.find(end, at);
    out.push_back(text.substr(at, stop - at));
    at = stop;
  }
  return out;
}

const model::Span* FindSpan(const model::SpanBatch& b, std::string_view hex_id) {
  for (const auto& s : b.spans) {
    if (s.span_id.ToHex() == hex_id) return &s;
  }
  return nullptr;
}

TEST(SegmentParser, DecodesFlaskSegmentWithEmbeddedSubsegments) {
  std::string datagram = test_util::ReadTestdata("xray-udp-flask.txt");
  DatagramSplitter splitter;
  std::string_view body;
  ASSERT_EQ(splitter.Split(datagram, &body), DatagramError::kNone);
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  ASSERT_TRUE(parser.Parse(body, "default", &batch, &error)) << error.message;

  ASSERT_EQ(batch.spans.size(), 4u);
  ASSERT_EQ(batch.documents.size(), 1u);
  EXPECT_EQ(batch.documents[0].json, body);
  EXPECT_EQ(batch.documents[0].trace_id.ToXRay(), "1-6b012c3b-ea32f0ae513b261c9810593f");

  const model::Span& seg = batch.spans[0];
  EXPECT_EQ(seg.span_id.ToHex(), "becc573249943fcf");
  EXPECT_EQ(seg.service, "backend-flask");
  EXPECT_EQ(seg.kind, model::SpanKind::kServer);
  EXPECT_TRUE(seg.parent_span_id.IsZero());
  EXPECT_EQ(seg.start_ns, 1795238971550969000);
  EXPECT_EQ(seg.end_ns, 1795238971554309000);
  EXPECT_EQ(seg.http_method, "GET");
  EXPECT_EQ(seg.http_status, 200);
  EXPECT_EQ(seg.http_url, "http://127.0.0.1:5055/api/activities/home");
  EXPECT_EQ(seg.client_ip, "127.0.0.1");
  const model::Attribute* user = model::FindAttribute(seg.attributes, "user_id");
  ASSERT_NE(user, nullptr);
  EXPECT_EQ(user->role, model::AttributeRole::kAnnotation);
  EXPECT_EQ(user->value.string_value, "andrew");

  const model::Span* mock = FindSpan(batch, "31b7188a805bd80d");
  ASSERT_NE(mock, nullptr);
  EXPECT_EQ(mock->parent_span_id.ToHex(), "becc573249943fcf");
  EXPECT_EQ(mock->service, "backend-flask");
  EXPECT_EQ(mock->kind, model::SpanKind::kInternal);
  const model::Attribute* len = model::FindAttribute(mock->attributes, "result_length");
  ASSERT_NE(len, nullptr);
  EXPECT_EQ(len->value, model::AttributeValue::Int(3));
  const model::Attribute* meta =
      model::FindAttribute(mock->attributes, "aws.xray.metadata.cruddur");
  ASSERT_NE(meta, nullptr);
  EXPECT_EQ(meta->role, model::AttributeRole::kMetadata);
  EXPECT_EQ(meta->value.string_value, R"({"now":"2023-01-01T00:00:00"})");

  const model::Span* remote = FindSpan(batch, "4d071a85c183dd41");
  ASSERT_NE(remote, nullptr);
  EXPECT_EQ(remote->kind, model::SpanKind::kClient);
  EXPECT_EQ(remote->peer, "http://127.0.0.1:5055/api/health");
}

TEST(SegmentParser, DecodesEveryCapturedDatagram) {
  auto datagrams = CapturedDatagrams();
  ASSERT_GE(datagrams.size(), 6u);
  DatagramSplitter splitter;
  SegmentParser parser;
  model::SpanBatch batch;
  for (const std::string& d : datagrams) {
    std::string_view body;
    ASSERT_EQ(splitter.Split(d, &body), DatagramError::kNone) << d;
    SegmentError error;
    EXPECT_TRUE(parser.Parse(body, "default", &batch, &error)) << error.message << "\n" << d;
  }
  EXPECT_EQ(batch.documents.size(), datagrams.size());
}

TEST(SegmentParser, KeepsExceptionCauseAsEvent) {
  auto datagrams = CapturedDatagrams();
  ASSERT_GE(datagrams.size(), 3u);
  DatagramSplitter splitter;
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  std::string_view body;
  ASSERT_EQ(splitter.Split(datagrams[2], &body), DatagramError::kNone);
  ASSERT_TRUE(parser.Parse(body, "default", &batch, &error));
  EXPECT_EQ(batch.spans[0].status_flags, model::kStatusFault);
  const model::Span* failing = FindSpan(batch, "fd7e512a1c3eff94");
  ASSERT_NE(failing, nullptr);
  ASSERT_EQ(failing->events.size(), 1u);
  EXPECT_EQ(failing->events[0].name, "exception");
  EXPECT_EQ(
      model::FindAttribute(failing->events[0].attributes, "exception.message")->value.string_value,
      "kaboom");
  EXPECT_EQ(failing->status_message, "kaboom");
}

TEST(SegmentParser, AcceptsIndependentSubsegmentAndInProgressSegment) {
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  ASSERT_TRUE(parser.Parse(
      R"({"type":"subsegment","id":"f0960f4b0930d3b7","name":"step-0","start_time":1795238971.579312,)"
      R"("parent_id":"9fdaf31a0171a3ad","trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347","end_time":1795238971.5793204})",
      "default", &batch, &error))
      << error.message;
  EXPECT_TRUE(batch.documents[0].subsegment);
  EXPECT_EQ(batch.spans[0].parent_span_id.ToHex(), "9fdaf31a0171a3ad");
  EXPECT_EQ(batch.spans[0].service, "");

  ASSERT_TRUE(
      parser.Parse(R"({"id":"70de5b6f19ff9a0a","name":"example.com","start_time":1.478293361271E9,)"
                   R"("trace_id":"1-581cf771-a006649127e371903a2de979","in_progress":true})",
                   "default", &batch, &error))
      << error.message;
  EXPECT_TRUE(batch.documents[1].in_progress);
  EXPECT_TRUE(batch.spans[1].in_progress);
  EXPECT_EQ(batch.spans[1].start_ns, 1478293361271000000);
}

// The X-Ray SDK for Node.js sends JSON.stringify's text: a string cut through a surrogate pair
// is a lone \u escape, which simdjson alone refuses. The document is kept repaired.
TEST(SegmentParser, ReadsLoneSurrogateEscapesAsReplacementCharactersAndKeepsTheRepair) {
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  uint64_t repairs = 0;
  const std::string doc =
      R"({"id":"70de5b6f19ff9a0a","name":"shop","start_time":1795238971.5,"end_time":1795238972.5,)"
      R"("trace_id":"1-6b012c3b-f4a6ca549e449441bcc76347","annotations":{"note":"cut \ud83d"},)"
      "\"metadata\":{\"default\":{\"raw\":\"a\xff\"}}}";
  ASSERT_TRUE(parser.Parse(doc, "default", &batch, &error, &repairs)) << error.message;
  EXPECT_EQ(repairs, 2u);
  ASSERT_EQ(batch.spans.size(), 1u);
  const model::Attribute* note = model::FindAttribute(batch.spans[0].attributes, "note");
  ASSERT_NE(note, nullptr);
  EXPECT_EQ(note->value.string_value, "cut \xef\xbf\xbd");
  ASSERT_EQ(batch.documents.size(), 1u);
  EXPECT_NE(batch.documents[0].json.find(R"("cut \ufffd")"), std::string::npos)
      << batch.documents[0].json;
  EXPECT_NE(batch.documents[0].json.find("\"a\xef\xbf\xbd\""), std::string::npos);
  // The kept document parses as it is.
  model::SpanBatch again;
  repairs = 0;
  ASSERT_TRUE(parser.Parse(batch.documents[0].json, "default", &again, &error, &repairs));
  EXPECT_EQ(repairs, 0u);
  // A document that is not JSON for another reason as well is still refused.
  EXPECT_FALSE(parser.Parse(R"({"id":"\ud83d")", "default", &again, &error, &repairs));
  EXPECT_EQ(error.error_code, "InvalidSegment");
  EXPECT_EQ(repairs, 0u);
}

// An `aws` subsegment names what it calls as its peer, as the service graph names the node:
// the table, the queue, or the AWS service spelled canonically.
TEST(SegmentParser, AwsSubsegmentsNameTheirPeerAsTheServiceGraphDoes) {
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  auto sub = [](std::string_view id, std::string_view name, std::string_view aws) {
    return std::string(R"({"id":")") + std::string(id) + R"(","name":")" + std::string(name) +
           R"(","namespace":"aws","start_time":1478293361.5,"end_time":1478293362.5,"aws":)" +
           std::string(aws) + "}";
  };
  std::string doc =
      R"({"id":"70de5b6f19ff9a0a","name":"svc","start_time":1478293361,"end_time":1478293363,)"
      R"("trace_id":"1-581cf771-a006649127e371903a2de979","subsegments":[)" +
      sub("0000000000000001", "dynamodb", R"({"table_name":"Scores","operation":"GetItem"})") +
      "," +
      sub("0000000000000002", "SQS",
          R"({"queue_url":"https://sqs.us-east-1.amazonaws.com/1/orders/"})") +
      "," + sub("0000000000000003", "sns", "{}") + "," +
      sub("0000000000000004", "Rekognition", "{}") + "]}";
  ASSERT_TRUE(parser.Parse(doc, "default", &batch, &error)) << error.message;
  ASSERT_EQ(batch.spans.size(), 5u);
  EXPECT_EQ(batch.spans[0].peer, "");
  EXPECT_EQ(batch.spans[1].peer, "Scores");
  EXPECT_EQ(batch.spans[2].peer, "orders");
  EXPECT_EQ(batch.spans[3].peer, "SNS");
  EXPECT_EQ(batch.spans[4].peer, "Rekognition");
}

struct BadCase {
  const char* json;
  const char* code;
};

class SegmentParserRejects : public testing::TestWithParam<BadCase> {};

TEST_P(SegmentParserRejects, WithTheRightErrorCodeAndAppendsNothing) {
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  EXPECT_FALSE(parser.Parse(GetParam().json, "default", &batch, &error));
  EXPECT_EQ(error.error_code, GetParam().code) << error.message;
  EXPECT_NE(error.message.find(GetParam().code), std::string::npos);
  EXPECT_TRUE(batch.empty());
}

INSTANTIATE_TEST_SUITE_P(
    BadDocuments, SegmentParserRejects,
    testing::Values(
        BadCase{"not json", "InvalidSegment"},
        BadCase{R"({"id":"70de5b6f19ff9a0a")", "InvalidSegment"}, BadCase{"[1,2]", "MissingId"},
        BadCase{
            R"({"name":"a","start_time":1478293361.2,"end_time":1478293361.3,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "MissingId"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"end_time":1478293361.3})",
            "MissingTraceId"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"end_time":1478293361.3,"trace_id":"1-581cf771"})",
            "InvalidTraceId"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0","name":"a","start_time":1478293361.2,"end_time":1478293361.3,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "InvalidId"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"mysql at RouteBinding:?","start_time":1478293361.2,"end_time":1478293361.3,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "InvalidName"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","end_time":1478293361.3,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "MissingStartTime"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "MissingEndTime"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"end_time":1478293360.3,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "InvalidEndTime"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1e15,"end_time":1e15,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "InvalidStartTime"},
        BadCase{
            R"({"type":"subsegment","id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"end_time":1478293361.3,"trace_id":"1-581cf771-a006649127e371903a2de979"})",
            "MissingParentId"},
        BadCase{
            R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"end_time":1478293361.3,"trace_id":"1-581cf771-a006649127e371903a2de979","subsegments":[{"id":"80de5b6f19ff9a0a","name":"b*","start_time":1478293361.2,"end_time":1478293361.3}]})",
            "InvalidName"}));

TEST(SegmentParser, RejectsOversizedDocument) {
  SegmentParser parser;
  model::SpanBatch batch;
  SegmentError error;
  std::string big = R"({"id":"70de5b6f19ff9a0a","name":")" + std::string(70000, 'a') + "\"}";
  EXPECT_FALSE(parser.Parse(big, "default", &batch, &error));
  EXPECT_EQ(error.error_code, "InvalidSegment");
}

TEST(SegmentName, AllowsDocumentedCharactersOnly) {
  EXPECT_TRUE(IsValidSegmentName("backend-flask"));
  EXPECT_TRUE(IsValidSegmentName("http://127.0.0.1:5055/api/health"));
  EXPECT_TRUE(IsValidSegmentName("db@host %&#=+\\"));
  EXPECT_TRUE(IsValidSegmentName("Grüße"));
  EXPECT_FALSE(IsValidSegmentName(""));
  EXPECT_FALSE(IsValidSegmentName("a?b"));
  EXPECT_FALSE(IsValidSegmentName(std::string(201, 'a')));
  EXPECT_TRUE(IsValidSegmentName(std::string(200, 'a')));
}

}  // namespace
}  // namespace waggle::codec::xray
