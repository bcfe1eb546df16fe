#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>

#include "base/mutex.h"
#include "base/threads.h"
#include "query/service_graph.h"

// GetServiceGraph from columns, streamed: each trace's graph is worked out straight from the
// scan's batches, in buffers reused from trace to trace, with the rules of IndexSegments,
// AssembleTrace, BuildTraceGraph and ServiceGraphBuilder::Add, and added into running totals.
// No span, attribute or per-trace graph is built, and the spans are never all held at once.
//
// A trace is worked out when its rows come as one run inside one batch. A first pass over the
// trace ids alone (a census) finds the traces whose rows come in more than one run (a trace
// crossing blocks, or the store's head, which is not sorted by trace); their rows, and those of
// the runs at a batch's ends (which may go on in the next batch), wait until the scan is over.
// Both passes split the range in two halves scanned on two threads, each with its own totals,
// merged at the end.
namespace waggle::query {
namespace {

using storage::ColumnRef;
using storage::IntField;
using storage::StringField;

// The attributes the graph reads (ServiceOf, InferredNode in trace_graph.cc).
enum Attribute : size_t {
  kOrigin,
  kAccount,
  kNamespace,
  kAwsService,
  kRpcSystem,
  kTableName,
  kQueueUrl,
  kAttributeCount,
};
constexpr const auto& kGraphAttributes = kGraphAttributeKeys;  // indexed by Attribute
static_assert(kGraphAttributeKeys.size() == kAttributeCount &&
              kGraphAttributeKeys[kAccount] == "cloud.account.id" &&
              kGraphAttributeKeys[kQueueUrl] == "aws.queue_url");

// The scan's columns, in this order, then one per attribute column found.
enum Col : size_t {
  kTraceIdCol,
  kSpanIdCol,
  kParentIdCol,
  kServiceCol,
  kNameCol,
  kPeerCol,
  kDbSystemCol,
  kKindCol,
  kStatusCol,
  kStartCol,
  kDurationCol,
  kEndIsZeroCol,
  kInProgressCol,
  kFromXRayCol,
  kFirstAttributeCol,
};

constexpr uint32_t kNone = UINT32_MAX;

// Strings kept once for the whole scan (services, names and peers repeat endlessly), shared by
// the threads. Id 0 is the empty string, which is also what a missing value reads as.
class StringPool {
 public:
  StringPool() { Intern(""); }
  uint32_t Intern(std::string_view s) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    strings_.emplace_back(s);
    const uint32_t id = static_cast<uint32_t>(strings_.size() - 1);
    index_.emplace(strings_.back(), id);
    return id;
  }
  std::string operator[](uint32_t id) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return strings_[id];
  }

 private:
  mutable Mutex mu_;
  std::deque<std::string> strings_ GUARDED_BY(mu_);  // stable: index_ keys point into them
  std::unordered_map<std::string_view, uint32_t> index_ GUARDED_BY(mu_);
};

// A batch's string codes as pool ids, each code interned the first time a row uses it.
class CodeMap {
 public:
  void Reset(const column::Vector& v, StringPool* pool) {
    vector_ = &v;
    pool_ = pool;
    ids_.assign(v.dict.size(), kNone);
  }
  uint32_t Id(uint32_t row) {
    const uint32_t code = vector_->codes[row];
    if (code == column::kNullCode) return 0;
    if (ids_[code] == kNone) ids_[code] = pool_->Intern(vector_->dict[code]);
    return ids_[code];
  }

 private:
  const column::Vector* vector_ = nullptr;
  StringPool* pool_ = nullptr;
  std::vector<uint32_t> ids_;
};

// An integer column's values, 0 where a row has none.
class Ints {
 public:
  explicit Ints(const column::Vector& v)
      : ints_(v.ints.data()), nulls_(v.nulls.empty() ? nullptr : v.nulls.data()) {}
  int64_t operator[](uint32_t row) const {
    return nulls_ != nullptr && nulls_[row] != 0 ? 0 : ints_[row];
  }

 private:
  const int64_t* ints_;
  const uint8_t* nulls_;
};

// A span as the graph needs it.
struct Row {
  uint64_t span_id = 0, parent_id = 0;
  int64_t start_ns = 0, end_ns = 0;
  uint32_t service = 0;  // pool ids
  uint32_t name = 0;
  uint32_t identity = 0;      // its (origin, account): with the service, its ServiceId
  uint32_t inferred = kNone;  // a call (client or producer span): the node it infers
  uint8_t kind = 0, status_flags = 0;
  bool in_progress = false, from_xray = false;

  bool is_call() const {
    return kind == static_cast<uint8_t>(model::SpanKind::kClient) ||
           kind == static_cast<uint8_t>(model::SpanKind::kProducer);
  }
  int64_t duration_ns() const { return end_ns - start_ns; }
};

// Rows of one trace set aside until the scan is over.
struct Run {
  model::TraceId trace;
  uint32_t begin = 0, end = 0;  // in the rows set aside
};

uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}
struct U64Hash {
  size_t operator()(uint64_t v) const { return static_cast<size_t>(Mix(v)); }
};

// Keys -> 0, 1, 2, ... in order of first sight: open addressing over flat arrays, since a scan
// meets a new trace every few rows and a node-based map allocates for each.
template <typename Key, typename Hash>
class DenseIndex {
 public:
  DenseIndex() { Rehash(64); }
  // The key's index, and whether it was added.
  std::pair<uint32_t, bool> Insert(const Key& key) {
    size_t at = Hash()(key) & mask_;
    for (;; at = (at + 1) & mask_) {
      if (index_[at] == kNone) break;
      if (keys_[at] == key) return {index_[at], false};
    }
    index_[at] = size_;
    keys_[at] = key;
    const uint32_t added = size_++;
    if (size_t{size_} * 2 > index_.size()) Rehash(index_.size() * 2);
    return {added, true};
  }
  // The key's index, kNone when it is not here.
  uint32_t Find(const Key& key) const {
    for (size_t at = Hash()(key) & mask_;; at = (at + 1) & mask_) {
      if (index_[at] == kNone) return kNone;
      if (keys_[at] == key) return index_[at];
    }
  }
  uint32_t size() const { return size_; }

 private:
  void Rehash(size_t capacity) {
    std::vector<Key> keys(capacity);
    std::vector<uint32_t> index(capacity, kNone);
    mask_ = capacity - 1;
    for (size_t i = 0; i < index_.size(); ++i) {
      if (index_[i] == kNone) continue;
      size_t at = Hash()(keys_[i]) & mask_;
      while (index[at] != kNone) at = (at + 1) & mask_;
      index[at] = index_[i];
      keys[at] = keys_[i];
    }
    keys_.swap(keys);
    index_.swap(index);
  }

  std::vector<Key> keys_;
  std::vector<uint32_t> index_;  // kNone: empty
  size_t mask_ = 0;
  uint32_t size_ = 0;
};

// Milliseconds -> how many, in a flat array for the common short times.
class MillisHistogram {
 public:
  void Add(int64_t ms) {
    if (ms >= 0 && ms < kFlat) {
      if (static_cast<size_t>(ms) >= flat_.size()) flat_.resize(static_cast<size_t>(ms) + 1);
      ++flat_[static_cast<size_t>(ms)];
    } else {
      ++other_[ms];
    }
  }
  void Add(const MillisHistogram& h) {
    if (h.flat_.size() > flat_.size()) flat_.resize(h.flat_.size());
    for (size_t ms = 0; ms < h.flat_.size(); ++ms) flat_[ms] += h.flat_[ms];
    for (const auto& [ms, n] : h.other_) other_[ms] += n;
  }
  Histogram ToHistogram() const {
    std::map<int64_t, int64_t> all = other_;
    for (size_t ms = 0; ms < flat_.size(); ++ms) {
      if (flat_[ms] != 0) all[static_cast<int64_t>(ms)] += flat_[ms];
    }
    Histogram out;
    for (const auto& [ms, n] : all) out.emplace_hint(out.end(), static_cast<double>(ms) / 1000, n);
    return out;
  }

 private:
  // Up to 4 s (32 KiB a node or edge, in each half); the rare longer times go to the map.
  static constexpr int64_t kFlat = int64_t{1} << 12;
  std::vector<int64_t> flat_;
  std::map<int64_t, int64_t> other_;
};

struct EdgeTotals {
  uint32_t from = 0, to = 0;
  int64_t start_ns = INT64_MAX, end_ns = INT64_MIN;
  RequestStats stats;
  MillisHistogram response_times;
  std::vector<uint32_t> aliases;  // pool ids
};

struct NodeTotals {
  ServiceId id;
  uint32_t name = 0;  // pool id of id.name
  bool client = false, inferred = false, root = false;
  int64_t start_ns = INT64_MAX, end_ns = INT64_MIN;
  RequestStats stats;
  MillisHistogram durations;  // also the response times: a node's are its requests' durations
};

void Widen(int64_t* start, int64_t* end, const Row& r) {
  *start = std::min(*start, r.start_ns);
  *end = std::max(*end, r.end_ns);
}

// Counts one request (a span that is not in progress) on a node or an edge.
void Count(NodeTotals* node, const Row& r) {
  node->stats.Add(r.status_flags, r.duration_ns());
  node->durations.Add(HistogramMillis(r.duration_ns()));
  Widen(&node->start_ns, &node->end_ns, r);
}
void Count(EdgeTotals* edge, const Row& r) {
  edge->stats.Add(r.status_flags, r.duration_ns());
  edge->response_times.Add(HistogramMillis(r.duration_ns()));
  Widen(&edge->start_ns, &edge->end_ns, r);
}

uint64_t Pair(uint32_t a, uint32_t b) { return uint64_t{a} << 32 | b; }

// What a call's inferred node depends on (InferredNode): pool ids, and whether the table,
// queue and database system are there.
using InferredKey = std::array<uint32_t, 8>;
struct InferredKeyHash {
  size_t operator()(const InferredKey& k) const {
    uint64_t h = 0;
    for (uint32_t v : k) h = Mix(h ^ v);
    return static_cast<size_t>(h);
  }
};

// The whole graph, and the per-trace pass that adds one trace to it.
class GraphTotals {
 public:
  explicit GraphTotals(const StringPool* pool) : pool_(*pool) {}

  // The (origin, account) pair as an identity id.
  uint32_t Identity(uint32_t origin, uint32_t account) {
    if (origin == 0 && account == 0) return 0;
    auto [id, added] = identity_of_.Insert(Pair(origin, account));
    if (added) identities_.push_back({origin, account});
    return id + 1;
  }

  // The node a call to something uninstrumented makes, from its attributes (pool ids).
  uint32_t Inferred(uint32_t peer, uint32_t name, uint32_t db_system,
                    const std::array<uint32_t, kAttributeCount>& a) {
    const InferredKey key = {peer != 0 ? peer : name, a[kNamespace],      a[kAwsService],
                             a[kRpcSystem],           a[kTableName] != 0, a[kQueueUrl] != 0,
                             db_system != 0,          a[kAccount]};
    if (key == last_key_) return last_inferred_;
    last_key_ = key;
    auto [it, added] = inferred_of_key_.try_emplace(key, 0);
    if (!added) return last_inferred_ = it->second;
    const std::string target = pool_[key[0]], ns = pool_[a[kNamespace]], rpc = pool_[a[kRpcSystem]],
                      account = pool_[a[kAccount]];
    InferredCall call;
    call.target = target;
    call.aws_namespace = ns;
    call.rpc_system = rpc;
    call.account = account;
    call.has_aws_service = a[kAwsService] != 0;  // pool id 0 is the empty string
    call.has_table = a[kTableName] != 0;
    call.has_queue = a[kQueueUrl] != 0;
    call.has_db_system = db_system != 0;
    it->second = InternInferred(InferredId(call), key[0]);
    return last_inferred_ = it->second;
  }

  // Adds a trace: its rows, a span stored twice listed twice, in any order (sorted and
  // deduplicated in place).
  void AddTrace(Row* spans, size_t n);

  // A row another GraphTotals made, with its identity and inferred node as this one's.
  Row Adopt(const GraphTotals& other, Row row) {
    if (row.identity != 0) {
      const auto& [origin, account] = other.identities_[row.identity - 1];
      row.identity = Identity(origin, account);
    }
    if (row.inferred != kNone) {
      const auto& [id, name] = other.inferred_[row.inferred];
      row.inferred = InternInferred(id, name);
    }
    return row;
  }

  // Adds another's totals (over the same string pool) into these, node by node (by id, client,
  // inferred) and edge by edge. No trace may be added after.
  void Absorb(const GraphTotals& other);

  std::vector<ServiceGraphNode> Finish() &&;

 private:
  // The inferred id of a node id (with the pool id of its name).
  uint32_t InternInferred(ServiceId id, uint32_t name) {
    auto [at, fresh] = inferred_of_id_.try_emplace(std::move(id), inferred_.size());
    if (fresh) inferred_.push_back({at->first, name});
    return static_cast<uint32_t>(at->second);
  }
  uint32_t NewNode(ServiceId id, uint32_t name) {
    NodeTotals& n = nodes_.emplace_back();
    n.id = std::move(id);
    n.name = name;
    return static_cast<uint32_t>(nodes_.size() - 1);
  }
  uint32_t ServiceNode(uint32_t service, uint32_t identity) {
    auto [i, added] = service_node_of_.Insert(Pair(service, identity));
    if (added) {
      ServiceId id;
      id.name = pool_[service];
      if (identity != 0) {
        id.type = pool_[identities_[identity - 1].first];
        id.account_id = pool_[identities_[identity - 1].second];
      }
      service_nodes_.push_back(NewNode(std::move(id), service));
    }
    return service_nodes_[i];
  }
  uint32_t InferredNode(uint32_t inferred) {
    if (inferred >= inferred_nodes_.size()) inferred_nodes_.resize(inferred + 1, kNone);
    if (inferred_nodes_[inferred] == kNone) {
      inferred_nodes_[inferred] = NewNode(inferred_[inferred].first, inferred_[inferred].second);
      nodes_.back().inferred = true;
    }
    return inferred_nodes_[inferred];
  }
  uint32_t ClientNode(uint32_t root_node) {
    const uint32_t name = nodes_[root_node].name;
    auto [i, added] = client_node_of_.Insert(name);
    if (added) {
      ServiceId id;
      id.name = pool_[name];
      id.type = "client";
      client_nodes_.push_back(NewNode(std::move(id), name));
      nodes_.back().client = true;
    }
    return client_nodes_[i];
  }
  EdgeTotals& Edge(uint32_t from, uint32_t to) {
    auto [i, added] = edge_of_.Insert(Pair(from, to));
    if (added) {
      EdgeTotals& e = edges_.emplace_back();
      e.from = from;
      e.to = to;
    }
    return edges_[i];
  }
  // A call along from -> to; a call that answers two segments of one node counts once.
  void Call(uint32_t from, uint32_t to, const Row& call);

  const StringPool& pool_;
  DenseIndex<uint64_t, U64Hash> identity_of_;
  std::vector<std::pair<uint32_t, uint32_t>> identities_;  // identity - 1 -> (origin, account)
  std::unordered_map<InferredKey, uint32_t, InferredKeyHash> inferred_of_key_;
  InferredKey last_key_ = {kNone};  // the last key asked for (calls repeat), and its answer
  uint32_t last_inferred_ = kNone;
  std::map<ServiceId, size_t> inferred_of_id_;
  std::vector<std::pair<ServiceId, uint32_t>> inferred_;  // the node's id and name

  std::vector<NodeTotals> nodes_;
  std::vector<EdgeTotals> edges_;  // in order of first sight
  DenseIndex<uint64_t, U64Hash> service_node_of_, client_node_of_, edge_of_;
  std::vector<uint32_t> service_nodes_, client_nodes_;  // DenseIndex index -> node
  std::vector<uint32_t> inferred_nodes_;                // inferred id -> node (kNone: none yet)

  // Per-trace buffers, reused.
  std::vector<uint64_t> ids_;
  std::vector<uint32_t> service_, segment_node_, parent_;
  std::vector<char> segment_, answered_, settled_;
  std::vector<size_t> chain_;
  std::vector<std::pair<uint64_t, const Row*>> last_call_;  // (edge, its last call)
};

void GraphTotals::Call(uint32_t from, uint32_t to, const Row& call) {
  const uint64_t key = Pair(from, to);
  auto last = std::find_if(last_call_.begin(), last_call_.end(),
                           [&](const auto& e) { return e.first == key; });
  if (last == last_call_.end()) {
    last_call_.emplace_back(key, &call);
  } else if (last->second == &call) {
    return;
  } else {
    last->second = &call;
  }
  EdgeTotals& e = Edge(from, to);
  if (call.name != nodes_[to].name && e.aliases.size() < kMaxEdgeAliases &&
      std::find(e.aliases.begin(), e.aliases.end(), call.name) == e.aliases.end()) {
    e.aliases.push_back(call.name);
  }
  if (!call.in_progress) Count(&e, call);
}

void GraphTotals::AddTrace(Row* spans, size_t count) {
  // By span id, stably: an insertion sort for the usual small trace (it allocates nothing),
  // else std::stable_sort (an insertion sort of a trace of thousands of spans is quadratic).
  if (count > 32) {
    std::stable_sort(spans, spans + count,
                     [](const Row& a, const Row& b) { return a.span_id < b.span_id; });
  }
  for (size_t k = 1; k < count; ++k) {
    if (spans[k - 1].span_id <= spans[k].span_id) continue;
    const Row r = spans[k];
    size_t j = k;
    for (; j > 0 && r.span_id < spans[j - 1].span_id; --j) spans[j] = spans[j - 1];
    spans[j] = r;
  }
  // A span stored twice (an X-Ray segment sent in progress, then complete) counts once: the
  // complete copy, else the last.
  size_t n = 0;
  for (size_t k = 0; k < count; ++k) {
    if (k + 1 < count && spans[k + 1].span_id == spans[k].span_id) {
      if (spans[k].in_progress || !spans[k + 1].in_progress) continue;
      std::swap(spans[k], spans[k + 1]);  // keep this complete copy over the next
      continue;
    }
    if (n != k) spans[n] = spans[k];
    ++n;
  }
  // Each span's parent here (kNone: none): in a small trace by comparing every id at once (no
  // branch to mispredict), else by a binary search.
  ids_.resize(n);
  for (size_t i = 0; i < n; ++i) ids_[i] = spans[i].span_id;
  parent_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = spans[i].parent_id;
    if (n <= 32) {
      uint32_t match = 0;
      for (size_t j = 0; j < n; ++j) match |= static_cast<uint32_t>(ids_[j] == id) << j;
      parent_[i] = match != 0 ? static_cast<uint32_t>(std::countr_zero(match)) : kNone;
      continue;
    }
    auto at = std::lower_bound(ids_.begin(), ids_.end(), id);
    parent_[i] = at != ids_.end() && *at == id ? static_cast<uint32_t>(at - ids_.begin()) : kNone;
  }

  // AssembleTrace: a span without a service takes its nearest ancestor's.
  service_.resize(n);
  settled_.assign(n, 0);
  for (size_t i = 0; i < n; ++i) service_[i] = spans[i].service;
  for (size_t i = 0; i < n; ++i) {
    if (settled_[i] || service_[i] != 0) continue;
    chain_.clear();
    uint32_t at = static_cast<uint32_t>(i);
    uint32_t found = 0;
    for (;;) {
      if (service_[at] != 0 || settled_[at]) {
        found = service_[at];
        break;
      }
      chain_.push_back(at);
      settled_[at] = 1;  // also stops a cycle of parent ids
      at = parent_[at];
      if (at == kNone) break;
    }
    for (size_t c : chain_) service_[c] = found;
  }

  // IndexSegments: X-Ray spans are segments when their document is (a server span); others
  // when they are server or consumer spans or their parent is not here. (IndexSegments also
  // asks that the trace has documents, which a trace with an X-Ray span always has.)
  segment_.assign(n, 0);
  size_t root = SIZE_MAX;
  for (size_t i = 0; i < n; ++i) {
    const Row& s = spans[i];
    const bool parentless = s.parent_id == 0 || parent_[i] == kNone;
    const auto kind = static_cast<model::SpanKind>(s.kind);
    const bool is_segment = s.from_xray ? kind == model::SpanKind::kServer
                                        : kind == model::SpanKind::kServer ||
                                              kind == model::SpanKind::kConsumer || parentless;
    if (!is_segment) continue;
    segment_[i] = 1;
    if (parentless && (root == SIZE_MAX || s.start_ns < spans[root].start_ns)) root = i;
  }

  // BuildTraceGraph and ServiceGraphBuilder::Add: segments are their service's requests.
  segment_node_.assign(n, kNone);
  for (size_t i = 0; i < n; ++i) {
    if (!segment_[i]) continue;
    const Row& s = spans[i];
    segment_node_[i] = ServiceNode(service_[i], s.identity);
    if (!s.in_progress) Count(&nodes_[segment_node_[i]], s);
  }
  if (root != SIZE_MAX) {
    const uint32_t root_node = segment_node_[root];
    nodes_[root_node].root = true;
    const Row& r = spans[root];
    if (!r.in_progress) {
      const uint32_t client = ClientNode(root_node);
      Widen(&nodes_[client].start_ns, &nodes_[client].end_ns, r);
      Count(&Edge(client, root_node), r);
    }
  }
  // Edges: a segment whose parent is a span of another segment was called from there; a call
  // that no segment answers goes to an inferred node.
  last_call_.clear();
  answered_.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!segment_[i]) continue;
    const size_t caller = parent_[i];
    if (caller == kNone || caller == i) continue;
    answered_[caller] = 1;
    const Row& p = spans[caller];
    const uint32_t from =
        segment_[caller] ? segment_node_[caller] : ServiceNode(service_[caller], p.identity);
    if (from == segment_node_[i] && !p.is_call()) continue;  // a service's own nested segment
    Call(from, segment_node_[i], p);
  }
  for (size_t i = 0; i < n; ++i) {
    const Row& s = spans[i];
    if (answered_[i] || segment_[i] || !s.is_call()) continue;
    const uint32_t from = ServiceNode(service_[i], s.identity);
    const uint32_t to = InferredNode(s.inferred);
    if (!s.in_progress) Count(&nodes_[to], s);
    Call(from, to, s);
  }
}

void GraphTotals::Absorb(const GraphTotals& other) {
  std::map<std::tuple<ServiceId, bool, bool>, uint32_t> index;
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    index.emplace(std::tuple(nodes_[i].id, nodes_[i].client, nodes_[i].inferred), i);
  }
  std::vector<uint32_t> node_of(other.nodes_.size());
  for (size_t i = 0; i < other.nodes_.size(); ++i) {
    const NodeTotals& n = other.nodes_[i];
    auto [it, added] = index.try_emplace(std::tuple(n.id, n.client, n.inferred), 0);
    if (added) {
      it->second = NewNode(n.id, n.name);
      nodes_.back().client = n.client;
      nodes_.back().inferred = n.inferred;
    }
    node_of[i] = it->second;
    NodeTotals& to = nodes_[it->second];
    to.root |= n.root;
    to.start_ns = std::min(to.start_ns, n.start_ns);
    to.end_ns = std::max(to.end_ns, n.end_ns);
    to.stats.Add(n.stats);
    to.durations.Add(n.durations);
  }
  for (const EdgeTotals& e : other.edges_) {
    EdgeTotals& to = Edge(node_of[e.from], node_of[e.to]);
    to.start_ns = std::min(to.start_ns, e.start_ns);
    to.end_ns = std::max(to.end_ns, e.end_ns);
    to.stats.Add(e.stats);
    to.response_times.Add(e.response_times);
    for (uint32_t a : e.aliases) {
      if (to.aliases.size() < kMaxEdgeAliases &&
          std::find(to.aliases.begin(), to.aliases.end(), a) == to.aliases.end()) {
        to.aliases.push_back(a);
      }
    }
  }
}

std::vector<ServiceGraphNode> GraphTotals::Finish() && {
  std::vector<ServiceGraphNode> out(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeTotals& t = nodes_[i];
    ServiceGraphNode& n = out[i];
    n.id = std::move(t.id);
    n.client = t.client;
    n.inferred = t.inferred;
    n.root = t.root;
    n.start_ns = t.start_ns;
    n.end_ns = t.end_ns;
    n.stats = t.stats;
    if (!t.client) {
      n.durations = t.durations.ToHistogram();
      n.response_times = n.durations;
    }
  }
  for (const EdgeTotals& t : edges_) {
    ServiceGraphEdge& e = out[t.from].edges.emplace_back();
    e.to = t.to;
    e.start_ns = t.start_ns;
    e.end_ns = t.end_ns;
    e.stats = t.stats;
    e.response_times = t.response_times.ToHistogram();
    for (uint32_t a : t.aliases) e.aliases.push_back(pool_[a]);
  }
  return out;
}

// The first pass over one half of the range: its traces, how many rows each has, and whether
// they came in more than one run (in two blocks, split by a batch's end, or from the store's
// head, which is not sorted by trace). Then, in the second pass, what became of each trace.
class Census {
 public:
  void Add(const column::ColumnBatch& batch) {
    const model::TraceId* ids = batch.columns[0].trace_ids.data();
    const column::SelectionVector& selection = batch.selection;
    for (size_t begin = 0, end; begin < selection.size(); begin = end) {
      const model::TraceId& id = ids[selection[begin]];
      for (end = begin + 1; end < selection.size() && ids[selection[end]] == id;) ++end;
      auto [i, added] = index_.Insert(id);
      if (added) {
        ids_.push_back(id);
        rows_.push_back(static_cast<uint32_t>(end - begin));
        state_.push_back(kOneRun);
        first_run_.push_back(static_cast<uint32_t>(runs_.size()));
      } else {
        state_[i] = kSplit;
      }
      runs_.push_back(i);
    }
  }
  // Marks the traces that both halves saw as split in both.
  static void MarkCrossing(Census* a, Census* b) {
    for (uint32_t i = 0; i < b->ids_.size(); ++i) {
      const uint32_t j = a->index_.Find(b->ids_[i]);
      if (j == kNone) continue;
      a->state_[j] = kSplit;
      b->state_[i] = kSplit;
    }
  }

  // What the second pass is to do with a run of `rows` rows of trace `id`: add them at once as
  // the whole trace, when they are one run that the census saw whole (and `inside` a batch,
  // not at its ends); set them aside for when the scan is over; or drop them, when the trace
  // was already taken whole (they were written after the census: the graph shows the trace as
  // it was then). A trace set aside once is never taken whole.
  enum class Fate : uint8_t { kWhole, kSetAside, kDrop };
  // Whether the trace was taken whole: rows of it set aside (by the other half, written after
  // the census) are then dropped too.
  bool Taken(const model::TraceId& id) const {
    const uint32_t i = index_.Find(id);
    return i != kNone && state_[i] == kTaken;
  }
  Fate Meet(const model::TraceId& id, size_t rows, bool inside) {
    const uint32_t i = Find(id);
    if (i == kNone) return Fate::kSetAside;
    switch (state_[i]) {
      case kOneRun:
        if (inside && rows_[i] == rows) {
          state_[i] = kTaken;
          return Fate::kWhole;
        }
        state_[i] = kSetAside;
        return Fate::kSetAside;
      case kTaken:
        return Fate::kDrop;
      case kSplit:
      case kSetAside:
        return Fate::kSetAside;
    }
    return Fate::kSetAside;
  }

 private:
  enum State : uint8_t { kOneRun, kSplit, kTaken, kSetAside };

  // The trace's index. The second pass meets the runs in the order the first did (the same
  // rows, in the same batches, but where spans were written in between), so the next run
  // usually names it without a look into the hash table.
  uint32_t Find(const model::TraceId& id) {
    if (next_run_ < runs_.size() && ids_[runs_[next_run_]] == id) return runs_[next_run_++];
    const uint32_t i = index_.Find(id);
    if (i != kNone) next_run_ = first_run_[i] + 1;
    return i;
  }

  DenseIndex<model::TraceId, model::TraceIdHash> index_;
  std::vector<model::TraceId> ids_;  // by index
  std::vector<uint32_t> rows_;       // in its first run
  std::vector<uint32_t> first_run_;  // in runs_
  std::vector<State> state_;
  std::vector<uint32_t> runs_;  // the trace of each run, in the order met
  size_t next_run_ = 0;
};

// The second pass over one half: rows built column by column from each batch, each trace that
// came whole added to this half's totals, the rest set aside.
class Worker {
 public:
  Worker(StringPool* pool, const std::vector<Attribute>* attribute_of, Census* census,
         int64_t start_ns, int64_t end_ns)
      : totals(pool),
        pool_(pool),
        attribute_of_(*attribute_of),
        census_(*census),
        start_ns_(start_ns),
        end_ns_(end_ns),
        attributes_(attribute_of->size()) {}

  GraphTotals totals;
  std::vector<Row> set_aside;  // rows of the runs in `runs`
  std::vector<Run> runs;

  void Consume(const column::ColumnBatch& batch);
  // Whether any of the spans overlaps the range (a trace counts when one does).
  bool InRange(const Row* spans, size_t n) const {
    for (size_t i = 0; i < n; ++i) {
      if (spans[i].start_ns < end_ns_ && (spans[i].in_progress || spans[i].end_ns >= start_ns_)) {
        return true;
      }
    }
    return false;
  }

 private:
  void Fill(const column::ColumnBatch& batch);

  StringPool* pool_;
  const std::vector<Attribute>& attribute_of_;  // scan column - kFirstAttributeCol -> attribute
  Census& census_;
  int64_t start_ns_, end_ns_;
  std::vector<Row> rows_;  // the batch's selected rows
  CodeMap service_, name_, peer_, db_system_;
  std::vector<CodeMap> attributes_;
  std::vector<std::array<uint32_t, kAttributeCount>> attribute_;
};

void Worker::Fill(const column::ColumnBatch& batch) {
  const auto& c = batch.columns;
  const uint32_t* selection = batch.selection.data();
  const size_t count = batch.selection.size();
  rows_.resize(count);
  const int64_t* span_ids = c[kSpanIdCol].ints.data();
  const int64_t* parent_ids = c[kParentIdCol].ints.data();
  const Ints kind(c[kKindCol]), status(c[kStatusCol]), start(c[kStartCol]),
      duration(c[kDurationCol]), end_is_zero(c[kEndIsZeroCol]), in_progress(c[kInProgressCol]),
      from_xray(c[kFromXRayCol]);
  service_.Reset(c[kServiceCol], pool_);
  name_.Reset(c[kNameCol], pool_);
  for (size_t k = 0; k < count; ++k) {
    const uint32_t r = selection[k];
    Row& row = rows_[k];
    row.span_id = static_cast<uint64_t>(span_ids[r]);
    row.parent_id = static_cast<uint64_t>(parent_ids[r]);
    row.service = service_.Id(r);
    row.name = name_.Id(r);
    row.kind = static_cast<uint8_t>(kind[r]);
    row.status_flags = static_cast<uint8_t>(status[r]);
    row.start_ns = start[r];
    row.end_ns = end_is_zero[r] != 0 ? 0
                                     : static_cast<int64_t>(static_cast<uint64_t>(row.start_ns) +
                                                            static_cast<uint64_t>(duration[r]));
    row.in_progress = in_progress[r] != 0;
    row.from_xray = from_xray[r] != 0;
    row.identity = 0;
    row.inferred = kNone;
  }
  // The attributes: the first column with a value wins.
  attribute_.assign(count, {});
  for (size_t a = 0; a < attribute_of_.size(); ++a) {
    attributes_[a].Reset(c[kFirstAttributeCol + a], pool_);
    for (size_t k = 0; k < count; ++k) {
      uint32_t& slot = attribute_[k][attribute_of_[a]];
      if (slot == 0) slot = attributes_[a].Id(selection[k]);
    }
  }
  peer_.Reset(c[kPeerCol], pool_);
  db_system_.Reset(c[kDbSystemCol], pool_);
  for (size_t k = 0; k < count; ++k) {
    Row& row = rows_[k];
    row.identity = totals.Identity(attribute_[k][kOrigin], attribute_[k][kAccount]);
    if (row.is_call()) {
      row.inferred = totals.Inferred(peer_.Id(selection[k]), row.name, db_system_.Id(selection[k]),
                                     attribute_[k]);
    }
  }
}

void Worker::Consume(const column::ColumnBatch& batch) {
  Fill(batch);
  const model::TraceId* ids = batch.columns[kTraceIdCol].trace_ids.data();
  const uint32_t* selection = batch.selection.data();
  const size_t count = rows_.size();
  for (size_t begin = 0, end; begin < count; begin = end) {
    const model::TraceId& id = ids[selection[begin]];
    for (end = begin + 1; end < count && ids[selection[end]] == id;) ++end;
    const Census::Fate fate = census_.Meet(id, end - begin, begin > 0 && end < count);
    if (fate == Census::Fate::kWhole) {
      if (InRange(&rows_[begin], end - begin)) totals.AddTrace(&rows_[begin], end - begin);
    } else if (fate == Census::Fate::kSetAside) {
      const auto at = static_cast<uint32_t>(set_aside.size());
      set_aside.insert(set_aside.end(), rows_.begin() + begin, rows_.begin() + end);
      runs.push_back({id, at, static_cast<uint32_t>(set_aside.size())});
    }
  }
}

}  // namespace

Result<std::vector<ServiceGraphNode>> ScanServiceGraph(storage::Reader* reader, int64_t start_ns,
                                                       int64_t end_ns, size_t max_spans) {
  const int64_t scan_start =
      start_ns > INT64_MIN + kGraphSlackNs ? start_ns - kGraphSlackNs : INT64_MIN;
  const int64_t scan_end = end_ns < INT64_MAX - kGraphSlackNs ? end_ns + kGraphSlackNs : INT64_MAX;
  if (scan_start >= scan_end) return std::vector<ServiceGraphNode>();
  storage::ScanRequest scan;
  scan.columns = {ColumnRef::TraceId(),
                  ColumnRef::SpanId(),
                  ColumnRef::ParentId(),
                  ColumnRef::Of(StringField::kService),
                  ColumnRef::Of(StringField::kName),
                  ColumnRef::Of(StringField::kPeer),
                  ColumnRef::Of(StringField::kDbSystem),
                  ColumnRef::Of(IntField::kKind),
                  ColumnRef::Of(IntField::kStatusFlags),
                  ColumnRef::Of(IntField::kStartNs),
                  ColumnRef::Of(IntField::kDurationNs),
                  ColumnRef::Of(IntField::kEndIsZero),
                  ColumnRef::Of(IntField::kInProgress),
                  ColumnRef::Of(IntField::kFromXRayDocument)};
  // Each attribute the graph reads, under every role it is stored with (string values only,
  // as model::FindString reads them; the first column with a value wins).
  std::vector<Attribute> attribute_of;
  WAGGLE_ASSIGN_OR_RETURN(std::vector<ColumnRef> listed, reader->ListColumns(scan_start, scan_end));
  for (const ColumnRef& c : listed) {
    if (c.kind != ColumnRef::Kind::kAttribute || c.type != model::AttributeValue::Type::kString) {
      continue;
    }
    auto it = std::find(kGraphAttributes.begin(), kGraphAttributes.end(), c.key);
    if (it == kGraphAttributes.end()) continue;
    scan.columns.push_back(c);
    attribute_of.push_back(static_cast<Attribute>(it - kGraphAttributes.begin()));
  }

  // The two halves of the range, each scanned on a thread of its own (RunHalves).
  const int64_t mid = static_cast<int64_t>(
      static_cast<uint64_t>(scan_start) +
      (static_cast<uint64_t>(scan_end) - static_cast<uint64_t>(scan_start)) / 2);
  const int64_t bounds[3] = {scan_start, mid, scan_end};
  Status status[2];
  std::atomic<size_t> spans{0};
  std::atomic<bool> too_many{false};

  // Pass one: which traces came in one run.
  Census census[2];
  storage::ScanRequest ids_only;
  ids_only.columns = {ColumnRef::TraceId()};
  RunHalves([&](int h) {
    storage::ScanRequest request = ids_only;
    request.start_ns = bounds[h];
    request.end_ns = bounds[h + 1];
    auto stats = reader->Scan(request, [&](const column::ColumnBatch& batch) {
      if (spans.fetch_add(batch.selection.size()) + batch.selection.size() > max_spans) {
        too_many = true;
        return false;
      }
      census[h].Add(batch);
      return !too_many;
    });
    if (!stats.ok()) status[h] = stats.status();
  });
  for (const Status& s : status) WAGGLE_RETURN_IF_ERROR(s);
  if (too_many) {
    return Status::ResourceExhausted("the time range holds more than " + std::to_string(max_spans) +
                                     " spans");
  }
  Census::MarkCrossing(&census[0], &census[1]);

  // Pass two: the graph.
  StringPool pool;
  std::unique_ptr<Worker> workers[2];
  for (int h = 0; h < 2; ++h) {
    workers[h] = std::make_unique<Worker>(&pool, &attribute_of, &census[h], start_ns, end_ns);
  }
  RunHalves([&](int h) {
    storage::ScanRequest request = scan;
    request.start_ns = bounds[h];
    request.end_ns = bounds[h + 1];
    auto stats = reader->Scan(request, [&](const column::ColumnBatch& batch) {
      workers[h]->Consume(batch);
      return true;
    });
    if (!stats.ok()) status[h] = stats.status();
  });
  for (const Status& s : status) WAGGLE_RETURN_IF_ERROR(s);

  // The traces set aside, their rows gathered from both halves (the second's made the first's).
  Worker& first = *workers[0];
  struct Part {
    const Run* run;
    int half;
  };
  std::vector<Part> parts;
  for (int h = 0; h < 2; ++h) {
    for (const Run& r : workers[h]->runs) parts.push_back({&r, h});
  }
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
    return a.run->trace.bytes < b.run->trace.bytes;
  });
  std::vector<Row> trace;
  for (size_t k = 0, next; k < parts.size(); k = next) {
    const model::TraceId& id = parts[k].run->trace;
    for (next = k + 1; next < parts.size() && parts[next].run->trace == id;) ++next;
    if (census[0].Taken(id) || census[1].Taken(id)) continue;
    trace.clear();
    for (size_t p = k; p < next; ++p) {
      const Worker& w = *workers[parts[p].half];
      for (uint32_t i = parts[p].run->begin; i < parts[p].run->end; ++i) {
        trace.push_back(parts[p].half == 0 ? w.set_aside[i]
                                           : first.totals.Adopt(w.totals, w.set_aside[i]));
      }
    }
    if (first.InRange(trace.data(), trace.size()))
      first.totals.AddTrace(trace.data(), trace.size());
  }

  first.totals.Absorb(workers[1]->totals);
  return std::move(first.totals).Finish();
}

}  // namespace waggle::query
