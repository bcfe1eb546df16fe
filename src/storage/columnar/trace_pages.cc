#include "storage/columnar/trace_pages.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "base/clock.h"

namespace waggle::storage::columnar {
namespace {

// A trace's place in the order pages walk: a key that never changes for the trace (trace-id
// time, or its first arrival for event time), then the id. Newest first.
struct Ordered {
  int64_t key;
  model::TraceId id;
  int64_t time_ns;
  int64_t min_start_ns = INT64_MAX, max_end_ns = INT64_MIN;  // over the trace's parts
};

bool Before(const Ordered& a, const Ordered& b) {
  return a.key != b.key ? a.key > b.key : a.id > b.id;
}

// Page tokens: "<t|e><key>.<32 hex trace id>", the last trace returned; the letter names the
// key, so a token from one kind of search is refused by the other.
std::string EncodeToken(char kind, const Ordered& o) {
  return std::string(1, kind) + std::to_string(o.key) + "." + o.id.ToHex();
}

bool DecodeToken(std::string_view token, char kind, Ordered* o) {
  if (token.empty() || token[0] != kind) return false;
  token.remove_prefix(1);
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  auto [p, ec] = std::from_chars(token.data(), token.data() + dot, o->key);
  if (ec != std::errc() || p != token.data() + dot) return false;
  return model::TraceId::ParseHex(token.substr(dot + 1), &o->id);
}

}  // namespace

Result<FindTracesResult> SelectTraces(const FindTracesRequest& request,
                                      const ForEachTracePart& for_each) {
  const bool by_id_time = request.key == TraceTimeKey::kTraceIdTime;
  const char kind = by_id_time ? 't' : 'e';
  Ordered cursor{};
  const bool has_cursor = !request.page_token.empty();
  if (has_cursor && !DecodeToken(request.page_token, kind, &cursor)) {
    return Status::InvalidArgument("invalid page token");
  }
  // Selected traces by id: a trace stored in several parts is one candidate.
  std::unordered_map<model::TraceId, Ordered, model::TraceIdHash> selected;
  for_each([&](const TracePart& p) {
    if (request.only != nullptr && !request.only->count(p.id)) return;
    if (request.sample_rate < 1 && !InSample(p.id, request.sample_rate)) return;
    Ordered o{0, p.id, 0};
    if (by_id_time) {
      o.time_ns = static_cast<int64_t>(p.id.XRayEpochSeconds()) * kNanosPerSecond;
      if (o.time_ns < request.start_ns || o.time_ns >= request.end_ns) return;
      o.key = o.time_ns;
    } else {
      if (p.min_start_ns == INT64_MAX) return;  // documents without spans
      if (p.min_start_ns >= request.end_ns || p.max_end_ns < request.start_ns) return;
      o.time_ns = p.max_end_ns;
      o.key = p.arrival;
    }
    o.min_start_ns = p.min_start_ns;
    o.max_end_ns = p.max_end_ns;
    auto [it, inserted] = selected.try_emplace(p.id, o);
    if (!inserted) {
      Ordered& t = it->second;
      t.key = std::min(t.key, o.key);
      t.time_ns = std::max(t.time_ns, o.time_ns);
      t.min_start_ns = std::min(t.min_start_ns, o.min_start_ns);
      t.max_end_ns = std::max(t.max_end_ns, o.max_end_ns);
    }
  });
  FindTracesResult result;
  std::vector<Ordered> candidates;
  for (const auto& [id, o] : selected) {
    if (by_id_time && request.min_extent_ns > 0 &&
        (o.min_start_ns == INT64_MAX || o.max_end_ns - o.min_start_ns < request.min_extent_ns)) {
      continue;
    }
    ++result.traces_scanned;
    if (has_cursor && !Before(cursor, o)) continue;
    candidates.push_back(o);
  }
  const size_t limit = std::max<size_t>(1, request.limit);
  if (candidates.size() > limit) {
    std::partial_sort(candidates.begin(), candidates.begin() + limit, candidates.end(), Before);
    candidates.resize(limit);
    result.next_page_token = EncodeToken(kind, candidates.back());
  } else {
    std::sort(candidates.begin(), candidates.end(), Before);
  }
  for (const Ordered& o : candidates) {
    result.traces.push_back({o.id, o.time_ns, EncodeToken(kind, o)});
  }
  return result;
}

}  // namespace waggle::storage::columnar
