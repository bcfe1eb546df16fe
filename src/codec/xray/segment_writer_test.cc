#include "codec/xray/segment_writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <limits>
#include <string>
#include <string_view>

#include "codec/otlp/span_rules.h"
#include "codec/xray/segment_parser.h"

namespace waggle::codec::xray {
namespace {

using model::AttributeRole;
using model::AttributeValue;
using model::SpanKind;

// Microsecond-exact, as X-Ray times are.
constexpr int64_t kStart = 1795248000123456000;
constexpr int64_t kEnd = kStart + 250'000'000;
constexpr uint64_t kSpanId = 0x53995c3f42cd8ad8;
constexpr uint64_t kParentId = 0x1111111111111111;

model::Span MakeSpan(SpanKind kind, uint64_t parent = 0) {
  model::Span s;
  EXPECT_TRUE(model::TraceId::ParseHex("6b014f80e7d1852db8c4fd35d88bf49a", &s.trace_id));
  s.span_id.value = kSpanId;
  s.parent_span_id.value = parent;
  s.environment = "default";
  s.service = "checkout";
  s.name = "GET /cart";
  s.kind = kind;
  s.start_ns = kStart;
  s.end_ns = kEnd;
  return s;
}

void Add(model::Span* s, std::string key, AttributeValue v,
         AttributeRole role = AttributeRole::kPlain) {
  s->attributes.push_back({std::move(key), std::move(v), role});
}

// A rendered document, parsed; fields are read by JSON pointer.
struct Doc {
  explicit Doc(const model::Span& span) : json(RenderSegment(span)) {
    ok = parser.parse(json).get(root) == simdjson::SUCCESS;
  }
  bool Has(std::string_view pointer) const {
    return root.at_pointer(pointer).error() == simdjson::SUCCESS;
  }
  std::string_view Str(std::string_view pointer) const {
    std::string_view s;
    if (root.at_pointer(pointer).get(s) != simdjson::SUCCESS) return "<missing>";
    return s;
  }
  bool Bool(std::string_view pointer) const {
    bool b = false;
    return root.at_pointer(pointer).get(b) == simdjson::SUCCESS && b;
  }
  int64_t Int(std::string_view pointer) const {
    int64_t n = -1;
    if (root.at_pointer(pointer).get(n) != simdjson::SUCCESS) return -1;
    return n;
  }
  double Double(std::string_view pointer) const {
    double d = -1;
    if (root.at_pointer(pointer).get(d) != simdjson::SUCCESS) return -1;
    return d;
  }
  size_t Size(std::string_view pointer) const {
    simdjson::dom::array a;
    if (root.at_pointer(pointer).get(a) != simdjson::SUCCESS) return 0;
    return a.size();
  }

  std::string json;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
};

model::Span ServerRoot() {
  model::Span s = MakeSpan(SpanKind::kServer);
  Add(&s, "service.name", AttributeValue::String("checkout"), AttributeRole::kResource);
  Add(&s, "host.name", AttributeValue::String("web-1"), AttributeRole::kResource);
  Add(&s, "scope.only", AttributeValue::String("s"), AttributeRole::kScope);
  Add(&s, "http.request.method", AttributeValue::String("GET"));
  Add(&s, "url.full", AttributeValue::String("http://shop.example/cart?id=7"));
  Add(&s, "http.response.status_code", AttributeValue::Int(500));
  Add(&s, "user_agent.original", AttributeValue::String("curl/8.5"));
  Add(&s, "client.address", AttributeValue::String("10.0.0.7"));
  Add(&s, "cart.items", AttributeValue::Int(3));
  otlp::FinishSpan(&s);
  return s;
}

model::Span ClientChild() {
  model::Span s = MakeSpan(SpanKind::kClient, kParentId);
  s.name = "POST";
  Add(&s, "service.name", AttributeValue::String("checkout"), AttributeRole::kResource);
  Add(&s, "peer.service", AttributeValue::String("inventory"));
  Add(&s, "http.request.method", AttributeValue::String("POST"));
  Add(&s, "url.full", AttributeValue::String("http://inventory.internal/reserve"));
  Add(&s, "http.response.status_code", AttributeValue::Int(200));
  otlp::FinishSpan(&s);
  return s;
}

TEST(RenderSegment, AServerRootIsASegmentNamedForItsService) {
  Doc doc(ServerRoot());
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/id"), "53995c3f42cd8ad8");
  EXPECT_EQ(doc.Str("/trace_id"), "1-6b014f80-e7d1852db8c4fd35d88bf49a");
  EXPECT_EQ(doc.Str("/name"), "checkout");
  EXPECT_DOUBLE_EQ(doc.Double("/start_time"), 1795248000.123456);
  EXPECT_DOUBLE_EQ(doc.Double("/end_time"), 1795248000.373456);
  EXPECT_FALSE(doc.Has("/in_progress"));
  EXPECT_FALSE(doc.Has("/type"));
  EXPECT_FALSE(doc.Has("/parent_id"));
  EXPECT_FALSE(doc.Has("/namespace"));

  EXPECT_EQ(doc.Str("/http/request/method"), "GET");
  EXPECT_EQ(doc.Str("/http/request/url"), "http://shop.example/cart?id=7");
  EXPECT_EQ(doc.Str("/http/request/user_agent"), "curl/8.5");
  EXPECT_EQ(doc.Str("/http/request/client_ip"), "10.0.0.7");
  EXPECT_EQ(doc.Int("/http/response/status"), 500);
  EXPECT_TRUE(doc.Bool("/fault"));
  EXPECT_FALSE(doc.Has("/error"));
  EXPECT_FALSE(doc.Has("/throttle"));

  // Resource attributes on segments, under otel.resource.*; the span's own as they are.
  EXPECT_EQ(doc.Str("/metadata/default/otel.resource.service.name"), "checkout");
  EXPECT_EQ(doc.Str("/metadata/default/otel.resource.host.name"), "web-1");
  EXPECT_EQ(doc.Int("/metadata/default/cart.items"), 3);
  EXPECT_FALSE(doc.Has("/metadata/default/service.name"));
  // Scope attributes are not part of the X-Ray view.
  EXPECT_FALSE(doc.Has("/metadata/default/scope.only"));
  EXPECT_FALSE(doc.Has("/metadata/default/otel.resource.scope.only"));
  EXPECT_FALSE(doc.Has("/annotations"));
  EXPECT_FALSE(doc.Has("/cause"));
  EXPECT_FALSE(doc.Has("/links"));
}

TEST(RenderSegment, AClientChildIsARemoteSubsegmentNamedForItsPeer) {
  Doc doc(ClientChild());
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/type"), "subsegment");
  EXPECT_EQ(doc.Str("/parent_id"), "1111111111111111");
  EXPECT_EQ(doc.Str("/trace_id"), "1-6b014f80-e7d1852db8c4fd35d88bf49a");
  EXPECT_EQ(doc.Str("/namespace"), "remote");
  EXPECT_EQ(doc.Str("/name"), "inventory");
  EXPECT_EQ(doc.Str("/http/request/method"), "POST");
  EXPECT_EQ(doc.Int("/http/response/status"), 200);
  EXPECT_FALSE(doc.Has("/fault"));
  EXPECT_FALSE(doc.Has("/error"));
  EXPECT_FALSE(doc.Has("/throttle"));
  // Resource attributes are kept on segments only.
  EXPECT_FALSE(doc.Has("/metadata/default/otel.resource.service.name"));
  EXPECT_EQ(doc.Str("/metadata/default/peer.service"), "inventory");
}

TEST(RenderSegment, SubsegmentNamesFallBackThroughThePeerAttributes) {
  model::Span by_address = MakeSpan(SpanKind::kClient, kParentId);
  Add(&by_address, "server.address", AttributeValue::String("db.internal"));
  otlp::FinishSpan(&by_address);
  EXPECT_EQ(Doc(by_address).Str("/name"), "db.internal");

  model::Span remote = MakeSpan(SpanKind::kClient, kParentId);
  Add(&remote, "aws.remote.service", AttributeValue::String("AWS::DynamoDB"));
  Add(&remote, "peer.service", AttributeValue::String("ignored"));
  otlp::FinishSpan(&remote);
  EXPECT_EQ(Doc(remote).Str("/name"), "AWS::DynamoDB");

  // Nothing names a peer: the span name, without characters X-Ray refuses.
  model::Span internal = MakeSpan(SpanKind::kInternal, kParentId);
  internal.name = "render <cart>?";
  otlp::FinishSpan(&internal);
  Doc doc(internal);
  EXPECT_EQ(doc.Str("/name"), "render cart");
  EXPECT_EQ(doc.Str("/type"), "subsegment");
  EXPECT_FALSE(doc.Has("/namespace"));

  model::Span unnamed = MakeSpan(SpanKind::kInternal, kParentId);
  unnamed.name = "???";
  EXPECT_EQ(Doc(unnamed).Str("/name"), "span");
}

TEST(RenderSegment, AwsApiSpansAreInTheAwsNamespace) {
  model::Span s = MakeSpan(SpanKind::kClient, kParentId);
  Add(&s, "rpc.system", AttributeValue::String("aws-api"));
  Add(&s, "rpc.service", AttributeValue::String("S3"));
  otlp::FinishSpan(&s);
  Doc doc(s);
  EXPECT_EQ(doc.Str("/namespace"), "aws");
  EXPECT_EQ(doc.Str("/name"), "S3");
}

TEST(RenderSegment, ADatabaseSpanHasAnSqlBlock) {
  model::Span s = MakeSpan(SpanKind::kClient, kParentId);
  s.name = "SELECT orders";
  Add(&s, "db.system.name", AttributeValue::String("postgresql"));
  Add(&s, "db.namespace", AttributeValue::String("orders"));
  Add(&s, "db.query.text", AttributeValue::String("SELECT * FROM orders WHERE id = $1"));
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/name"), "orders");
  EXPECT_EQ(doc.Str("/namespace"), "remote");
  EXPECT_EQ(doc.Str("/sql/url"), "SELECT orders");
  EXPECT_EQ(doc.Str("/sql/database_type"), "postgresql");
  EXPECT_EQ(doc.Str("/sql/sanitized_query"), "SELECT * FROM orders WHERE id = $1");

  // The older attribute names.
  model::Span old = MakeSpan(SpanKind::kClient, kParentId);
  Add(&old, "db.system", AttributeValue::String("mysql"));
  Add(&old, "db.statement", AttributeValue::String("SELECT 1"));
  otlp::FinishSpan(&old);
  Doc old_doc(old);
  EXPECT_EQ(old_doc.Str("/sql/database_type"), "mysql");
  EXPECT_EQ(old_doc.Str("/sql/sanitized_query"), "SELECT 1");

  // Not an SQL database: no sql block.
  model::Span redis = MakeSpan(SpanKind::kClient, kParentId);
  Add(&redis, "db.system", AttributeValue::String("redis"));
  otlp::FinishSpan(&redis);
  EXPECT_FALSE(Doc(redis).Has("/sql"));
}

// spec/otlp.md §9.3 sql: connection_string = (db.connection_string or "localhost") + "/" +
// db.name; user = db.user.
TEST(RenderSegment, TheSqlBlockHasTheConnectionStringAndUser) {
  model::Span s = MakeSpan(SpanKind::kClient, kParentId);
  Add(&s, "db.system", AttributeValue::String("mysql"));
  Add(&s, "db.name", AttributeValue::String("shop"));
  Add(&s, "db.user", AttributeValue::String("app"));
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/sql/connection_string"), "localhost/shop");
  EXPECT_EQ(doc.Str("/sql/user"), "app");
}

TEST(RenderSegment, ExceptionEventsBecomeTheCause) {
  model::Span s = ServerRoot();
  s.otel_status = 2;
  s.status_message = "cart failed";
  s.events.push_back({kStart + 1000,
                      "exception",
                      {{"exception.type", AttributeValue::String("ValueError"), {}},
                       {"exception.message", AttributeValue::String("bad cart"), {}},
                       {"exception.stacktrace", AttributeValue::String("Traceback..."), {}}}});
  s.events.push_back({kStart + 2000, "log", {{"msg", AttributeValue::String("hi"), {}}}});
  s.events.push_back({kStart + 3000,
                      "exception",
                      {{"exception.type", AttributeValue::String("KeyError"), {}},
                       {"exception.message", AttributeValue::String("'id'"), {}}}});
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  ASSERT_EQ(doc.Size("/cause/exceptions"), 2u);
  EXPECT_EQ(doc.Str("/cause/exceptions/0/type"), "ValueError");
  EXPECT_EQ(doc.Str("/cause/exceptions/0/message"), "bad cart");
  EXPECT_FALSE(doc.Bool("/cause/exceptions/0/remote"));
  EXPECT_EQ(doc.Str("/cause/exceptions/1/type"), "KeyError");
  EXPECT_EQ(doc.Str("/cause/exceptions/1/message"), "'id'");
  const std::string_view id0 = doc.Str("/cause/exceptions/0/id");
  const std::string_view id1 = doc.Str("/cause/exceptions/1/id");
  EXPECT_EQ(id0.size(), 16u);
  EXPECT_EQ(id1.size(), 16u);
  EXPECT_NE(id0, id1);
  EXPECT_TRUE(doc.Bool("/fault"));

  // On an outgoing call the exception is the remote side's.
  model::Span client = ClientChild();
  client.events.push_back(
      {kStart, "exception", {{"exception.type", AttributeValue::String("Timeout"), {}}}});
  Doc client_doc(client);
  EXPECT_EQ(client_doc.Str("/cause/exceptions/0/type"), "Timeout");
  EXPECT_TRUE(client_doc.Bool("/cause/exceptions/0/remote"));
}

TEST(RenderSegment, AnErrorStatusWithoutExceptionsHasItsMessageAsTheCause) {
  model::Span s = MakeSpan(SpanKind::kServer);
  s.otel_status = 2;
  s.status_message = "deadline exceeded";
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  ASSERT_EQ(doc.Size("/cause/exceptions"), 1u);
  EXPECT_EQ(doc.Str("/cause/exceptions/0/message"), "deadline exceeded");
  EXPECT_EQ(doc.Str("/cause/exceptions/0/id").size(), 16u);
  EXPECT_FALSE(doc.Has("/cause/exceptions/0/type"));
  EXPECT_TRUE(doc.Bool("/fault"));
  EXPECT_FALSE(doc.Has("/error"));

  // An OK or unset status has no cause even with a message.
  model::Span ok = MakeSpan(SpanKind::kServer);
  ok.status_message = "fine";
  otlp::FinishSpan(&ok);
  Doc ok_doc(ok);
  EXPECT_FALSE(ok_doc.Has("/cause"));
  EXPECT_FALSE(ok_doc.Has("/fault"));
}

TEST(RenderSegment, ClientErrorsAreErrorsAndTooManyRequestsIsAThrottle) {
  model::Span not_found = MakeSpan(SpanKind::kServer);
  Add(&not_found, "http.status_code", AttributeValue::Int(404));
  otlp::FinishSpan(&not_found);
  Doc nf(not_found);
  EXPECT_TRUE(nf.Bool("/error"));
  EXPECT_FALSE(nf.Has("/fault"));
  EXPECT_FALSE(nf.Has("/throttle"));
  EXPECT_EQ(nf.Int("/http/response/status"), 404);

  model::Span throttled = MakeSpan(SpanKind::kServer);
  Add(&throttled, "http.response.status_code", AttributeValue::Int(429));
  otlp::FinishSpan(&throttled);
  Doc th(throttled);
  EXPECT_TRUE(th.Bool("/error"));
  EXPECT_TRUE(th.Bool("/throttle"));
  EXPECT_FALSE(th.Has("/fault"));

  // The HTTP code decides even when the OTel status says error.
  model::Span client_error = MakeSpan(SpanKind::kClient, kParentId);
  client_error.otel_status = 2;
  Add(&client_error, "http.response.status_code", AttributeValue::Int(400));
  otlp::FinishSpan(&client_error);
  Doc ce(client_error);
  EXPECT_TRUE(ce.Bool("/error"));
  EXPECT_FALSE(ce.Has("/fault"));
}

TEST(RenderSegment, AwsXrayAnnotationsNameTheAnnotations) {
  model::Span s = MakeSpan(SpanKind::kServer);
  Add(&s, "aws.xray.annotations",
      AttributeValue::Json(R"(["user.id","tier","flag","nested","missing"])"));
  Add(&s, "user.id", AttributeValue::String("u-1"));
  Add(&s, "tier", AttributeValue::Int(3));
  Add(&s, "flag", AttributeValue::Bool(true));
  Add(&s, "nested", AttributeValue::Json(R"({"a":1})"));  // not a scalar: stays metadata
  Add(&s, "other", AttributeValue::String("x"));
  Add(&s, "region", AttributeValue::String("eu-west-1"), AttributeRole::kAnnotation);
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/annotations/user_id"), "u-1");  // keys sanitized to [A-Za-z0-9_]
  EXPECT_EQ(doc.Int("/annotations/tier"), 3);
  EXPECT_TRUE(doc.Bool("/annotations/flag"));
  EXPECT_EQ(doc.Str("/annotations/region"), "eu-west-1");
  EXPECT_FALSE(doc.Has("/annotations/nested"));
  EXPECT_FALSE(doc.Has("/annotations/missing"));
  EXPECT_FALSE(doc.Has("/annotations/other"));

  EXPECT_EQ(doc.Int("/metadata/default/nested/a"), 1);
  EXPECT_EQ(doc.Str("/metadata/default/other"), "x");
  EXPECT_FALSE(doc.Has("/metadata/default/aws.xray.annotations"));
  EXPECT_FALSE(doc.Has("/metadata/default/user.id"));
  EXPECT_FALSE(doc.Has("/metadata/default/region"));

  model::Span plain = MakeSpan(SpanKind::kServer);
  Add(&plain, "user.id", AttributeValue::String("u-1"));
  otlp::FinishSpan(&plain);
  Doc plain_doc(plain);
  EXPECT_FALSE(plain_doc.Has("/annotations"));
  EXPECT_EQ(plain_doc.Str("/metadata/default/user.id"), "u-1");
}

// spec/otlp.md §9.3: attributes named aws.xray.metadata.<ns> holding a JSON object become
// metadata[<ns>]; enduser.id becomes `user`.
TEST(RenderSegment, AwsXrayMetadataAttributesBecomeTheirOwnNamespaces) {
  model::Span s = MakeSpan(SpanKind::kServer);
  Add(&s, "aws.xray.metadata.debug", AttributeValue::String(R"({"k":"v","n":2})"));
  Add(&s, "enduser.id", AttributeValue::String("alice"));
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/metadata/debug/k"), "v");
  EXPECT_EQ(doc.Int("/metadata/debug/n"), 2);
  EXPECT_FALSE(doc.Has("/metadata/default/aws.xray.metadata.debug"));
  EXPECT_EQ(doc.Str("/user"), "alice");
}

TEST(RenderSegment, MetadataThatIsNotAJsonObjectStaysAString) {
  model::Span s = MakeSpan(SpanKind::kServer);
  Add(&s, "aws.xray.metadata.debug", AttributeValue::String("{not json}"));
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_FALSE(doc.Has("/metadata/debug"));
  EXPECT_EQ(doc.Str("/metadata/default/aws.xray.metadata.debug"), "{not json}");
}

// Bytes attribute values are raw bytes in the model; in JSON they must be text (base64, as
// protobuf JSON and Honeycomb write bytes: spec/otlp.md §4.4), or the document is not even
// valid UTF-8 JSON.
TEST(RenderSegment, BytesAttributesStayValidJson) {
  model::Span s = MakeSpan(SpanKind::kServer);
  model::AttributeValue bytes;
  bytes.type = AttributeValue::Type::kBytes;
  bytes.string_value = std::string("\xff\x00\x01", 3);
  Add(&s, "blob", bytes);
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << "not valid JSON: " << doc.json;
  EXPECT_EQ(doc.Str("/metadata/default/blob"), "/wAB");
}

// A protobuf request's strings are stored unchecked (libprotobuf would refuse ones that are not
// UTF-8): BatchGetTraces still answers UTF-8, each bad byte as U+FFFD.
TEST(RenderSegment, StringsThatAreNotUtf8StayValidJson) {
  model::Span s = MakeSpan(SpanKind::kServer);
  s.service = "caf\xc3";
  Add(&s, "user\xff", AttributeValue::String("\xdfok"));
  otlp::FinishSpan(&s);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << "not valid JSON: " << doc.json;
  EXPECT_EQ(doc.Str("/name"), "caf\xef\xbf\xbd");
  EXPECT_EQ(doc.Str("/metadata/default/user\xef\xbf\xbd"), "\xef\xbf\xbdok");
}

TEST(RenderSegment, NonFiniteDoublesAreNull) {
  model::Span s = MakeSpan(SpanKind::kServer);
  Add(&s, "ratio", AttributeValue::Double(std::numeric_limits<double>::quiet_NaN()));
  Add(&s, "big", AttributeValue::Double(std::numeric_limits<double>::infinity()));
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  for (std::string_view pointer : {"/metadata/default/ratio", "/metadata/default/big"}) {
    simdjson::dom::element e;
    ASSERT_EQ(doc.root.at_pointer(pointer).get(e), simdjson::SUCCESS) << pointer;
    EXPECT_TRUE(e.is_null()) << pointer;
  }
}

TEST(RenderSegment, LinksAreRendered) {
  model::Span s = MakeSpan(SpanKind::kConsumer, kParentId);
  model::SpanLink with_attrs;
  ASSERT_TRUE(model::TraceId::ParseHex("6b014f7fa1a2a3a4a5a6a7a8a9aaabac", &with_attrs.trace_id));
  with_attrs.span_id.value = 0x0102030405060708;
  with_attrs.attributes.push_back({"link.kind", AttributeValue::String("follows"), {}});
  s.links.push_back(with_attrs);
  model::SpanLink bare;
  bare.trace_id = s.trace_id;
  bare.span_id.value = 0xabcdef;
  s.links.push_back(bare);
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  ASSERT_EQ(doc.Size("/links"), 2u);
  EXPECT_EQ(doc.Str("/links/0/trace_id"), "1-6b014f7f-a1a2a3a4a5a6a7a8a9aaabac");
  EXPECT_EQ(doc.Str("/links/0/id"), "0102030405060708");
  EXPECT_EQ(doc.Str("/links/0/attributes/link.kind"), "follows");
  EXPECT_EQ(doc.Str("/links/1/id"), "0000000000abcdef");
  EXPECT_FALSE(doc.Has("/links/1/attributes"));
}

TEST(RenderSegment, AnInProgressSpanHasNoEndTime) {
  model::Span s = MakeSpan(SpanKind::kServer);
  s.in_progress = true;
  s.end_ns = 0;
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_TRUE(doc.Bool("/in_progress"));
  EXPECT_FALSE(doc.Has("/end_time"));
}

// The X-Ray view of an OTLP span reads back, through our own X-Ray parser, as the same span.
TEST(RenderSegment, RoundTripsThroughTheSegmentParser) {
  SegmentParser parser;
  {
    const model::Span span = ServerRoot();
    const std::string json = RenderSegment(span);
    model::SpanBatch batch;
    SegmentError error;
    ASSERT_TRUE(parser.Parse(json, "default", &batch, &error)) << error.message << "\n" << json;
    ASSERT_EQ(batch.spans.size(), 1u);
    const model::Span& back = batch.spans[0];
    EXPECT_EQ(back.trace_id, span.trace_id);
    EXPECT_EQ(back.span_id, span.span_id);
    EXPECT_TRUE(back.parent_span_id.IsZero());
    EXPECT_EQ(back.start_ns, kStart);
    EXPECT_EQ(back.end_ns, kEnd);
    EXPECT_FALSE(back.in_progress);
    EXPECT_EQ(back.kind, SpanKind::kServer);
    EXPECT_EQ(back.name, "checkout");
    EXPECT_EQ(back.service, "checkout");
    EXPECT_EQ(back.http_method, "GET");
    EXPECT_EQ(back.http_url, "http://shop.example/cart?id=7");
    EXPECT_EQ(back.http_status, 500);
    EXPECT_EQ(back.client_ip, "10.0.0.7");
    EXPECT_EQ(back.user_agent, "curl/8.5");
    EXPECT_EQ(back.status_flags, model::kStatusFault);
    ASSERT_EQ(batch.documents.size(), 1u);
    EXPECT_FALSE(batch.documents[0].subsegment);
  }
  {
    const model::Span span = ClientChild();
    const std::string json = RenderSegment(span);
    model::SpanBatch batch;
    SegmentError error;
    ASSERT_TRUE(parser.Parse(json, "default", &batch, &error)) << error.message << "\n" << json;
    ASSERT_EQ(batch.spans.size(), 1u);
    const model::Span& back = batch.spans[0];
    EXPECT_EQ(back.trace_id, span.trace_id);
    EXPECT_EQ(back.span_id, span.span_id);
    EXPECT_EQ(back.parent_span_id.value, kParentId);
    EXPECT_EQ(back.start_ns, kStart);
    EXPECT_EQ(back.end_ns, kEnd);
    EXPECT_EQ(back.kind, SpanKind::kClient);
    EXPECT_EQ(back.peer, "inventory");
    EXPECT_EQ(back.http_status, 200);
    EXPECT_EQ(back.status_flags, 0);
    ASSERT_EQ(batch.documents.size(), 1u);
    EXPECT_TRUE(batch.documents[0].subsegment);
    EXPECT_EQ(batch.documents[0].parent_id.value, kParentId);
  }
  {
    model::Span span = MakeSpan(SpanKind::kServer);
    span.otel_status = 2;
    span.events.push_back({kStart,
                           "exception",
                           {{"exception.type", AttributeValue::String("ValueError"), {}},
                            {"exception.message", AttributeValue::String("bad cart"), {}}}});
    Add(&span, "aws.xray.annotations", AttributeValue::Json(R"(["tier"])"));
    Add(&span, "tier", AttributeValue::Int(3));
    otlp::FinishSpan(&span);
    const std::string json = RenderSegment(span);
    model::SpanBatch batch;
    SegmentError error;
    ASSERT_TRUE(parser.Parse(json, "default", &batch, &error)) << error.message << "\n" << json;
    ASSERT_EQ(batch.spans.size(), 1u);
    const model::Span& back = batch.spans[0];
    EXPECT_EQ(back.status_flags, model::kStatusFault);
    ASSERT_EQ(back.events.size(), 1u);
    EXPECT_EQ(back.events[0].name, "exception");
    const model::Attribute* type =
        model::FindAttribute(back.events[0].attributes, "exception.type");
    ASSERT_NE(type, nullptr);
    EXPECT_EQ(type->value.string_value, "ValueError");
    EXPECT_EQ(back.status_message, "bad cart");
    const model::Attribute* tier = model::FindAttribute(back.attributes, "tier");
    ASSERT_NE(tier, nullptr);
    EXPECT_EQ(tier->role, AttributeRole::kAnnotation);
    EXPECT_EQ(tier->value, AttributeValue::Int(3));
  }
}

}  // namespace
}  // namespace waggle::codec::xray

namespace waggle::codec::xray {
namespace {

TEST(RenderSegment, AServerSpanUrlIsRebuiltFromItsParts) {
  model::Span s = MakeSpan(SpanKind::kServer);
  Add(&s, "http.request.method", AttributeValue::String("GET"));
  Add(&s, "url.scheme", AttributeValue::String("http"));
  Add(&s, "server.address", AttributeValue::String("inventory"));
  Add(&s, "server.port", AttributeValue::Int(8080));
  Add(&s, "url.path", AttributeValue::String("/stock/7"));
  Add(&s, "url.query", AttributeValue::String("fresh=1"));
  otlp::FinishSpan(&s);
  EXPECT_EQ(s.http_url, "http://inventory:8080/stock/7?fresh=1");
  Doc doc(s);
  ASSERT_TRUE(doc.ok) << doc.json;
  EXPECT_EQ(doc.Str("/http/request/url"), "http://inventory:8080/stock/7?fresh=1");

  model::Span old = MakeSpan(SpanKind::kServer);
  Add(&old, "http.method", AttributeValue::String("POST"));
  Add(&old, "http.scheme", AttributeValue::String("https"));
  Add(&old, "net.host.name", AttributeValue::String("api.example.com"));
  Add(&old, "net.host.port", AttributeValue::Int(443));
  Add(&old, "http.target", AttributeValue::String("/orders?x=1"));
  otlp::FinishSpan(&old);
  EXPECT_EQ(old.http_url, "https://api.example.com/orders?x=1");
}

}  // namespace
}  // namespace waggle::codec::xray
