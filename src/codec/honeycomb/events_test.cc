#include "codec/honeycomb/events.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "codec/msgpack.h"
#include "model/attribute.h"

namespace waggle::codec::honeycomb {
namespace {

using model::AttributeValue;

constexpr int64_t kSecond = 1'000'000'000;
// 2026-11-21T08:00:00Z.
constexpr int64_t k0800 = 1795248000LL * kSecond;
// The receive time: the default timestamp of an event that names none.
constexpr int64_t kNow = 1795250000LL * kSecond;

EventOptions Options() {
  EventOptions o;
  o.dataset = "ds";
  o.environment = "prod";
  o.now_ns = kNow;
  o.seed = 42;
  return o;
}

// The value of the span's attribute `key`; nullopt when it has none.
std::optional<AttributeValue> Attr(const model::Span& s, std::string_view key) {
  const model::Attribute* a = model::FindAttribute(s.attributes, key);
  return a ? std::optional<AttributeValue>(a->value) : std::nullopt;
}

// A libhoney event with a parent, every kind of value, a time and a sample rate (what
// LibhoneyGoEvent below writes in MessagePack).
constexpr std::string_view kGetUsersEvent = R"(
    {"data":{"trace.trace_id":"5b8efff798038103d269b633813fc60c",
             "trace.span_id":"eee19b7ec3c1b174","trace.parent_id":"eee19b7ec3c1b173",
             "name":"GET /users","service.name":"api","duration_ms":250.5,
             "http.route":"/users","count":3,"ratio":0.25,"ok":true,"tags":{"a":[1,2]},
             "gone":null},
     "time":"2026-11-21T08:00:00.123Z","samplerate":5})";

struct Decoded {
  Status status;
  model::SpanBatch batch;
  std::vector<EventStatus> statuses;
};

Decoded Batch(std::string_view body, const EventOptions& options = Options()) {
  Decoded d;
  d.status = DecodeBatch(body, options, &d.batch, &d.statuses);
  return d;
}

TEST(DecodeBatch, LibhoneyEventsBecomeSpans) {
  Decoded d = Batch("[" + std::string(kGetUsersEvent) + R"(,
    {"data":{"trace.trace_id":"5b8efff798038103d269b633813fc60c",
             "trace.span_id":"eee19b7ec3c1b173","name":"root","duration_ms":1000},
     "time":"2026-11-21T08:00:00Z"}
  ])");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.statuses.size(), 2u);
  for (const EventStatus& s : d.statuses) {
    EXPECT_EQ(s.status, 202);
    EXPECT_TRUE(s.error.empty());
  }
  ASSERT_EQ(d.batch.spans.size(), 2u);

  const model::Span& child = d.batch.spans[0];
  EXPECT_EQ(child.trace_id.ToHex(), "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(child.span_id.ToHex(), "eee19b7ec3c1b174");
  EXPECT_EQ(child.parent_span_id.ToHex(), "eee19b7ec3c1b173");
  EXPECT_EQ(child.name, "GET /users");
  EXPECT_EQ(child.service, "api");
  EXPECT_EQ(child.environment, "prod");
  EXPECT_EQ(child.start_ns, k0800 + 123'000'000);
  EXPECT_EQ(child.end_ns, child.start_ns + 250'500'000);
  EXPECT_EQ(child.sample_rate, 5u);
  EXPECT_EQ(child.http_route, "/users");
  EXPECT_EQ(Attr(child, "http.route"), AttributeValue::String("/users"));
  EXPECT_EQ(Attr(child, "count"), AttributeValue::Int(3));
  EXPECT_EQ(Attr(child, "ratio"), AttributeValue::Double(0.25));
  EXPECT_EQ(Attr(child, "ok"), AttributeValue::Bool(true));
  EXPECT_EQ(Attr(child, "tags"), AttributeValue::Json(R"({"a":[1,2]})"));
  ASSERT_NE(Attr(child, "service.name"), std::nullopt);
  EXPECT_EQ(Attr(child, "gone"), std::nullopt);  // null fields are dropped
  // The fields that became the span's own are not repeated as attributes.
  EXPECT_EQ(Attr(child, "trace.trace_id"), std::nullopt);
  EXPECT_EQ(Attr(child, "trace.span_id"), std::nullopt);
  EXPECT_EQ(Attr(child, "trace.parent_id"), std::nullopt);
  EXPECT_EQ(Attr(child, "name"), std::nullopt);

  const model::Span& root = d.batch.spans[1];
  EXPECT_EQ(root.trace_id, child.trace_id);
  EXPECT_EQ(root.span_id.ToHex(), "eee19b7ec3c1b173");
  EXPECT_TRUE(root.parent_span_id.IsZero());
  EXPECT_EQ(root.name, "root");
  EXPECT_EQ(root.service, "ds");  // no service.name: the dataset
  EXPECT_EQ(root.start_ns, k0800);
  EXPECT_EQ(root.end_ns, k0800 + kSecond);
  EXPECT_EQ(root.sample_rate, 1u);  // libhoney omits samplerate 1
}

TEST(DecodeBatch, BadEventsGet400InPlaceAndTheRestAreStored) {
  Decoded d = Batch(R"([
    {"data":{"name":"a"}},
    {"time":"2026-11-21T08:00:00Z","samplerate":2},
    5,
    "event",
    {"data":{"name":"b"},"time":"yesterday"},
    {"data":[1,2]},
    {"data":{"name":"c"}}
  ])");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.statuses.size(), 7u);
  const int want[] = {202, 400, 400, 400, 400, 400, 202};
  for (size_t i = 0; i < 7; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(d.statuses[i].status, want[i]);
    EXPECT_EQ(d.statuses[i].error.empty(), want[i] == 202) << d.statuses[i].error;
  }
  ASSERT_EQ(d.batch.spans.size(), 2u);
  EXPECT_EQ(d.batch.spans[0].name, "a");
  EXPECT_EQ(d.batch.spans[1].name, "c");
  // No time: the receive time.
  EXPECT_EQ(d.batch.spans[0].start_ns, kNow);
  EXPECT_EQ(d.batch.spans[0].end_ns, kNow);
}

TEST(DecodeBatch, ABodyThatIsNotAJsonArrayIsInvalidArgument) {
  for (std::string_view body :
       {std::string_view(R"({"data":{"name":"a"}})"), std::string_view("not json"),
        std::string_view(""), std::string_view("[{\"data\":{}}"), std::string_view("42")}) {
    SCOPED_TRACE(body);
    Decoded d = Batch(body);
    EXPECT_EQ(d.status.code(), Status::Code::kInvalidArgument);
    EXPECT_TRUE(d.batch.spans.empty());
    EXPECT_TRUE(d.statuses.empty());
  }
}

// libhoney-js sends JSON.stringify's text: a string cut through a surrogate pair is a lone \u
// escape, which Honeycomb reads as U+FFFD.
TEST(DecodeBatch, LoneSurrogateEscapesAreReadAsReplacementCharactersAndCounted) {
  EventOptions options = Options();
  uint64_t repairs = 0;
  options.text_repairs = &repairs;
  Decoded d =
      Batch(R"([{"data":{"name":"op","note\udc4d":"cut \ud83d"}},{"data":{"name":"b"}}])", options);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.batch.spans.size(), 2u);
  EXPECT_EQ(Attr(d.batch.spans[0], "note\xef\xbf\xbd"), AttributeValue::String("cut \xef\xbf\xbd"));
  EXPECT_EQ(repairs, 2u);
  model::SpanBatch batch;
  ASSERT_TRUE(DecodeEvent("{\"name\":\"op\xff\"}", "", "", options, &batch).ok());
  ASSERT_EQ(batch.spans.size(), 1u);
  EXPECT_EQ(batch.spans[0].name, "op\xef\xbf\xbd");
  EXPECT_EQ(repairs, 3u);
  // Refused bodies count nothing.
  EXPECT_FALSE(Batch(R"([{"data":{"name":"\ud83d"}})", options).status.ok());
  EXPECT_FALSE(DecodeEvent(R"({"name":"\ud83d"})", "tomorrow", "", options, &batch).ok());
  EXPECT_EQ(repairs, 3u);
}

TEST(DecodeBatch, AnEmptyArrayIsNoEvents) {
  Decoded d = Batch("[]");
  ASSERT_TRUE(d.status.ok());
  EXPECT_TRUE(d.statuses.empty());
  EXPECT_TRUE(d.batch.spans.empty());
}

TEST(DecodeBatch, TimeMayBeEpochSecondsAsANumber) {
  Decoded d = Batch(R"([{"data":{"name":"x"},"time":1795248000.5},
                        {"data":{"name":"y"},"time":1795248000},
                        {"data":{"name":"z"},"time":null}])");
  ASSERT_TRUE(d.status.ok());
  ASSERT_EQ(d.batch.spans.size(), 3u);
  EXPECT_EQ(d.batch.spans[0].start_ns, k0800 + kSecond / 2);
  EXPECT_EQ(d.batch.spans[1].start_ns, k0800);
  EXPECT_EQ(d.batch.spans[2].start_ns, kNow);
}

TEST(DecodeBatch, SampleRateIsAtLeastOneAndRounded) {
  Decoded d = Batch(R"([{"data":{"name":"a"},"samplerate":0},
                        {"data":{"name":"b"},"samplerate":-3},
                        {"data":{"name":"c"},"samplerate":2.6},
                        {"data":{"name":"d"},"samplerate":100}])");
  ASSERT_TRUE(d.status.ok());
  ASSERT_EQ(d.batch.spans.size(), 4u);
  EXPECT_EQ(d.batch.spans[0].sample_rate, 1u);
  EXPECT_EQ(d.batch.spans[1].sample_rate, 1u);
  EXPECT_EQ(d.batch.spans[2].sample_rate, 3u);
  EXPECT_EQ(d.batch.spans[3].sample_rate, 100u);
}

TEST(DecodeBatch, EventsWithoutTraceIdsGetDistinctIdsPrefixedWithTheirEpochSeconds) {
  Decoded d = Batch(R"([
    {"data":{"name":"a"},"time":"2026-11-21T08:00:00Z"},
    {"data":{"name":"b"},"time":"2026-11-21T08:00:00Z"},
    {"data":{"name":"c"},"time":"2026-11-21T08:00:00.999Z"},
    {"data":{"name":"d","trace.trace_id":"not hex","trace.span_id":"0000000000000000"},
     "time":"2026-11-21T08:00:00Z"}
  ])");
  ASSERT_TRUE(d.status.ok());
  ASSERT_EQ(d.batch.spans.size(), 4u);
  std::set<model::TraceId> traces;
  std::set<uint64_t> spans;
  for (const model::Span& s : d.batch.spans) {
    SCOPED_TRACE(s.name);
    EXPECT_FALSE(s.trace_id.IsZero());
    EXPECT_FALSE(s.span_id.IsZero());
    EXPECT_TRUE(s.parent_span_id.IsZero());
    EXPECT_EQ(s.trace_id.XRayEpochSeconds(), 1795248000u);
    traces.insert(s.trace_id);
    spans.insert(s.span_id.value);
  }
  EXPECT_EQ(traces.size(), 4u);
  EXPECT_EQ(spans.size(), 4u);
}

TEST(DecodeBatch, A64BitTraceIdIsZeroPaddedOnTheLeft) {
  Decoded d = Batch(
      R"([{"data":{"trace.trace_id":"D269B633813FC60C","trace.span_id":"EEE19B7EC3C1B174"}}])");
  ASSERT_EQ(d.batch.spans.size(), 1u);
  EXPECT_EQ(d.batch.spans[0].trace_id.ToHex(), "0000000000000000d269b633813fc60c");
  EXPECT_EQ(d.batch.spans[0].span_id.ToHex(), "eee19b7ec3c1b174");
  EXPECT_EQ(d.batch.spans[0].name, "ds");  // no name: the dataset
}

TEST(DecodeBatch, ErrorAndKindFieldsSetTheSpanStatusAndKind) {
  Decoded d = Batch(R"([{"data":{"name":"a","error":true,"span.kind":"client",
                                 "status_message":"boom","http.status_code":503}}])");
  ASSERT_EQ(d.batch.spans.size(), 1u);
  const model::Span& s = d.batch.spans[0];
  EXPECT_EQ(s.kind, model::SpanKind::kClient);
  EXPECT_EQ(s.otel_status, 2);
  EXPECT_EQ(s.status_message, "boom");
  EXPECT_EQ(s.http_status, 503);
  EXPECT_TRUE(s.status_flags & model::kStatusFault);
}

// spec/honeycomb.md §2.1: POST /1/batch/{dataset} puts every event in {dataset}. An event whose
// fields name a service.name other than the dataset still belongs to that dataset
// (model::Span::dataset holds it when it is not the service).
TEST(DecodeBatch, AnEventNamingAServiceStaysInTheUrlDataset) {
  Decoded d = Batch(R"([{"data":{"name":"a","service.name":"api"}}])");
  ASSERT_EQ(d.batch.spans.size(), 1u);
  EXPECT_EQ(d.batch.spans[0].service, "api");
  EXPECT_EQ(d.batch.spans[0].dataset, "ds");
}

// A duration whose end would not fit in int64 ns (about the year 2262) is that event's 400;
// its neighbours are kept, and long durations that fit are kept whole.
TEST(DecodeBatch, ADurationPastTheLastTimeIsThatEventsError) {
  Decoded d = Batch(R"([{"data":{"name":"a","duration_ms":1e300}},
                        {"data":{"name":"b","duration_ms":1e9}},
                        {"data":{"name":"c","duration_ms":1000},"time":"2262-04-11T23:47:16Z"},
                        {"data":{"name":"d","duration_ms":5e12}}])");
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.statuses.size(), 4u);
  EXPECT_EQ(d.statuses[0].status, 400);
  EXPECT_EQ(d.statuses[0].error, "duration_ms is out of range");
  EXPECT_EQ(d.statuses[1].status, 202);
  EXPECT_EQ(d.statuses[2].status, 400);  // starts 0.85 s before the last time, lasts 1 s
  EXPECT_EQ(d.statuses[2].error, "duration_ms is out of range");
  EXPECT_EQ(d.statuses[3].status, 202);  // 158 years after now: still fits
  ASSERT_EQ(d.batch.spans.size(), 2u);
  EXPECT_EQ(d.batch.spans[0].name, "b");
  EXPECT_EQ(d.batch.spans[0].end_ns - d.batch.spans[0].start_ns, 1'000'000'000'000'000);
  EXPECT_EQ(d.batch.spans[1].end_ns - d.batch.spans[1].start_ns, 5'000'000'000'000'000'000);

  model::SpanBatch batch;
  const Status s = DecodeEvent(R"({"name":"op","duration_ms":1e300})", "", "", Options(), &batch);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "duration_ms is out of range");
  EXPECT_TRUE(batch.spans.empty());
}

TEST(DecodeEvent, TimeAndSampleRateComeFromTheHeaders) {
  model::SpanBatch batch;
  Status s = DecodeEvent(R"({"name":"op","duration_ms":12.5,"user":"u1"})",
                         "2026-11-21T10:00:00.5+02:00", "10", Options(), &batch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(batch.spans.size(), 1u);
  const model::Span& span = batch.spans[0];
  EXPECT_EQ(span.name, "op");
  EXPECT_EQ(span.service, "ds");
  EXPECT_EQ(span.environment, "prod");
  EXPECT_EQ(span.start_ns, k0800 + kSecond / 2);
  EXPECT_EQ(span.end_ns, span.start_ns + 12'500'000);
  EXPECT_EQ(span.sample_rate, 10u);
  EXPECT_EQ(span.trace_id.XRayEpochSeconds(), 1795248000u);
  ASSERT_NE(Attr(span, "user"), std::nullopt);

  // Epoch seconds work as the header too; no headers: now and 1.
  batch.spans.clear();
  ASSERT_TRUE(DecodeEvent(R"({"name":"op"})", "1795248000", "", Options(), &batch).ok());
  EXPECT_EQ(batch.spans[0].start_ns, k0800);
  EXPECT_EQ(batch.spans[0].sample_rate, 1u);
  batch.spans.clear();
  ASSERT_TRUE(DecodeEvent(R"({"name":"op"})", "", "", Options(), &batch).ok());
  EXPECT_EQ(batch.spans[0].start_ns, kNow);
}

TEST(DecodeEvent, BadHeadersAndBodiesAreInvalidArgument) {
  model::SpanBatch batch;
  EXPECT_EQ(DecodeEvent(R"({"name":"op"})", "tomorrow", "", Options(), &batch).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(DecodeEvent(R"({"name":"op"})", "", "ten", Options(), &batch).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(DecodeEvent(R"({"name":"op"})", "", "2.5", Options(), &batch).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(DecodeEvent("[1,2]", "", "", Options(), &batch).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(DecodeEvent("{not json", "", "", Options(), &batch).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(batch.spans.empty());
}

// MessagePack bodies, built a value at a time, as libhoney-go's encoder lays them out.
class Mp {
 public:
  Mp& Array(uint32_t n) { return msgpack::PutArrayHeader(&out_, n), *this; }
  Mp& Map(uint32_t n) { return msgpack::PutMapHeader(&out_, n), *this; }
  Mp& Str(std::string_view s) { return msgpack::PutString(&out_, s), *this; }
  Mp& Int(int64_t v) { return msgpack::PutInt(&out_, v), *this; }
  Mp& Uint64(uint64_t v) { return Byte(0xcf).BigEndian(v, 8); }
  Mp& Float64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    return Byte(0xcb).BigEndian(bits, 8);
  }
  Mp& Float32(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return Byte(0xca).BigEndian(bits, 4);
  }
  Mp& Bool(bool b) { return Byte(b ? 0xc3 : 0xc2); }
  Mp& Nil() { return Byte(0xc0); }
  Mp& Bin(std::string_view b) {
    Byte(0xc4).Byte(static_cast<int>(b.size()));
    out_.append(b);
    return *this;
  }
  // libhoney-go's MsgpTime: extension -1, 12 bytes (nanoseconds, then seconds).
  Mp& Time(int64_t ns) {
    return Byte(0xc7)
        .Byte(12)
        .Byte(0xff)
        .BigEndian(static_cast<uint64_t>(ns % kSecond), 4)
        .BigEndian(static_cast<uint64_t>(ns / kSecond), 8);
  }
  // tinylib/msgp's time.Time, which libhoney-go writes for one in an event's data.
  Mp& TinylibTime(int64_t ns) {
    return Byte(0xc7)
        .Byte(12)
        .Byte(0x05)
        .BigEndian(static_cast<uint64_t>(ns / kSecond), 8)
        .BigEndian(static_cast<uint64_t>(ns % kSecond), 4);
  }
  Mp& Raw(std::string_view b) { return out_.append(b), *this; }
  Mp& Byte(int b) { return out_.push_back(static_cast<char>(b)), *this; }
  const std::string& str() const { return out_; }

 private:
  Mp& BigEndian(uint64_t v, int n) {
    for (int k = n; k-- > 0;) out_.push_back(static_cast<char>(v >> (8 * k)));
    return *this;
  }
  std::string out_;
};

EventOptions MsgpackOptions() {
  EventOptions o = Options();
  o.encoding = EventEncoding::kMsgpack;
  return o;
}

// The first event of LibhoneyEventsBecomeSpans, in MessagePack as libhoney-go sends it.
Mp& LibhoneyGoEvent(Mp& m) {
  m.Map(3).Str("time").Time(k0800 + 123'000'000).Str("samplerate").Int(5).Str("data").Map(12);
  m.Str("trace.trace_id").Str("5b8efff798038103d269b633813fc60c");
  m.Str("trace.span_id").Str("eee19b7ec3c1b174");
  m.Str("trace.parent_id").Str("eee19b7ec3c1b173");
  m.Str("name").Str("GET /users").Str("service.name").Str("api");
  m.Str("duration_ms").Float64(250.5).Str("http.route").Str("/users");
  m.Str("count").Int(3).Str("ratio").Float64(0.25).Str("ok").Bool(true);
  m.Str("tags").Map(1).Str("a").Array(2).Int(1).Int(2);
  m.Str("gone").Nil();
  return m;
}

TEST(DecodeMsgpackBatch, ALibhoneyGoEventIsTheSpanItsJsonFormIs) {
  Mp m;
  LibhoneyGoEvent(m.Array(1));
  Decoded d = Batch(m.str(), MsgpackOptions());
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.statuses.size(), 1u);
  EXPECT_EQ(d.statuses[0].status, 202);

  Decoded json = Batch("[" + std::string(kGetUsersEvent) + "]");
  ASSERT_TRUE(json.status.ok());
  ASSERT_EQ(d.batch.spans.size(), 1u);
  EXPECT_EQ(d.batch.spans, json.batch.spans);
  EXPECT_EQ(d.batch.spans[0].start_ns, k0800 + 123'000'000);
  EXPECT_EQ(d.batch.spans[0].sample_rate, 5u);
}

TEST(DecodeMsgpackBatch, ValuesJsonCannotCarryAreKeptAsTheirJsonFormsWouldBe) {
  Mp m;
  m.Array(1).Map(1).Str("data").Map(10);
  m.Str("name").Str("op");
  m.Str("early").TinylibTime(int64_t{-9223372036} * kSecond);  // whole days of ns leave int64
  m.Str("raw").Bin(std::string("\x00\xff", 2));
  m.Str("at").TinylibTime(k0800 + 5'000'000);
  m.Str("big").Uint64(UINT64_MAX);
  m.Str("small").Float32(0.5F);
  m.Str("nan").Float64(std::nan(""));
  m.Str("bad\xff").Str("caf\xe9");  // Latin-1, not UTF-8
  m.Str("nested").Map(3).Str("b").Bin("hi").Str("t").Time(k0800).Str("n").Uint64(UINT64_MAX);
  m.Str("arr").Array(3).Nil().Bool(false).Float64(1.25);
  uint64_t repairs = 0;
  EventOptions o = MsgpackOptions();
  o.text_repairs = &repairs;
  Decoded d = Batch(m.str(), o);
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.batch.spans.size(), 1u);
  const model::Span& s = d.batch.spans[0];
  AttributeValue raw;
  raw.type = AttributeValue::Type::kBytes;
  raw.string_value = std::string("\x00\xff", 2);
  EXPECT_EQ(Attr(s, "raw"), raw);
  EXPECT_EQ(Attr(s, "at"), AttributeValue::String("2026-11-21T08:00:00.005Z"));
  EXPECT_EQ(Attr(s, "early"), AttributeValue::String("1677-09-21T00:12:44Z"));
  EXPECT_EQ(Attr(s, "big"), AttributeValue::Double(18446744073709551615.0));
  EXPECT_EQ(Attr(s, "small"), AttributeValue::Double(0.5));
  EXPECT_EQ(Attr(s, "nan"), std::nullopt);
  EXPECT_EQ(Attr(s, "bad\xEF\xBF\xBD"), AttributeValue::String("caf\xEF\xBF\xBD"));
  EXPECT_EQ(repairs, 2u);
  EXPECT_EQ(
      Attr(s, "nested"),
      AttributeValue::Json(R"({"b":"aGk=","t":"2026-11-21T08:00:00Z","n":18446744073709551615})"));
  EXPECT_EQ(Attr(s, "arr"), AttributeValue::Json("[null,false,1.25]"));
}

TEST(DecodeMsgpackBatch, EveryTimeFormSetsTheEventsTime) {
  Mp m;
  m.Array(6);
  m.Map(2).Str("data").Map(0).Str("time").Raw(std::string("\xd6\xff\x6b\x01\x4f\x80", 6));
  m.Map(2).Str("data").Map(0).Str("time").Str("2026-11-21T08:00:00.25Z");
  m.Map(2).Str("data").Map(0).Str("time").Int(1795248000);
  m.Map(2).Str("data").Map(0).Str("time").Float64(1795248000.5);
  m.Map(2).Str("data").Map(0).Str("time").Nil();
  m.Map(2).Str("time").TinylibTime(k0800 + 1).Str("data").Map(0);
  Decoded d = Batch(m.str(), MsgpackOptions());
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.batch.spans.size(), 6u);
  EXPECT_EQ(d.batch.spans[0].start_ns, k0800);  // 0x6b014f80 seconds
  EXPECT_EQ(d.batch.spans[1].start_ns, k0800 + kSecond / 4);
  EXPECT_EQ(d.batch.spans[2].start_ns, k0800);
  EXPECT_EQ(d.batch.spans[3].start_ns, k0800 + kSecond / 2);
  EXPECT_EQ(d.batch.spans[4].start_ns, kNow);
  EXPECT_EQ(d.batch.spans[5].start_ns, k0800 + 1);
  for (const model::Span& s : d.batch.spans) EXPECT_EQ(s.name, "ds");
}

TEST(DecodeMsgpackBatch, BadEventsGet400InPlaceAndTheRestAreStored) {
  std::string deep;
  for (int i = 0; i < 101; ++i) deep.push_back(static_cast<char>(0x91));
  deep.push_back(static_cast<char>(0xc0));
  Mp m;
  m.Array(9);
  m.Map(1).Str("data").Map(1).Str("name").Str("a");
  m.Int(5);
  m.Map(1).Str("time").Time(k0800);                          // no data
  m.Map(1).Str("data").Array(1).Int(1);                      // data not a map
  m.Map(2).Int(1).Str("x").Str("data").Map(0);               // a key that is not a string
  m.Map(1).Str("data").Map(1).Int(7).Map(1).Str("k").Nil();  // in the data too
  m.Map(1).Str("data").Map(1).Str("deep").Raw(deep);         // nested past the limit
  m.Map(2).Str("time").Raw(std::string("\xd6\x07\x00\x00\x00\x01", 6)).Str("data").Map(0);
  m.Map(1).Str("data").Map(1).Str("name").Str("c");
  Decoded d = Batch(m.str(), MsgpackOptions());
  ASSERT_TRUE(d.status.ok()) << d.status.ToString();
  ASSERT_EQ(d.statuses.size(), 9u);
  const int want[] = {202, 400, 400, 400, 400, 400, 400, 400, 202};
  for (size_t i = 0; i < 9; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(d.statuses[i].status, want[i]);
    EXPECT_EQ(d.statuses[i].error.empty(), want[i] == 202) << d.statuses[i].error;
  }
  EXPECT_EQ(d.statuses[1].error, "event must be a map");
  EXPECT_EQ(d.statuses[2].error, "event has no data");
  EXPECT_EQ(d.statuses[6].error, "a value is nested too deeply");
  EXPECT_EQ(d.statuses[7].error, "time is not a timestamp extension");
  ASSERT_EQ(d.batch.spans.size(), 2u);
  EXPECT_EQ(d.batch.spans[0].name, "a");
  EXPECT_EQ(d.batch.spans[1].name, "c");

  // A hundred levels is the limit, not past it.
  Mp ok;
  ok.Array(1).Map(1).Str("data").Map(1).Str("deep").Raw(deep.substr(1));
  Decoded at_limit = Batch(ok.str(), MsgpackOptions());
  ASSERT_TRUE(at_limit.status.ok());
  EXPECT_EQ(at_limit.statuses[0].status, 202) << at_limit.statuses[0].error;
}

TEST(DecodeMsgpackBatch, ABodyThatIsNotOneMsgpackArrayIsRefusedWholeAddingNothing) {
  Mp good;
  LibhoneyGoEvent(good.Array(1));
  Mp two;
  LibhoneyGoEvent(LibhoneyGoEvent(two.Array(3)));  // claims three, holds two
  Mp map;
  LibhoneyGoEvent(map);
  for (const std::string& body : {
           good.str().substr(0, good.str().size() - 1),  // cut
           good.str() + "\x01",                          // bytes after it
           map.str(),                                    // an event, not an array of them
           two.str(),
           std::string("\xdd\xff\xff\xff\xff", 5) + good.str().substr(1),  // a lying count
           std::string("\x91\xc1", 2),  // a byte MessagePack never uses
           std::string(),
           std::string(R"([{"data":{"name":"json"}}])"),
       }) {
    SCOPED_TRACE(body.size());
    Decoded d = Batch(body, MsgpackOptions());
    EXPECT_EQ(d.status.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(d.status.message(), "Request body is malformed and cannot be read.");
    EXPECT_TRUE(d.statuses.empty());
    EXPECT_TRUE(d.batch.spans.empty());
  }
}

TEST(DecodeMsgpackEvent, OneMapIsOneEvent) {
  Mp m;
  m.Map(2).Str("name").Str("op").Str("duration_ms").Int(12);
  model::SpanBatch batch;
  Status s = DecodeEvent(m.str(), "2026-11-21T08:00:00Z", "3", MsgpackOptions(), &batch);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(batch.spans.size(), 1u);
  EXPECT_EQ(batch.spans[0].name, "op");
  EXPECT_EQ(batch.spans[0].start_ns, k0800);
  EXPECT_EQ(batch.spans[0].end_ns, k0800 + 12'000'000);
  EXPECT_EQ(batch.spans[0].sample_rate, 3u);

  Mp array;
  array.Array(1).Int(1);
  Mp bad_key;
  bad_key.Map(1).Int(1).Int(2);
  for (const std::string& body :
       {array.str(), m.str() + "\xc0", bad_key.str(), m.str().substr(0, 5)}) {
    model::SpanBatch none;
    EXPECT_EQ(DecodeEvent(body, "", "", MsgpackOptions(), &none).code(),
              Status::Code::kInvalidArgument);
    EXPECT_TRUE(none.spans.empty());
  }
}

}  // namespace
}  // namespace waggle::codec::honeycomb
