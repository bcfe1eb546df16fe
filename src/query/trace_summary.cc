#include "query/trace_summary.h"

#include <algorithm>
#include <set>

#include "base/clock.h"
#include "model/ids.h"

namespace waggle::query {
namespace {

// Lists in a summary stop growing at this many entries (and root causes at kMaxRootCauses),
// so a trace built to be huge costs linear time to summarise, not quadratic.
constexpr size_t kMaxListed = 100;
constexpr size_t kMaxRootCauses = 10;
constexpr size_t kMaxEntityPath = 64;  // the entities nearest the cause are kept

template <typename T>
void AddUnique(std::vector<T>* v, const T& x) {
  if (v->size() < kMaxListed && std::find(v->begin(), v->end(), x) == v->end()) v->push_back(x);
}

// Parent/child links of a trace's spans, by index.
struct SpanTree {
  explicit SpanTree(const std::vector<model::Span>& spans) : spans(spans), children(spans.size()) {
    model::BySpanId<size_t> by_id;
    for (size_t i = 0; i < spans.size(); ++i) by_id[spans[i].span_id.value] = i;
    parent.assign(spans.size(), kNone);
    for (size_t i = 0; i < spans.size(); ++i) {
      auto it = by_id.find(spans[i].parent_span_id.value);
      if (it != by_id.end() && it->second != i) {
        parent[i] = it->second;
        children[it->second].push_back(i);
      }
    }
  }
  static constexpr size_t kNone = SIZE_MAX;
  const std::vector<model::Span>& spans;
  std::vector<size_t> parent;
  std::vector<std::vector<size_t>> children;
};

RootCauseEntity EntityOf(const model::Span& s) {
  RootCauseEntity e;
  e.name = s.name;
  e.remote = s.kind == model::SpanKind::kClient || s.kind == model::SpanKind::kProducer;
  for (const model::SpanEvent& ev : s.events) {
    if (ev.name != "exception") continue;
    const model::Attribute* type = model::FindAttribute(ev.attributes, "exception.type");
    const model::Attribute* msg = model::FindAttribute(ev.attributes, "exception.message");
    e.exceptions.emplace_back(type ? type->value.string_value : "",
                              msg ? msg->value.string_value : "");
  }
  return e;
}

// The path from the root of the tree down to `leaf`, cut into services: each service's part
// runs from its segment (where the service changes) down.
std::vector<RootCauseService> ServicePath(const SpanTree& tree, size_t leaf) {
  std::vector<size_t> chain;
  for (size_t i = leaf, hops = 0; i != SpanTree::kNone && hops <= tree.spans.size();
       i = tree.parent[i], ++hops) {
    chain.push_back(i);
  }
  std::reverse(chain.begin(), chain.end());
  std::vector<RootCauseService> out;
  for (size_t i : chain) {
    const model::Span& s = tree.spans[i];
    if (out.empty() || out.back().id.name != s.service) out.push_back({ServiceOf(s), {}, false});
    out.back().entity_path.push_back(EntityOf(s));
  }
  for (RootCauseService& svc : out) {
    auto& path = svc.entity_path;
    if (path.size() > kMaxEntityPath) path.erase(path.begin(), path.end() - kMaxEntityPath);
  }
  return out;
}

// Spans carrying `flag` with no descendant carrying it: where each fault (error) began. Each
// is reported with its own service only (the services above it merely passed it on).
std::vector<RootCause> FlagRootCauses(const SpanTree& tree, uint8_t flag, bool client_impacting) {
  const size_t n = tree.spans.size();
  // Post-order: whether any descendant has the flag.
  std::vector<char> below(n, 0);
  std::vector<size_t> order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (tree.parent[i] == SpanTree::kNone) order.push_back(i);
  }
  for (size_t k = 0; k < order.size(); ++k) {
    for (size_t c : tree.children[order[k]]) order.push_back(c);
  }
  for (size_t k = order.size(); k-- > 0;) {
    size_t i = order[k];
    for (size_t c : tree.children[i]) {
      if (below[c] || (tree.spans[c].status_flags & flag)) below[i] = 1;
    }
  }
  std::vector<RootCause> out;
  std::set<std::vector<std::string>> seen;
  for (size_t i = 0; i < n && out.size() < kMaxRootCauses; ++i) {
    if (!(tree.spans[i].status_flags & flag) || below[i]) continue;
    std::vector<RootCauseService> path = ServicePath(tree, i);
    RootCauseService own = std::move(path.back());
    std::vector<std::string> key = {own.id.name};
    for (const auto& e : own.entity_path) key.push_back(e.name);
    if (!seen.insert(key).second) continue;
    out.push_back({{std::move(own)}, client_impacting});
  }
  return out;
}

// From the root segment, follow the child that took longest, down to a leaf.
std::vector<RootCause> ResponseTimeRootCauses(const SpanTree& tree, size_t root) {
  const model::Span& r = tree.spans[root];
  const int64_t total = r.duration_ns();
  if (total <= 0) return {};
  size_t at = root;
  for (size_t hops = 0; hops <= tree.spans.size(); ++hops) {
    size_t slowest = SpanTree::kNone;
    for (size_t c : tree.children[at]) {
      if (slowest == SpanTree::kNone ||
          tree.spans[c].duration_ns() > tree.spans[slowest].duration_ns()) {
        slowest = c;
      }
    }
    if (slowest == SpanTree::kNone) break;
    at = slowest;
  }
  RootCause cause{ServicePath(tree, at), true};
  // Coverage along the path: each entity's duration over the root's. Entity paths may have
  // been cut at the top, so walk each service's part from its deepest entity upwards.
  size_t i = at;
  for (auto svc = cause.services.rbegin(); svc != cause.services.rend(); ++svc) {
    for (auto e = svc->entity_path.rbegin(); e != svc->entity_path.rend(); ++e) {
      e->coverage = static_cast<double>(tree.spans[i].duration_ns()) / static_cast<double>(total);
      i = tree.parent[i];
    }
    // Skip what was cut from this service's path.
    while (i != SpanTree::kNone && tree.spans[i].service == svc->id.name) i = tree.parent[i];
  }
  return {std::move(cause)};
}

}  // namespace

ServiceId ServiceOf(const model::Span& s) {
  ServiceId id;
  id.name = s.service;
  id.type = model::FindString(s.attributes, kOriginKey);
  id.account_id = model::FindString(s.attributes, kAccountKey);
  return id;
}

SegmentIndex IndexSegments(const storage::TraceData& trace) {
  SegmentIndex index;
  index.is_segment.assign(trace.spans.size(), 0);
  model::SpanIdSet segment_ids;
  for (const model::Document& d : trace.documents) {
    if (!d.subsegment) segment_ids.insert(d.id.value);
  }
  model::SpanIdSet all_ids;
  for (const model::Span& s : trace.spans) all_ids.insert(s.span_id.value);
  for (size_t i = 0; i < trace.spans.size(); ++i) {
    const model::Span& s = trace.spans[i];
    // A span from an X-Ray document is a segment when its document is; any other span (OTel,
    // even in a trace that also has X-Ray documents) when it is a server or consumer span or
    // its parent is not here.
    const bool from_document = s.from_xray_document && !trace.documents.empty();
    const bool parentless = s.parent_span_id.IsZero() || !all_ids.count(s.parent_span_id.value);
    const bool is_segment = from_document ? segment_ids.count(s.span_id.value) > 0
                                          : s.kind == model::SpanKind::kServer ||
                                                s.kind == model::SpanKind::kConsumer || parentless;
    if (!is_segment) continue;
    index.is_segment[i] = 1;
    // The earliest; of two as early, the lower id (the same whatever order spans come in).
    const model::Span* root = index.root == SIZE_MAX ? nullptr : &trace.spans[index.root];
    if (parentless && (root == nullptr || s.start_ns < root->start_ns ||
                       (s.start_ns == root->start_ns && s.span_id.value < root->span_id.value))) {
      index.root = i;
    }
  }
  return index;
}

void AssembleTrace(storage::TraceData* trace) {
  std::vector<model::Span>& spans = trace->spans;
  model::BySpanId<size_t> by_id;
  for (size_t i = 0; i < spans.size(); ++i) by_id[spans[i].span_id.value] = i;
  // Each span is resolved once: walk up to the first ancestor that knows its service (or was
  // found to know none), then give that answer to the whole chain walked.
  std::vector<char> settled(spans.size(), 0);
  std::vector<size_t> chain;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (settled[i] || !spans[i].service.empty()) continue;
    chain.clear();
    size_t at = i;
    std::string found;
    for (;;) {
      if (!spans[at].service.empty() || settled[at]) {
        found = spans[at].service;
        break;
      }
      chain.push_back(at);
      settled[at] = 1;  // also stops a cycle of parent ids
      auto it = by_id.find(spans[at].parent_span_id.value);
      if (it == by_id.end()) break;
      at = it->second;
    }
    for (size_t c : chain) spans[c].service = found;
  }
}

TraceSummary SummarizeTrace(const storage::TraceData& trace) {
  return SummarizeTrace(trace, IndexSegments(trace));
}

TraceSummary SummarizeTrace(const storage::TraceData& trace, const SegmentIndex& index) {
  TraceSummary sum;
  sum.id = trace.id;
  sum.revision = static_cast<int64_t>(trace.documents.size());
  for (const model::Document& d : trace.documents) {
    if (d.in_progress) sum.is_partial = true;
  }
  const std::vector<char>& is_segment_span = index.is_segment;
  int64_t min_start = INT64_MAX, max_end = INT64_MIN;
  bool any_segment = false;
  for (size_t i = 0; i < trace.spans.size(); ++i) {
    const model::Span& s = trace.spans[i];
    if (s.in_progress) sum.is_partial = true;
    if (!is_segment_span[i]) continue;
    any_segment = true;
    min_start = std::min(min_start, s.start_ns);
    max_end = std::max(max_end, s.in_progress ? s.start_ns : s.end_ns);
    if (s.status_flags & model::kStatusThrottle) sum.has_throttle = true;
  }
  if (!any_segment) {
    for (const model::Span& s : trace.spans) {
      min_start = std::min(min_start, s.start_ns);
      max_end = std::max(max_end, s.in_progress ? s.start_ns : s.end_ns);
    }
  }
  if (min_start != INT64_MAX) {
    sum.start_time = NanosToSeconds(min_start);
    sum.duration = NanosToSeconds(ElapsedNs(min_start, max_end));
  }
  const model::Span* root = index.root == SIZE_MAX ? nullptr : &trace.spans[index.root];
  if (root != nullptr) {
    sum.response_time = NanosToSeconds(root->duration_ns());
    sum.has_fault = root->status_flags & model::kStatusFault;
    sum.has_error = root->status_flags & model::kStatusError;
    sum.http = {root->http_url, root->http_method, root->user_agent, root->client_ip,
                root->http_status};
    sum.entry_point = ServiceOf(*root);
  }

  std::map<std::string, std::vector<ServiceId>> users;
  for (const model::Span& s : trace.spans) {
    ServiceId service = ServiceOf(s);
    const bool segment = is_segment_span[static_cast<size_t>(&s - trace.spans.data())];
    if (segment) AddUnique(&sum.service_ids, service);
    // Empty values name nothing, so they are not listed.
    auto add = [&](std::vector<std::string>* list, std::string_view key) {
      if (std::string_view v = model::FindString(s.attributes, key); !v.empty()) {
        AddUnique(list, std::string(v));
      }
    };
    if (std::string_view user = model::FindString(s.attributes, kUserKey); !user.empty()) {
      std::string name(user);
      if (users.size() < kMaxListed || users.count(name)) AddUnique(&users[name], service);
    }
    add(&sum.resource_arns, kResourceArnKey);
    add(&sum.instance_ids, kInstanceIdKey);
    add(&sum.availability_zones, kAvailabilityZoneKey);
    for (const model::Attribute& a : s.attributes) {
      if (a.role != model::AttributeRole::kAnnotation) continue;
      const std::string key = a.key.str();
      if (sum.annotations.size() >= kMaxListed && !sum.annotations.count(key)) continue;
      auto& values = sum.annotations[key];
      auto it = std::find_if(values.begin(), values.end(),
                             [&](const AnnotationValue& v) { return v.value == a.value; });
      if (it == values.end()) {
        if (values.size() >= kMaxListed) continue;
        values.push_back({a.value, {}});
        it = values.end() - 1;
      }
      AddUnique(&it->service_ids, service);
    }
  }
  for (auto& [name, ids] : users) sum.users.emplace_back(name, std::move(ids));

  SpanTree tree(trace.spans);
  sum.fault_root_causes = FlagRootCauses(tree, model::kStatusFault, sum.has_fault);
  sum.error_root_causes = FlagRootCauses(tree, model::kStatusError, sum.has_error);
  if (root != nullptr) {
    sum.response_time_root_causes =
        ResponseTimeRootCauses(tree, static_cast<size_t>(root - trace.spans.data()));
  }
  return sum;
}

}  // namespace waggle::query
