#include "workload/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "codec/otlp/otlp.h"
#include "codec/xray/datagram.h"
#include "codec/xray/segment_parser.h"
#include "workload/emit.h"

namespace waggle::workload {
namespace {

using model::AttributeRole;
using model::Span;

std::vector<std::vector<Span>> Traces(const WorkloadOptions& options, int n) {
  Generator g(options);
  std::vector<std::vector<Span>> traces(static_cast<size_t>(n));
  for (auto& t : traces) g.NextTrace(&t);
  return traces;
}

const Span& Root(const std::vector<Span>& trace) { return trace.front(); }

const Span* BackendServer(const std::vector<Span>& trace) {
  for (const Span& s : trace) {
    if (s.service == kBackendService && s.kind == model::SpanKind::kServer) return &s;
  }
  return nullptr;
}

std::string StringAttr(const Span& s, std::string_view key) {
  const model::Attribute* a = model::FindAttribute(s.attributes, key);
  return a && a->value.type == model::AttributeValue::Type::kString ? a->value.string_value.str()
                                                                    : "";
}

bool HasError(const std::vector<Span>& trace) {
  return std::any_of(trace.begin(), trace.end(), [](const Span& s) { return s.status_flags; });
}

double Median(std::vector<int64_t> v) {
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[v.size() / 2]);
}

TEST(WorkloadOptions, ValidateRejectsWhatTheGeneratorCannotUse) {
  EXPECT_TRUE(WorkloadOptions{}.Validate().ok());
  WorkloadOptions o;
  o.traces_per_second = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.error_share = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.user_count = 10;
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.start_ns = 0;
  EXPECT_FALSE(o.Validate().ok());
}

TEST(Generator, SameSeedGivesSameSpans) {
  WorkloadOptions options;
  options.seed = 7;
  EXPECT_EQ(Traces(options, 500), Traces(options, 500));
}

TEST(Generator, DifferentSeedsGiveDifferentSpans) {
  WorkloadOptions a, b;
  a.seed = 1;
  b.seed = 2;
  auto ta = Traces(a, 50), tb = Traces(b, 50);
  ASSERT_NE(ta, tb);
  // Not just a shifted copy: the trace ids differ.
  EXPECT_NE(Root(ta[0]).trace_id, Root(tb[0]).trace_id);
}

TEST(Generator, TracesAreWellFormed) {
  WorkloadOptions options;
  Generator g(options);
  int64_t previous_start = 0;
  std::set<std::string> services;
  for (int n = 0; n < 2000; ++n) {
    const int64_t expected_start = g.next_start_ns();
    std::vector<Span> trace;
    g.NextTrace(&trace);
    ASSERT_GE(trace.size(), 3u);
    const Span& root = Root(trace);
    EXPECT_EQ(root.start_ns, expected_start);
    EXPECT_GE(root.start_ns, previous_start);
    previous_start = root.start_ns;
    EXPECT_TRUE(root.parent_span_id.IsZero());
    EXPECT_EQ(root.trace_id.XRayEpochSeconds(), root.start_ns / 1'000'000'000);

    std::unordered_map<uint64_t, const Span*> by_id;
    for (const Span& s : trace) {
      EXPECT_TRUE(by_id.emplace(s.span_id.value, &s).second) << "duplicate span id";
      EXPECT_FALSE(s.span_id.IsZero());
    }
    const std::string user = StringAttr(root, "enduser.id");
    ASSERT_FALSE(user.empty());
    for (const Span& s : trace) {
      services.insert(s.service);
      EXPECT_EQ(s.trace_id, root.trace_id);
      EXPECT_EQ(s.environment, "default");
      EXPECT_FALSE(s.name.empty());
      EXPECT_EQ(s.start_ns % 1000, 0);
      EXPECT_EQ(s.end_ns % 1000, 0);
      EXPECT_LT(s.start_ns, s.end_ns);
      EXPECT_EQ(StringAttr(s, "enduser.id"), user) << "enduser.id differs within a trace";
      // Resource attributes first, naming the span's service.
      EXPECT_EQ(s.attributes[0].key, "service.name");
      EXPECT_EQ(s.attributes[0].value.string_value, s.service);
      bool past_resource = false;
      for (const auto& a : s.attributes) {
        if (a.role != AttributeRole::kResource) past_resource = true;
        EXPECT_FALSE(past_resource && a.role == AttributeRole::kResource) << a.key;
      }
      if (&s == &root) continue;
      auto parent = by_id.find(s.parent_span_id.value);
      ASSERT_NE(parent, by_id.end()) << "a span's parent is not in its trace";
      EXPECT_LT(parent->second - trace.data(), &s - trace.data()) << "child before parent";
      EXPECT_GE(s.start_ns, parent->second->start_ns);
      EXPECT_LE(s.end_ns, parent->second->end_ns);
    }
  }
  EXPECT_EQ(services,
            (std::set<std::string>{std::string(kFrontendService), std::string(kBackendService),
                                   std::string(kUserService)}));
}

TEST(Generator, GenerateSpansReturnsWholeTraces) {
  std::vector<Span> spans = GenerateSpans(WorkloadOptions{}, 1000);
  ASSERT_GE(spans.size(), 1000u);
  std::unordered_set<uint64_t> ids;
  for (const Span& s : spans) ids.insert(s.span_id.value);
  for (const Span& s : spans) {
    EXPECT_TRUE(s.parent_span_id.IsZero() || ids.count(s.parent_span_id.value));
  }
}

// What analysis should find, over 20,000 traces.
TEST(Generator, PlantsWhatAnalysisLooksFor) {
  const auto traces = Traces(WorkloadOptions{}, 20'000);

  int errors = 0, throttles = 0, client_errors = 0, faults_with_exception = 0;
  std::map<std::string, std::vector<int64_t>> duration_by_route;
  std::map<bool, std::pair<int, int>> errors_by_segment;  // error-prone? -> {errors, traces}
  std::unordered_set<std::string> users;
  std::set<std::string> peers, db_systems;
  for (const auto& trace : traces) {
    const bool error = HasError(trace);
    errors += error;
    const bool prone = StringAttr(Root(trace), std::string(kSegmentKey)) == kErrorProneSegment;
    errors_by_segment[prone].first += error;
    errors_by_segment[prone].second += 1;
    users.insert(StringAttr(Root(trace), "enduser.id"));

    const Span* server = BackendServer(trace);
    ASSERT_NE(server, nullptr);
    duration_by_route[server->http_route].push_back(server->duration_ns());
    EXPECT_NE(StringAttr(*server, "customer_segment"), "");
    EXPECT_EQ(model::FindAttribute(server->attributes, "customer_segment")->role,
              AttributeRole::kAnnotation);

    for (const Span& s : trace) {
      EXPECT_GE(s.attributes.size(), 10u) << s.service << " " << s.name;
      EXPECT_LE(s.attributes.size(), 20u) << s.service << " " << s.name;
      if (!s.peer.empty()) peers.insert(s.peer);
      if (!s.db_system.empty()) db_systems.insert(s.db_system);
      throttles += (s.status_flags & model::kStatusThrottle) != 0;
      client_errors += s.http_status >= 400 && s.http_status < 500 && s.http_status != 429;
      if ((s.status_flags & model::kStatusFault) && !s.events.empty()) {
        ++faults_with_exception;
        const auto& e = s.events[0];
        EXPECT_EQ(e.name, "exception");
        for (const char* key : {"exception.type", "exception.message", "exception.stacktrace"}) {
          EXPECT_NE(model::FindAttribute(e.attributes, key), nullptr) << key;
        }
      }
    }
  }

  const double share = errors / 20'000.0;
  EXPECT_GE(share, 0.015);
  EXPECT_LE(share, 0.03);
  EXPECT_GT(throttles, 0);
  EXPECT_GT(client_errors, 0);
  EXPECT_GT(faults_with_exception, 0);

  ASSERT_EQ(duration_by_route.size(), 6u);
  const double slow = Median(duration_by_route.at(std::string(kSlowRoute)));
  for (const auto& [route, durations] : duration_by_route) {
    if (route == kSlowRoute) continue;
    EXPECT_GE(slow, 5 * Median(durations)) << route;
  }

  const auto [prone_errors, prone_traces] = errors_by_segment[true];
  const auto [other_errors, other_traces] = errors_by_segment[false];
  ASSERT_GT(prone_traces, 200);
  const double prone_rate = static_cast<double>(prone_errors) / prone_traces;
  const double other_rate = static_cast<double>(other_errors) / other_traces;
  EXPECT_GE(prone_rate, 5 * other_rate) << prone_rate << " vs " << other_rate;

  EXPECT_GT(users.size(), 10'000u);
  EXPECT_EQ(peers,
            (std::set<std::string>{"backend-flask", "user-service", "Cognito", "DynamoDB",
                                   "cruddur@postgres.internal", "api.example-payments.com"}));
  EXPECT_EQ(db_systems, (std::set<std::string>{"dynamodb", "postgresql"}));
}

TEST(Emit, XRayDatagramsParseBackIntoTheSameSpans) {
  const auto traces = Traces(WorkloadOptions{}, 400);
  codec::xray::DatagramSplitter splitter;
  codec::xray::SegmentParser parser;
  for (const auto& trace : traces) {
    const std::vector<std::string> datagrams = ToXRayDatagrams(trace);
    std::set<std::string> services;
    for (const Span& s : trace) services.insert(s.service);
    EXPECT_EQ(datagrams.size(), services.size()) << "one segment document per service";

    model::SpanBatch batch;
    for (const std::string& d : datagrams) {
      EXPECT_LE(d.size(), kMaxDatagramBytes);
      std::string_view body;
      ASSERT_EQ(splitter.Split(d, &body), codec::xray::DatagramError::kNone);
      codec::xray::SegmentError error;
      ASSERT_TRUE(parser.Parse(body, "default", &batch, &error)) << error.message << "\n" << d;
    }
    ASSERT_EQ(batch.spans.size(), trace.size());
    std::unordered_map<uint64_t, const Span*> parsed;
    for (const Span& s : batch.spans) parsed.emplace(s.span_id.value, &s);
    for (const Span& want : trace) {
      auto it = parsed.find(want.span_id.value);
      ASSERT_NE(it, parsed.end()) << want.name;
      const Span& got = *it->second;
      EXPECT_EQ(got.trace_id, want.trace_id);
      EXPECT_EQ(got.parent_span_id, want.parent_span_id);
      EXPECT_EQ(got.service, want.service);
      EXPECT_EQ(got.start_ns, want.start_ns);
      EXPECT_EQ(got.end_ns, want.end_ns);
      EXPECT_EQ(got.status_flags, want.status_flags) << want.name;
      EXPECT_EQ(got.http_status, want.http_status) << want.name;
      EXPECT_EQ(got.events.size(), want.events.size()) << want.name;
      if (want.service != kBackendService) continue;
      // backend-flask is the X-Ray service: its spans come back field for field.
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.kind, want.kind) << want.name;
      EXPECT_EQ(got.http_method, want.http_method) << want.name;
      EXPECT_EQ(got.http_url, want.http_url) << want.name;
      EXPECT_EQ(got.client_ip, want.client_ip) << want.name;
      EXPECT_EQ(got.user_agent, want.user_agent) << want.name;
      // A DynamoDB call comes back naming its table, as X-Ray's service graph names the node.
      const std::string table(StringAttr(want, "aws.table_name"));
      EXPECT_EQ(got.peer, table.empty() ? want.peer : table) << want.name;
      if (want.db_system == "postgresql") EXPECT_EQ(got.db_system, "postgresql");
      if (want.kind == model::SpanKind::kServer) {
        EXPECT_EQ(StringAttr(got, "enduser.id"), StringAttr(want, "enduser.id"));
        const model::Attribute* a = model::FindAttribute(got.attributes, "customer_segment");
        ASSERT_NE(a, nullptr);
        EXPECT_EQ(a->role, AttributeRole::kAnnotation);
        EXPECT_EQ(a->value.string_value, StringAttr(want, "customer_segment"));
      }
    }
  }
}

TEST(Emit, XRaySplitsADocumentOverTheDatagramLimit) {
  std::vector<Span> trace = Traces(WorkloadOptions{}, 1)[0];
  const Span* server = BackendServer(trace);
  ASSERT_NE(server, nullptr);
  const Span parent = *server;
  // 120 children of ~1 KiB each: too many for one datagram.
  for (uint64_t i = 0; i < 120; ++i) {
    Span child = parent;
    child.span_id.value = 0x1000 + i;
    child.parent_span_id = parent.span_id;
    child.kind = model::SpanKind::kInternal;
    child.name = "render";
    child.events.clear();
    child.attributes.push_back({"blob", model::AttributeValue::String(std::string(1000, 'x')), {}});
    trace.push_back(std::move(child));
  }
  const auto datagrams = ToXRayDatagrams(trace);
  codec::xray::DatagramSplitter splitter;
  codec::xray::SegmentParser parser;
  model::SpanBatch batch;
  for (const std::string& d : datagrams) {
    ASSERT_LE(d.size(), kMaxDatagramBytes);
    std::string_view body;
    ASSERT_EQ(splitter.Split(d, &body), codec::xray::DatagramError::kNone);
    codec::xray::SegmentError error;
    ASSERT_TRUE(parser.Parse(body, "default", &batch, &error)) << error.message;
  }
  EXPECT_GT(datagrams.size(), 3u);
  EXPECT_EQ(batch.spans.size(), trace.size());
}

TEST(Emit, OtlpRequestDecodesIntoTheSameSpans) {
  std::vector<Span> spans;
  for (auto& trace : Traces(WorkloadOptions{}, 400)) {
    spans.insert(spans.end(), trace.begin(), trace.end());
  }
  const std::string body = ToOtlpProtobuf(spans);
  model::SpanBatch batch;
  codec::otlp::Rejections rejected;
  ASSERT_TRUE(
      codec::otlp::DecodeTraces(codec::otlp::Encoding::kProtobuf, body, {}, &batch, &rejected)
          .ok());
  EXPECT_EQ(rejected.count, 0u) << rejected.message;
  ASSERT_EQ(batch.spans.size(), spans.size());
  std::unordered_map<uint64_t, const Span*> decoded;
  for (const Span& s : batch.spans) decoded.emplace(s.span_id.value, &s);
  for (Span want : spans) {
    auto it = decoded.find(want.span_id.value);
    ASSERT_NE(it, decoded.end()) << want.name;
    // OTLP has no annotations: they arrive as plain attributes. Everything else, the
    // well-known columns the decoder derives from attributes included, comes back as it was.
    for (auto& a : want.attributes) {
      if (a.role == AttributeRole::kAnnotation) a.role = AttributeRole::kPlain;
    }
    EXPECT_EQ(*it->second, want) << want.service << " " << want.name;
  }
}

}  // namespace
}  // namespace waggle::workload
