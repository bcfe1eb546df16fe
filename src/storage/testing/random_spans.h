#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/hex.h"
#include "model/span.h"
#include "model/span_batch.h"

// Random spans that exercise every field of model::Span, for the store's tests.
namespace waggle::storage::testing {

// A random UUID in its 8-4-4-4-12 form, lowercase unless `upper`.
inline std::string RandomUuid(std::mt19937_64& rng, bool upper = false) {
  const char* digits = upper ? hex::kUpperDigits : hex::kLowerDigits;
  const uint64_t bits[2] = {rng(), rng()};
  std::string u;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) u.push_back('-');
    u.push_back(digits[(bits[i / 16] >> (4 * (i % 16))) & 15]);
  }
  return u;
}

inline model::TraceId RandomTraceId(std::mt19937_64& rng) {
  model::TraceId id;
  for (auto& b : id.bytes) b = static_cast<uint8_t>(rng());
  return id;
}

// A trace of `n` spans (the first is the root; parents are earlier spans).
inline std::vector<model::Span> RandomTrace(std::mt19937_64& rng, size_t n,
                                            int64_t base_ns = 1'700'000'000'000'000'000) {
  const model::TraceId trace = RandomTraceId(rng);
  std::vector<model::Span> spans(n);
  auto pick = [&](std::initializer_list<const char*> v) {
    return std::string(*(v.begin() + rng() % v.size()));
  };
  for (size_t i = 0; i < n; ++i) {
    model::Span& s = spans[i];
    s.trace_id = trace;
    s.span_id.value = rng() | 1;
    if (i > 0) s.parent_span_id = spans[rng() % i].span_id;
    if (i > 0 && rng() % 10 == 0) s.parent_span_id.value = rng() | 1;  // parent elsewhere
    s.environment = pick({"default", "prod"});
    s.service = pick({"backend-flask", "user-service", "frontend", ""});
    s.name = pick({"GET /api/users", "POST /api/orders", "DynamoDB.GetItem", "SELECT"});
    s.kind = static_cast<model::SpanKind>(rng() % 6);
    s.start_ns = base_ns + static_cast<int64_t>(rng() % 1'000'000'000);
    s.in_progress = rng() % 20 == 0;
    s.end_ns = s.in_progress ? 0 : s.start_ns + static_cast<int64_t>(rng() % 500'000'000);
    s.status_flags = static_cast<uint8_t>(rng() % 8);
    s.status_message = rng() % 5 == 0 ? "boom" : "";
    s.http_method = pick({"GET", "POST", ""});
    s.http_route = pick({"/api/users/{id}", ""});
    s.http_url = "https://example.com/api/users/" + std::to_string(rng() % 1000);
    s.http_status = static_cast<int32_t>(rng() % 3 == 0 ? 0 : 200 + rng() % 400);
    s.client_ip = "10.0.0." + std::to_string(rng() % 256);
    s.user_agent = pick({"curl/8", "Mozilla/5.0"});
    s.db_system = pick({"", "postgresql", "dynamodb"});
    s.peer = pick({"", "DynamoDB", "api.example.com"});
    s.trace_state = rng() % 4 == 0 ? "vendor=1" : "";
    s.scope_name = pick({"", "@opentelemetry/instrumentation-http"});
    s.scope_version = pick({"", "0.1"});
    s.flags = static_cast<uint32_t>(rng() % 2 ? 0x101 : 0);
    s.otel_status = static_cast<uint8_t>(rng() % 3);
    s.sample_rate = static_cast<uint32_t>(1 + rng() % 3);
    s.from_xray_document = rng() % 2 == 0;
    const size_t attrs = rng() % 8;
    for (size_t a = 0; a < attrs; ++a) {
      model::Attribute at;
      at.key = "k" + std::to_string(rng() % 12);
      at.role = static_cast<model::AttributeRole>(rng() % 5);
      switch (rng() % 6) {
        case 0:
          at.value = model::AttributeValue::String("v" + std::to_string(rng() % 50));
          break;
        case 1:
          at.value = model::AttributeValue::Int(static_cast<int64_t>(rng()));
          break;
        case 2:
          at.value = model::AttributeValue::Double(static_cast<double>(rng() % 1000) / 7);
          break;
        case 3:
          at.value = model::AttributeValue::Bool(rng() % 2);
          break;
        case 4:
          at.value.type = model::AttributeValue::Type::kBytes;
          at.value.string_value = "\x01\x02";
          break;
        default:
          at.value = model::AttributeValue::Json("[1,2]");
          break;
      }
      s.attributes.push_back(at);
    }
    if (rng() % 4 == 0) {
      model::SpanEvent e;
      e.time_ns = s.start_ns + 5;
      e.name = "exception";
      e.attributes.push_back({"exception.type", model::AttributeValue::String("ValueError")});
      s.events.push_back(e);
    }
    if (rng() % 8 == 0) {
      model::SpanLink l;
      l.trace_id = RandomTraceId(rng);
      l.span_id.value = rng();
      l.trace_state = "a=b";
      s.links.push_back(l);
    }
  }
  return spans;
}

// Gives `batch` three shared contexts (resource then scope attributes of every value type, one
// key also a span attribute might have) and most of its spans one of them (Span::context).
inline void ShareRandomContexts(std::mt19937_64& rng, model::SpanBatch* batch) {
  using model::Attribute;
  using model::AttributeRole;
  using model::AttributeValue;
  for (int c = 0; c < 3; ++c) {
    const std::string n = std::to_string(c);
    batch->contexts.push_back({
        {"service.name", AttributeValue::String("svc-" + n), AttributeRole::kResource},
        {"host.name", AttributeValue::String("host-" + n), AttributeRole::kResource},
        {"process.pid", AttributeValue::Int(100 + c), AttributeRole::kResource},
        {"load", AttributeValue::Double(0.5 * c), AttributeRole::kResource},
        {"browser.mobile", AttributeValue::Bool(c == 1), AttributeRole::kResource},
        {"labels", AttributeValue::Json("[\"a\",\"" + n + "\"]"), AttributeRole::kResource},
        {"scope.attr", AttributeValue::String("s" + n), AttributeRole::kScope},
        {"http.route", AttributeValue::String("/from-scope"), AttributeRole::kPlain},
    });
  }
  batch->contexts[2].resize(2);  // contexts differ in length, too
  for (model::Span& s : batch->spans) {
    const uint32_t pick = static_cast<uint32_t>(rng() % 4);
    s.context = pick < 3 ? pick : model::kNoContext;
  }
}

// Attributes in a canonical order: the store keeps a span's attributes, not their order.
inline model::Span Canonical(model::Span s) {
  auto key = [](const model::Attribute& a) {
    return std::tuple(a.key, static_cast<int>(a.role), static_cast<int>(a.value.type),
                      a.value.string_value, a.value.int_value, a.value.double_value);
  };
  std::stable_sort(s.attributes.begin(), s.attributes.end(),
                   [&](const auto& a, const auto& b) { return key(a) < key(b); });
  return s;
}

}  // namespace waggle::storage::testing
