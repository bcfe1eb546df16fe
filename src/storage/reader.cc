#include "storage/reader.h"

#include <algorithm>
#include <cstring>

#include "base/clock.h"
#include "base/mix.h"

namespace waggle::storage {

bool TraceIdTimeBounds(int64_t start_ns, int64_t end_ns, model::TraceId* first,
                       model::TraceId* last) {
  // The least s with s * 1e9 >= ns, within what four bytes hold (and one past).
  auto seconds_from = [](int64_t ns) {
    if (ns <= 0) return int64_t{0};
    return std::min<int64_t>(int64_t{UINT32_MAX} + 1, (ns - 1) / kNanosPerSecond + 1);
  };
  const int64_t from = seconds_from(start_ns);
  const int64_t to = seconds_from(end_ns);
  if (from >= to) return false;
  *first = model::TraceId::FirstAt(static_cast<uint32_t>(from));
  *last = model::TraceId::LastAt(static_cast<uint32_t>(to - 1));
  return true;
}

bool InSample(const model::TraceId& id, double rate) {
  if (rate >= 1) return true;
  if (!(rate > 0)) return false;
  // The id's bytes mixed into 64 bits (SplitMix64's finalizer over both halves), as a fraction.
  uint64_t a, b;
  std::memcpy(&a, id.bytes.data(), 8);
  std::memcpy(&b, id.bytes.data() + 8, 8);
  const uint64_t x = MixFinalize(a ^ (b * kGoldenGamma));
  return static_cast<double>(x >> 11) * 0x1.0p-53 < rate;
}

bool FetchOptions::Wants(std::string_view key, model::AttributeRole role) const {
  if (all_attributes || role == model::AttributeRole::kAnnotation) return true;
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

void FetchOptions::Apply(TraceData* trace) const {
  for (model::Span& s : trace->spans) Apply(&s);
}

void FetchOptions::Apply(model::Span* span) const {
  if (all_attributes) return;
  std::erase_if(span->attributes, [&](const model::Attribute& a) { return !Wants(a.key, a.role); });
}

std::vector<Result<TraceData>> Reader::FetchTraces(const std::vector<model::TraceId>& ids,
                                                   const FetchOptions& options) {
  std::vector<Result<TraceData>> traces;
  traces.reserve(ids.size());
  for (const model::TraceId& id : ids) {
    Result<TraceData> t = FetchTrace(id);
    if (t.ok()) options.Apply(&*t);
    traces.push_back(std::move(t));
  }
  return traces;
}

}  // namespace waggle::storage
