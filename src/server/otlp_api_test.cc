#include "server/otlp_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <zstd.h>

#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "codec/msgpack.h"
#include "codec/otlp/testing/proto_builder.h"
#include "codec/testing/deflate.h"

namespace waggle::server {
namespace {

// Records what it is asked to write; fails with `fail` when set. Single-threaded tests only.
class RecordingWriter : public storage::Writer {
 public:
  Status Write(const model::SpanBatch& batch, storage::Durability) override {
    if (!fail.ok()) return fail;
    model::SpanBatch whole = batch;  // the spans with every attribute, as a store keeps them
    whole.Materialize();
    spans.insert(spans.end(), whole.spans.begin(), whole.spans.end());
    return Status::Ok();
  }
  Status WriteLogs(const model::LogBatch& batch, storage::Durability) override {
    if (!fail.ok()) return fail;
    logs.insert(logs.end(), batch.records.begin(), batch.records.end());
    return Status::Ok();
  }
  Status fail;
  std::vector<model::Span> spans;
  std::vector<model::LogRecord> logs;
};

using Proto = codec::otlp::test_util::ProtoBuilder;

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

constexpr const char* kTrace = "5b8efff798038103d269b633813fc60c";
constexpr uint64_t kStartNs = 1795248000000000000;

// ExportTraceServiceRequest{resource_spans{resource{service.name}, scope_spans{spans{...}}}}.
std::string ProtoTraces(std::string_view trace_id_bytes, std::string_view service = "checkout") {
  Proto span;
  span.Bytes(1, trace_id_bytes)
      .Bytes(2, Unhex("eee19b7ec3c1b174"))
      .Bytes(5, "GET /cart")
      .Varint(6, 2)
      .Fixed64(7, kStartNs)
      .Fixed64(8, kStartNs + 250'000'000);
  Proto value;
  value.Bytes(1, service);
  Proto kv;
  kv.Bytes(1, "service.name").Message(2, value);
  Proto resource;
  resource.Message(1, kv);
  Proto scope_spans;
  scope_spans.Message(2, span);
  Proto resource_spans;
  resource_spans.Message(1, resource).Message(2, scope_spans);
  Proto request;
  request.Message(1, resource_spans);
  return request.data();
}

std::string ProtoTraces() { return ProtoTraces(Unhex(kTrace)); }

// A google.rpc.Status {int32 code = 1; string message = 2;} or an ExportTracePartialSuccess
// {int64 rejected_spans = 1; string error_message = 2;}: the same shape on the wire.
struct CodeAndMessage {
  bool ok = false;
  int64_t code = 0;
  std::string message;
};

bool ReadVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    *v |= uint64_t{b & 0x7fu} << shift;
    if (b < 0x80) return true;
  }
  return false;
}

CodeAndMessage DecodeCodeAndMessage(std::string_view in) {
  CodeAndMessage out;
  while (!in.empty()) {
    uint64_t tag, v;
    if (!ReadVarint(&in, &tag)) return out;
    if ((tag & 7) == 0) {
      if (!ReadVarint(&in, &v)) return out;
      if (tag >> 3 == 1) out.code = static_cast<int64_t>(v);
    } else if ((tag & 7) == 2) {
      if (!ReadVarint(&in, &v) || v > in.size()) return out;
      if (tag >> 3 == 2) out.message.assign(in.substr(0, v));
      in.remove_prefix(v);
    } else {
      return out;
    }
  }
  out.ok = true;
  return out;
}

using codec::testing::Gzip;

std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

std::string JsonSpan(const std::string& trace_id, const std::string& span_id,
                     const std::string& name) {
  return R"({"traceId":")" + trace_id + R"(","spanId":")" + span_id + R"(","name":")" + name +
         R"(","kind":2,"startTimeUnixNano":"1795248000000000000",)"
         R"("endTimeUnixNano":"1795248000250000000"})";
}

std::string JsonTraces(const std::vector<std::string>& spans) {
  std::string joined;
  for (const std::string& s : spans) {
    if (!joined.empty()) joined += ",";
    joined += s;
  }
  return R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":)"
         R"({"stringValue":"checkout"}}]},"scopeSpans":[{"scope":{"name":"lib"},"spans":[)" +
         joined + "]}]}]}";
}

std::string JsonTraces() { return JsonTraces({JsonSpan(kTrace, "eee19b7ec3c1b174", "a")}); }

constexpr const char* kJsonLogs =
    R"({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":)"
    R"({"stringValue":"checkout"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":)"
    R"("1795248000000000000","body":{"stringValue":"hello"},)"
    R"("traceId":"5b8efff798038103d269b633813fc60c"}]}]}]})";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// A response header by name (any case), or "<none>".
std::string ResponseHeader(const net::HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "<none>";
}

class OtlpApiTest : public testing::Test {
 protected:
  void SetUp() override { Make(); }

  void Make(ingest::OtlpIngestOptions ingest_options = {}, OtlpApi::Options api_options = {}) {
    api_.reset();
    ingester_ = std::make_unique<ingest::OtlpIngester>(ingest_options, &writer_, &counters_);
    api_ = std::make_unique<OtlpApi>(api_options, ingester_.get());
  }

  net::HttpResponse Send(const std::string& method, const std::string& path,
                         const std::string& content_type, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::HttpRequest r;
    r.method = method;
    r.path = r.target = path;
    if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
    for (auto& h : headers) r.headers.push_back(std::move(h));
    r.body = std::move(body);
    return api_->Handle(r);
  }
  net::HttpResponse Post(const std::string& path, const std::string& content_type, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    return Send("POST", path, content_type, std::move(body), std::move(headers));
  }

  // Parses a JSON body; the element lives until the next call.
  simdjson::dom::element Json(const std::string& body) {
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(body).get(e), simdjson::SUCCESS) << body;
    return e;
  }
  std::string_view JsonString(const std::string& body, std::string_view pointer) {
    std::string_view s;
    if (Json(body).at_pointer(pointer).get(s) != simdjson::SUCCESS) return "<missing>";
    return s;
  }
  int64_t JsonInt(const std::string& body, std::string_view pointer) {
    int64_t n = -1;
    if (Json(body).at_pointer(pointer).get(n) != simdjson::SUCCESS) return -1;
    return n;
  }

  RecordingWriter writer_;
  ingest::OtlpCounters counters_;
  std::unique_ptr<ingest::OtlpIngester> ingester_;
  std::unique_ptr<OtlpApi> api_;
  simdjson::dom::parser parser_;
};

TEST_F(OtlpApiTest, JsonTracesAreStoredAndAnsweredWithAnEmptyObject) {
  net::HttpResponse r = Post("/v1/traces", "application/json", JsonTraces());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(r.content_type, "application/json");
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].trace_id.ToHex(), kTrace);
  EXPECT_EQ(writer_.spans[0].service, "checkout");
  EXPECT_EQ(writer_.spans[0].environment, "default");

  // Media-type parameters and case do not matter.
  r = Post("/v1/traces", "Application/JSON; charset=utf-8", JsonTraces());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  EXPECT_EQ(writer_.spans.size(), 2u);
}

TEST_F(OtlpApiTest, ProtobufTracesAreAnsweredWithAnEmptyProtobufMessage) {
  for (const char* type : {"application/x-protobuf", "application/protobuf"}) {
    SCOPED_TRACE(type);
    writer_.spans.clear();
    net::HttpResponse r = Post("/v1/traces", type, ProtoTraces());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.content_type, "application/x-protobuf");
    ASSERT_EQ(writer_.spans.size(), 1u);
    const model::Span& s = writer_.spans[0];
    EXPECT_EQ(s.trace_id.ToHex(), kTrace);
    EXPECT_EQ(s.span_id.ToHex(), "eee19b7ec3c1b174");
    EXPECT_EQ(s.name, "GET /cart");
    EXPECT_EQ(s.kind, model::SpanKind::kServer);
    EXPECT_EQ(s.service, "checkout");
    EXPECT_EQ(s.start_ns, static_cast<int64_t>(kStartNs));
    EXPECT_EQ(s.end_ns, static_cast<int64_t>(kStartNs) + 250'000'000);
  }
  // An empty request is a valid, empty export.
  net::HttpResponse r = Post("/v1/traces", "application/x-protobuf", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(OtlpApiTest, LogsAreWrittenAsLogs) {
  net::HttpResponse r = Post("/v1/logs", "application/json", kJsonLogs);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  ASSERT_EQ(writer_.logs.size(), 1u);
  EXPECT_EQ(writer_.logs[0].body, "hello");
  EXPECT_TRUE(writer_.spans.empty());
}

TEST_F(OtlpApiTest, AnUnsupportedContentTypeIs415) {
  for (const char* type : {"text/plain", "", "application/xml", "application/grpc"}) {
    SCOPED_TRACE(type);
    net::HttpResponse r = Post("/v1/traces", type, JsonTraces());
    EXPECT_EQ(r.status, 415);
    EXPECT_NE(r.body.find("unsupported content-type"), std::string::npos) << r.body;
  }
  EXPECT_TRUE(writer_.spans.empty());
}

TEST_F(OtlpApiTest, GarbageProtobufIs400WithAProtobufStatus) {
  net::HttpResponse r = Post("/v1/traces", "application/x-protobuf", "\x0a\x64garbage");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  CodeAndMessage status = DecodeCodeAndMessage(r.body);
  ASSERT_TRUE(status.ok);
  EXPECT_EQ(status.code, 3);  // INVALID_ARGUMENT
  EXPECT_NE(status.message.find("failed to parse"), std::string::npos) << status.message;
  EXPECT_TRUE(writer_.spans.empty());
  EXPECT_EQ(counters_.requests_malformed.load(), 1u);
}

TEST_F(OtlpApiTest, GarbageJsonIs400WithAJsonStatus) {
  net::HttpResponse r = Post("/v1/traces", "application/json", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(JsonInt(r.body, "/code"), 3);
  EXPECT_NE(std::string(JsonString(r.body, "/message")).find("failed to parse"), std::string::npos)
      << r.body;
  EXPECT_TRUE(writer_.spans.empty());
}

TEST_F(OtlpApiTest, CompressedBodiesAreDecompressed) {
  net::HttpResponse r =
      Post("/v1/traces", "application/json", Gzip(JsonTraces()), {{"content-encoding", "gzip"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  r = Post("/v1/traces", "application/x-protobuf", Zstd(ProtoTraces()),
           {{"content-encoding", "zstd"}});
  EXPECT_EQ(r.status, 200) << r.body;
  r = Post("/v1/traces", "application/json", JsonTraces(), {{"content-encoding", "identity"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(writer_.spans.size(), 3u);
}

TEST_F(OtlpApiTest, ABodyOverTheLimitAfterDecompressionIs413) {
  Make({}, OtlpApi::Options{4096});
  const std::string big = JsonTraces() + std::string(10000, ' ');  // still valid JSON
  const std::string compressed = Gzip(big);
  ASSERT_LT(compressed.size(), 4096u);
  net::HttpResponse r =
      Post("/v1/traces", "application/json", compressed, {{"content-encoding", "gzip"}});
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(JsonInt(r.body, "/code"), 8);  // RESOURCE_EXHAUSTED
  // Uncompressed, the same limit.
  r = Post("/v1/traces", "application/json", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(writer_.spans.empty());
  EXPECT_EQ(counters_.requests_too_large.load(), 2u);
  // At the limit exactly it passes.
  const std::string exact = JsonTraces() + std::string(4096 - JsonTraces().size(), ' ');
  r = Post("/v1/traces", "application/json", Gzip(exact), {{"content-encoding", "gzip"}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(OtlpApiTest, AnUnknownContentEncodingIs400) {
  net::HttpResponse r =
      Post("/v1/traces", "application/json", JsonTraces(), {{"content-encoding", "br"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(std::string(JsonString(r.body, "/message")).find("br"), std::string::npos) << r.body;
  // A body that is not what its Content-Encoding says.
  r = Post("/v1/traces", "application/json", JsonTraces(), {{"content-encoding", "gzip"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(writer_.spans.empty());
}

TEST_F(OtlpApiTest, MethodsOtherThanPostAre405AndUnknownPaths404) {
  net::HttpResponse r = Send("GET", "/v1/traces", "", "");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(ResponseHeader(r, "Allow"), "POST");
  EXPECT_EQ(Send("PUT", "/v1/logs", "application/json", "{}").status, 405);
  EXPECT_EQ(Send("GET", "/1/batch/ds", "", "").status, 405);
  EXPECT_EQ(Post("/v2/traces", "application/json", JsonTraces()).status, 404);
  EXPECT_EQ(Post("/v1/traces/more", "application/json", JsonTraces()).status, 404);
  EXPECT_EQ(Post("/", "application/json", JsonTraces()).status, 404);
  EXPECT_TRUE(writer_.spans.empty());
}

TEST_F(OtlpApiTest, PartialSuccessNamesTheRejectedSpans) {
  net::HttpResponse r =
      Post("/v1/traces", "application/json",
           JsonTraces({JsonSpan(kTrace, "eee19b7ec3c1b174", "good"),
                       JsonSpan("00000000000000000000000000000000", "eee19b7ec3c1b175", "bad")}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(r.body, "/partialSuccess/rejectedSpans"), "1");  // int64 as a string
  EXPECT_FALSE(JsonString(r.body, "/partialSuccess/errorMessage").empty());
  EXPECT_NE(JsonString(r.body, "/partialSuccess/errorMessage"), "<missing>");
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].name, "good");

  // The same in protobuf: ExportTraceServiceResponse{partial_success{1, message}}.
  r = Post("/v1/traces", "application/x-protobuf", ProtoTraces("short"));
  EXPECT_EQ(r.status, 200);
  std::string_view body = r.body;
  uint64_t tag = 0, len = 0;
  ASSERT_TRUE(ReadVarint(&body, &tag));
  EXPECT_EQ(tag, (1u << 3) | 2u);
  ASSERT_TRUE(ReadVarint(&body, &len));
  ASSERT_EQ(len, body.size());
  CodeAndMessage partial = DecodeCodeAndMessage(body);
  ASSERT_TRUE(partial.ok);
  EXPECT_EQ(partial.code, 1);  // rejected_spans
  EXPECT_FALSE(partial.message.empty());
}

TEST_F(OtlpApiTest, WithKeysConfiguredAMissingKeyIs401WithAStatusBody) {
  ingest::OtlpIngestOptions options;
  options.api_keys = {{"key-1", "prod"}};
  Make(options);
  net::HttpResponse r = Post("/v1/traces", "application/json", JsonTraces());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(JsonInt(r.body, "/code"), 16);  // UNAUTHENTICATED
  EXPECT_NE(std::string(JsonString(r.body, "/message")).find("x-honeycomb-team"), std::string::npos)
      << r.body;
  r = Post("/v1/traces", "application/x-protobuf", ProtoTraces(), {{"x-honeycomb-team", "key-2"}});
  EXPECT_EQ(r.status, 401);
  CodeAndMessage status = DecodeCodeAndMessage(r.body);
  ASSERT_TRUE(status.ok);
  EXPECT_EQ(status.code, 16);
  EXPECT_TRUE(writer_.spans.empty());

  r = Post("/v1/traces", "application/json", JsonTraces(), {{"x-honeycomb-team", "key-1"}});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].environment, "prod");
}

TEST_F(OtlpApiTest, AClassicKeyWithoutADatasetIs401) {
  ingest::OtlpIngestOptions options;
  options.api_keys = {{"0123456789abcdef0123456789abcdef", "classic"}};
  Make(options);
  net::HttpResponse r = Post("/v1/traces", "application/json", JsonTraces(),
                             {{"x-honeycomb-team", "0123456789abcdef0123456789abcdef"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(std::string(JsonString(r.body, "/message")).find("x-honeycomb-dataset"),
            std::string::npos);
  r = Post(
      "/v1/traces", "application/json", JsonTraces(),
      {{"x-honeycomb-team", "0123456789abcdef0123456789abcdef"}, {"x-honeycomb-dataset", "my-ds"}});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].dataset, "my-ds");
}

TEST_F(OtlpApiTest, BatchEventsAreStoredInTheirDataset) {
  net::HttpResponse r = Post("/1/batch/ds", "application/json",
                             R"([{"data":{"name":"a","duration_ms":5},"samplerate":2},)"
                             R"({"time":"2026-11-21T08:00:00Z"},{"data":{"name":"b"}}])");
  EXPECT_EQ(r.status, 200) << r.body;
  simdjson::dom::array statuses;
  ASSERT_EQ(Json(r.body).get(statuses), simdjson::SUCCESS) << r.body;
  ASSERT_EQ(statuses.size(), 3u);
  int64_t status = 0;
  ASSERT_EQ(statuses.at(0)["status"].get(status), simdjson::SUCCESS);
  EXPECT_EQ(status, 202);
  ASSERT_EQ(statuses.at(1)["status"].get(status), simdjson::SUCCESS);
  EXPECT_EQ(status, 400);
  std::string_view error;
  EXPECT_EQ(statuses.at(1)["error"].get(error), simdjson::SUCCESS);
  EXPECT_FALSE(error.empty());
  ASSERT_EQ(statuses.at(2)["status"].get(status), simdjson::SUCCESS);
  EXPECT_EQ(status, 202);
  EXPECT_NE(statuses.at(0)["error"].error(), simdjson::SUCCESS);  // only on failures

  ASSERT_EQ(writer_.spans.size(), 2u);
  EXPECT_EQ(writer_.spans[0].service, "ds");
  EXPECT_EQ(writer_.spans[0].name, "a");
  EXPECT_EQ(writer_.spans[0].sample_rate, 2u);
  EXPECT_EQ(writer_.spans[1].service, "ds");

  // The dataset is percent-decoded; the body may be compressed.
  r = Post("/1/batch/my%20ds", "application/json", Gzip(R"([{"data":{"name":"c"}}])"),
           {{"content-encoding", "gzip"}});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(writer_.spans.size(), 3u);
  EXPECT_EQ(writer_.spans[2].service, "my ds");

  // No dataset, or a body that is not an array.
  EXPECT_EQ(Post("/1/batch/", "application/json", "[]").status, 404);
  r = Post("/1/batch/ds", "application/json", R"({"data":{}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(JsonString(r.body, "/error"), "<missing>") << r.body;
}

// A batch's answer in MessagePack: each event's status, and its error when it has one.
std::vector<std::pair<int64_t, std::string>> MsgpackStatuses(std::string_view body) {
  std::vector<std::pair<int64_t, std::string>> out;
  codec::msgpack::Reader r(body);
  codec::msgpack::Value array, k, v;
  if (!r.Next(&array) || array.type != codec::msgpack::Type::kArray) return out;
  for (uint32_t i = 0; i < array.count; ++i) {
    codec::msgpack::Value map;
    if (!r.Next(&map) || map.type != codec::msgpack::Type::kMap) return {};
    auto& [status, error] = out.emplace_back(-1, "");
    for (uint32_t j = 0; j < map.count; ++j) {
      if (!r.Next(&k) || !r.Next(&v)) return {};
      if (k.bytes == "status") v.AsInt64(&status);
      if (k.bytes == "error") error = std::string(v.bytes);
    }
  }
  return r.done() ? out : decltype(out){};
}

TEST_F(OtlpApiTest, MsgpackBatchesAsLibhoneyGoSendsThemAreAnsweredInMsgpack) {
  // [{"time": <timestamp ext -1>, "samplerate": 4, "data": {"name": "mp", "n": 7}}, 5]
  std::string body;
  codec::msgpack::PutArrayHeader(&body, 2);
  codec::msgpack::PutMapHeader(&body, 3);
  codec::msgpack::PutString(&body, "time");
  body += std::string("\xc7\x0c\xff\x00\x00\x00\x00", 7);  // 12 bytes: 0 ns, then the seconds
  for (int k = 7; k >= 0; --k)
    body.push_back(static_cast<char>((kStartNs / 1000000000) >> (8 * k)));
  codec::msgpack::PutString(&body, "samplerate");
  codec::msgpack::PutInt(&body, 4);
  codec::msgpack::PutString(&body, "data");
  codec::msgpack::PutMapHeader(&body, 2);
  codec::msgpack::PutString(&body, "name");
  codec::msgpack::PutString(&body, "mp");
  codec::msgpack::PutString(&body, "n");
  codec::msgpack::PutInt(&body, 7);
  codec::msgpack::PutInt(&body, 5);

  net::HttpResponse r =
      Post("/1/batch/ds", "application/msgpack", Zstd(body), {{"content-encoding", "zstd"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/msgpack");
  const auto statuses = MsgpackStatuses(r.body);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0], std::make_pair(int64_t{202}, std::string()));
  EXPECT_EQ(statuses[1], std::make_pair(int64_t{400}, std::string("event must be a map")));
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].name, "mp");
  EXPECT_EQ(writer_.spans[0].service, "ds");
  EXPECT_EQ(writer_.spans[0].sample_rate, 4u);
  EXPECT_EQ(writer_.spans[0].start_ns, static_cast<int64_t>(kStartNs / 1000000000 * 1000000000));
  const model::Attribute* n = model::FindAttribute(writer_.spans[0].attributes, "n");
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->value, model::AttributeValue::Int(7));

  // A body that is not MessagePack is refused whole, in MessagePack: {"error": ...}.
  r = Post("/1/batch/ds", "application/msgpack", body.substr(0, body.size() - 3));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/msgpack");
  codec::msgpack::Reader err(r.body);
  codec::msgpack::Value v;
  ASSERT_TRUE(err.Next(&v));
  EXPECT_EQ(v.type, codec::msgpack::Type::kMap);
  ASSERT_TRUE(err.Next(&v));
  EXPECT_EQ(v.bytes, "error");
  ASSERT_TRUE(err.Next(&v));
  EXPECT_EQ(v.bytes, "Request body is malformed and cannot be read.");
  EXPECT_EQ(writer_.spans.size(), 1u);

  // The same body sent as JSON is malformed JSON; a JSON batch still answers in JSON.
  EXPECT_EQ(Post("/1/batch/ds", "application/json", body).status, 400);
  r = Post("/1/batch/ds", "application/x-msgpack; charset=binary", body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(MsgpackStatuses(r.body).size(), 2u);
  EXPECT_EQ(writer_.spans.size(), 2u);
}

TEST_F(OtlpApiTest, SingleEventsUseTheTimeAndSampleRateHeaders) {
  net::HttpResponse r =
      Post("/1/events/ds", "application/json", R"({"name":"one"})",
           {{"x-honeycomb-event-time", "2026-11-21T08:00:00Z"}, {"x-honeycomb-samplerate", "3"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.body.empty());
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].name, "one");
  EXPECT_EQ(writer_.spans[0].service, "ds");
  EXPECT_EQ(writer_.spans[0].start_ns, static_cast<int64_t>(kStartNs));
  EXPECT_EQ(writer_.spans[0].sample_rate, 3u);

  r = Post("/1/events/ds", "application/json", R"({"name":"one"})",
           {{"x-honeycomb-samplerate", "many"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(writer_.spans.size(), 1u);
}

TEST_F(OtlpApiTest, EventsWithABadKeyAre401) {
  ingest::OtlpIngestOptions options;
  options.api_keys = {{"key-1", "prod"}};
  Make(options);
  net::HttpResponse r = Post("/1/batch/ds", "application/json", R"([{"data":{"name":"a"}}])",
                             {{"x-honeycomb-team", "wrong"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(JsonString(r.body, "/error"), "<missing>") << r.body;
  r = Post("/1/events/ds", "application/json", R"({"name":"a"})");
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(writer_.spans.empty());
  r = Post("/1/batch/ds", "application/json", R"([{"data":{"name":"a"}}])",
           {{"x-honeycomb-team", "key-1"}});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].environment, "prod");
}

TEST_F(OtlpApiTest, AuthNamesTheEnvironmentOfAKeyAndRefusesAnUnknownOne) {
  ingest::OtlpIngestOptions options;
  options.api_keys = {{"key-1", "Prod EU (main)"},
                      {"0123456789abcdef0123456789abcdef", "classic-env"}};
  Make(options);
  net::HttpResponse r = Send("GET", "/1/auth", "", "", {{"x-honeycomb-team", "key-1"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(JsonString(r.body, "/environment/name"), "Prod EU (main)");
  EXPECT_EQ(JsonString(r.body, "/environment/slug"), "prod-eu-main");
  EXPECT_EQ(JsonString(r.body, "/team/slug"), "waggle");
  EXPECT_EQ(JsonString(r.body, "/type"), "ingest");
  bool events = false, create_datasets = false, markers = true;
  ASSERT_EQ(Json(r.body).at_pointer("/api_key_access/events").get(events), simdjson::SUCCESS);
  ASSERT_EQ(Json(r.body).at_pointer("/api_key_access/create_datasets").get(create_datasets),
            simdjson::SUCCESS);
  ASSERT_EQ(Json(r.body).at_pointer("/api_key_access/markers").get(markers), simdjson::SUCCESS);
  EXPECT_TRUE(events);
  EXPECT_TRUE(create_datasets);
  EXPECT_FALSE(markers);  // no configuration API is served for a key

  // A classic key has no environment, as Honeycomb answers for one.
  r = Send("GET", "/1/auth", "", "", {{"x-honeycomb-team", "0123456789abcdef0123456789abcdef"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(r.body, "/environment/name"), "");
  EXPECT_EQ(JsonString(r.body, "/environment/slug"), "");

  const uint64_t unauthenticated = counters_.requests_unauthenticated.load();
  r = Send("GET", "/1/auth", "", "", {{"x-honeycomb-team", "key-2"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(JsonString(r.body, "/error"), "unknown API key - check your credentials");
  r = Send("GET", "/1/auth", "", "");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(counters_.requests_unauthenticated.load(), unauthenticated + 2);

  r = Post("/1/auth", "application/json", "{}", {{"x-honeycomb-team", "key-1"}});
  EXPECT_EQ(r.status, 405);
  EXPECT_NE(JsonString(r.body, "/error"), "<missing>") << r.body;
}

TEST_F(OtlpApiTest, WithNoKeysConfiguredAuthAnswersForTheDefaultEnvironment) {
  net::HttpResponse r = Send("GET", "/1/auth", "", "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonString(r.body, "/environment/name"), "default");
  EXPECT_EQ(JsonString(r.body, "/environment/slug"), "default");
}

TEST_F(OtlpApiTest, CorsPreflightIsAnswered) {
  net::HttpResponse r =
      Send("OPTIONS", "/v1/traces", "", "",
           {{"origin", "https://app.example"}, {"access-control-request-method", "POST"}});
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(ResponseHeader(r, "Access-Control-Allow-Origin"), "https://app.example");
  const std::string methods = ResponseHeader(r, "Access-Control-Allow-Methods");
  EXPECT_NE(methods.find("POST"), std::string::npos) << methods;
  std::string allowed = ResponseHeader(r, "Access-Control-Allow-Headers");
  for (char& c : allowed) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_NE(allowed.find("content-type"), std::string::npos) << allowed;
  EXPECT_NE(allowed.find("x-honeycomb-team"), std::string::npos) << allowed;

  // The actual request carries the origin back too.
  r = Post("/v1/traces", "application/json", JsonTraces(), {{"origin", "https://app.example"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(ResponseHeader(r, "Access-Control-Allow-Origin"), "https://app.example");
  // Without an Origin, no CORS headers.
  r = Post("/v1/traces", "application/json", JsonTraces());
  EXPECT_EQ(ResponseHeader(r, "Access-Control-Allow-Origin"), "<none>");
}

TEST_F(OtlpApiTest, AnExhaustedMemoryBudgetIs503WithRetryAfter) {
  ingest::OtlpIngestOptions options;
  options.memory_budget_bytes = 1 << 20;
  Make(options);
  {
    auto held = ingester_->Reserve(1 << 20);
    ASSERT_TRUE(held.ok());
    net::HttpResponse r = Post("/v1/traces", "application/json", JsonTraces());
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(ResponseHeader(r, "Retry-After"), "<none>");
    EXPECT_EQ(JsonInt(r.body, "/code"), 14);  // UNAVAILABLE
    r = Post("/v1/traces", "application/x-protobuf", ProtoTraces());
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(DecodeCodeAndMessage(r.body).code, 14);
    r = Post("/1/batch/ds", "application/json", R"([{"data":{"name":"a"}}])");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(ResponseHeader(r, "Retry-After"), "<none>");
    EXPECT_TRUE(writer_.spans.empty());
    EXPECT_EQ(counters_.requests_shed.load(), 3u);
  }
  EXPECT_EQ(Post("/v1/traces", "application/json", JsonTraces()).status, 200);
}

TEST_F(OtlpApiTest, AStoreOverItsBudgetIs503WithRetryAfter) {
  writer_.fail = Status::ResourceExhausted("store over budget");
  net::HttpResponse r = Post("/v1/traces", "application/json", JsonTraces());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(ResponseHeader(r, "Retry-After"), "<none>");
  r = Post("/1/batch/ds", "application/json", R"([{"data":{"name":"a"}}])");
  EXPECT_EQ(r.status, 503) << r.body;
}

// spec/otlp.md §1.2/§2.6: overload must be retryable (429/503). A log store shedding load must
// not answer 413, which clients drop without retrying.
TEST_F(OtlpApiTest, ALogStoreOverItsBudgetIs503) {
  writer_.fail = Status::ResourceExhausted("store over budget");
  net::HttpResponse r = Post("/v1/logs", "application/json", kJsonLogs);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(ResponseHeader(r, "Retry-After"), "<none>");
}

TEST_F(OtlpApiTest, GrpcCallsAreRoutedByMethod) {
  net::GrpcCall call;
  call.method = "/opentelemetry.proto.collector.metrics.v2.MetricsService/Export";
  const std::string message = ProtoTraces();
  call.message = message;
  net::GrpcReply reply = api_->HandleGrpc(call);
  EXPECT_EQ(reply.code, 12);  // UNIMPLEMENTED
  EXPECT_FALSE(reply.message.empty());
  EXPECT_TRUE(writer_.spans.empty());

  call.method = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  reply = api_->HandleGrpc(call);
  EXPECT_EQ(reply.code, 0) << reply.message;
  EXPECT_TRUE(reply.body.empty());
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].name, "GET /cart");

  const std::string garbage = "\x0a\x64garbage";
  call.message = garbage;
  reply = api_->HandleGrpc(call);
  EXPECT_EQ(reply.code, 3);  // INVALID_ARGUMENT
  EXPECT_EQ(writer_.spans.size(), 1u);
}

TEST_F(OtlpApiTest, GrpcCallsAreAuthenticatedByMetadata) {
  ingest::OtlpIngestOptions options;
  options.api_keys = {{"key-1", "prod"}};
  Make(options);
  net::GrpcCall call;
  call.method = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
  const std::string message = ProtoTraces();
  call.message = message;
  EXPECT_EQ(api_->HandleGrpc(call).code, 16);  // UNAUTHENTICATED
  call.metadata.emplace_back("x-honeycomb-team", "key-1");
  net::GrpcReply reply = api_->HandleGrpc(call);
  EXPECT_EQ(reply.code, 0) << reply.message;
  ASSERT_EQ(writer_.spans.size(), 1u);
  EXPECT_EQ(writer_.spans[0].environment, "prod");
}

}  // namespace
}  // namespace waggle::server
