#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/mix.h"
#include "base/mutex.h"
#include "base/threads.h"
#include "column/dictionary.h"
#include "query/service_graph.h"

// GetServiceGraph from columns, streamed: each trace's graph is worked out straight from the
// scan's batches, in buffers reused from trace to trace, with the rules of IndexSegments,
// AssembleTrace, BuildTraceGraph and ServiceGraphBuilder::Add, and added into running totals.
// No span, attribute or per-trace graph is built. Only the rows of traces that do not come
// as one run are held until the end: few from blocks, most from the store's head.
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
    return strings_.Intern(s);
  }
  // Stays valid while the pool lives (a dictionary's strings never move).
  std::string_view operator[](uint32_t id) const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return strings_.at(id);
  }

 private:
  mutable Mutex mu_;
  column::Dictionary strings_ GUARDED_BY(mu_);
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
  int64_t duration_ns() const { return ElapsedNs(start_ns, end_ns); }
};

// Rows of one trace set aside until the scan is over.
struct Run {
  model::TraceId trace;
  uint32_t begin = 0, end = 0;  // in the rows set aside
};

// 64-bit keys -> 0, 1, 2, ... in order of first sight: open addressing over flat arrays, since
// a node-based map allocates for each key.
class DenseIndex {
 public:
  DenseIndex() { Rehash(64); }
  // The key's index, and whether it was added.
  std::pair<uint32_t, bool> Insert(uint64_t key) {
    size_t at = MixFinalize(key) & mask_;
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

 private:
  void Rehash(size_t capacity) {
    std::vector<uint64_t> keys(capacity);
    std::vector<uint32_t> index(capacity, kNone);
    mask_ = capacity - 1;
    for (size_t i = 0; i < index_.size(); ++i) {
      if (index_[i] == kNone) continue;
      size_t at = MixFinalize(keys_[i]) & mask_;
      while (index[at] != kNone) at = (at + 1) & mask_;
      index[at] = index_[i];
      keys[at] = keys_[i];
    }
    keys_.swap(keys);
    index_.swap(index);
  }

  std::vector<uint64_t> keys_;
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
  // Up to 4 s (16 KiB a node or edge, in each half: the counts are 32-bit, as a scan holds
  // fewer than 2^32 spans); the rare longer times go to the map.
  static constexpr int64_t kFlat = int64_t{1} << 12;
  std::vector<uint32_t> flat_;
  std::map<int64_t, int64_t> other_;
};

struct EdgeTotals {
  uint32_t from = 0, to = 0;
  int64_t start_ns = INT64_MAX, end_ns = INT64_MIN;
  RequestStats stats;
  MillisHistogram response_times;
  // The pool id and string of each (pool strings never move): names compare without the
  // pool's lock.
  struct Alias {
    uint32_t id;
    std::string_view name;
    bool operator==(const Alias& o) const { return id == o.id; }
    bool operator<(const Alias& o) const { return name < o.name; }
  };
  std::vector<Alias> aliases;
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

// What a call's inferred node depends on (InferredNode): pool ids, and whether the AWS
// service, table, queue and database system are there.
using InferredKey = std::array<uint32_t, 8>;
struct InferredKeyHash {
  size_t operator()(const InferredKey& k) const {
    uint64_t h = 0;
    for (uint32_t v : k) h = MixFinalize(h ^ v);
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
    const uint64_t pair = Pair(origin, account);
    if (pair == last_identity_pair_) return last_identity_;  // rows repeat their neighbours'
    auto [id, added] = identity_of_.Insert(pair);
    if (added) identities_.push_back({origin, account});
    last_identity_pair_ = pair;
    return last_identity_ = id + 1;
  }

  // The node a call to something uninstrumented makes, from its attributes (pool ids).
  uint32_t Inferred(uint32_t peer, uint32_t name, uint32_t db_system,
                    const std::array<uint32_t, kGraphAttributeCount>& a) {
    const InferredKey key = {
        peer != 0 ? peer : name, a[kNamespaceAttribute],      a[kAwsServiceAttribute] != 0,
        a[kRpcSystemAttribute],  a[kTableNameAttribute] != 0, a[kQueueUrlAttribute] != 0,
        db_system != 0,          a[kAccountAttribute]};
    // Compared field by field: `key` was just stored a field at a time, and a compare of the
    // whole array loads it back in 16-byte pieces, which waits for those stores to retire.
    bool same = true;
    for (size_t i = 0; i < key.size(); ++i) same &= key[i] == last_key_[i];
    if (same) return last_inferred_;
    last_key_ = key;
    auto [it, added] = inferred_of_key_.try_emplace(key, 0);
    if (!added) return last_inferred_ = it->second;
    InferredCall call;
    call.target = pool_[key[0]];
    call.aws_namespace = pool_[a[kNamespaceAttribute]];
    call.rpc_system = pool_[a[kRpcSystemAttribute]];
    call.account = pool_[a[kAccountAttribute]];
    call.has_aws_service = a[kAwsServiceAttribute] != 0;  // pool id 0 is the empty string
    call.has_table = a[kTableNameAttribute] != 0;
    call.has_queue = a[kQueueUrlAttribute] != 0;
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
  // Offers a call's name (a pool id) to an edge's aliases; the pool is asked for the string
  // only for a name the edge does not have yet.
  void AddAlias(EdgeTotals* e, uint32_t name) const {
    for (const EdgeTotals::Alias& a : e->aliases) {
      if (a.id == name) return;
    }
    KeepSmallestAliases(&e->aliases, {name, pool_[name]});
  }
  // A call along from -> to.
  void Call(uint32_t from, uint32_t to, const Row& call);

  const StringPool& pool_;
  DenseIndex identity_of_;
  uint64_t last_identity_pair_ = 0;  // Pair(0, 0) never asks the index
  uint32_t last_identity_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> identities_;  // identity - 1 -> (origin, account)
  std::unordered_map<InferredKey, uint32_t, InferredKeyHash> inferred_of_key_;
  InferredKey last_key_ = {kNone};  // the last key asked for (calls repeat), and its answer
  uint32_t last_inferred_ = kNone;
  std::map<ServiceId, size_t> inferred_of_id_;
  std::vector<std::pair<ServiceId, uint32_t>> inferred_;  // the node's id and name

  std::vector<NodeTotals> nodes_;
  std::vector<EdgeTotals> edges_;  // in order of first sight
  DenseIndex service_node_of_, client_node_of_, edge_of_;
  std::vector<uint32_t> service_nodes_, client_nodes_;  // DenseIndex index -> node
  std::vector<uint32_t> inferred_nodes_;                // inferred id -> node (kNone: none yet)

  // Per-trace buffers, reused.
  std::vector<uint64_t> ids_;
  std::vector<uint32_t> service_, segment_node_, parent_, answered_;
  std::vector<char> segment_, settled_;
  std::vector<size_t> chain_;
  std::vector<uint64_t> more_answers_;  // Pair(call, node)
};

void GraphTotals::Call(uint32_t from, uint32_t to, const Row& call) {
  EdgeTotals& e = Edge(from, to);
  if (call.name != nodes_[to].name) AddAlias(&e, call.name);
  if (!call.in_progress) Count(&e, call);
}

// Links a trace of n <= 32 spans whose ids are ids[0, n) (readable up to a multiple of 4):
// each span's parent here (kNone: none), by comparing every id at once (no branch to
// mispredict). Returns whether an id is there twice (and then `parent` is not all set).
bool LinkSmallScalar(const uint64_t* ids, size_t n, const Row* spans, uint32_t* parent) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = spans[i].span_id, parent_id = spans[i].parent_id;
    uint32_t same = 0, match = 0;
    for (size_t j = 0; j < n; ++j) {
      same |= static_cast<uint32_t>(ids[j] == id) << j;
      match |= static_cast<uint32_t>(ids[j] == parent_id) << j;
    }
    if (same != uint32_t{1} << i) return true;
    parent[i] = match != 0 ? static_cast<uint32_t>(std::countr_zero(match)) : kNone;
  }
  return false;
}

#if defined(__x86_64__)
// LinkSmallScalar, four ids a step.
__attribute__((target("avx2,bmi"))) bool LinkSmallAvx2(const uint64_t* ids, size_t n,
                                                       const Row* spans, uint32_t* parent) {
  const uint32_t valid = n == 32 ? ~uint32_t{0} : (uint32_t{1} << n) - 1;
  for (size_t i = 0; i < n; ++i) {
    const __m256i id = _mm256_set1_epi64x(static_cast<int64_t>(spans[i].span_id));
    const __m256i parent_id = _mm256_set1_epi64x(static_cast<int64_t>(spans[i].parent_id));
    uint32_t same = 0, match = 0;
    for (size_t j = 0; j < n; j += 4) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ids + j));
      same |=
          static_cast<uint32_t>(_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(v, id))))
          << j;
      match |= static_cast<uint32_t>(
                   _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(v, parent_id))))
               << j;
    }
    if ((same & valid) != uint32_t{1} << i) return true;
    match &= valid;
    parent[i] = match != 0 ? static_cast<uint32_t>(std::countr_zero(match)) : kNone;
  }
  return false;
}

#endif

bool LinkSmall(const uint64_t* ids, size_t n, const Row* spans, uint32_t* parent) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
  if (avx2) {
    const bool repeated = LinkSmallAvx2(ids, n, spans, parent);
#ifndef NDEBUG
    // Debug builds (the tests) check the two ways agree: the scalar one runs where AVX2 is not.
    std::array<uint32_t, 32> scalar;
    assert(LinkSmallScalar(ids, n, spans, scalar.data()) == repeated);
    assert(repeated || std::equal(parent, parent + n, scalar.begin()));
#endif
    return repeated;
  }
#endif
  return LinkSmallScalar(ids, n, spans, parent);
}

void GraphTotals::AddTrace(Row* spans, size_t count) {
  // Nothing below depends on the order of the spans but, for a span stored twice (an X-Ray
  // segment sent in progress, then complete), which copy counts (the complete one, else the
  // last). A small trace (the usual) is taken as it lies, its ids compared all at once
  // (no branch to mispredict): each span's parent found (kNone: none), and a repeated id noticed.
  // Else, or when an id repeats, the spans are sorted by id (stably: an insertion sort for a
  // small trace, which allocates nothing; std::stable_sort for thousands of spans, where an
  // insertion sort is quadratic) and each parent found by a binary search.
  size_t n = count;
  ids_.resize((n + 3) & ~size_t{3});  // LinkSmall reads four at a time
  for (size_t i = 0; i < n; ++i) ids_[i] = spans[i].span_id;
  parent_.resize(n);
  if (n > 32 || LinkSmall(ids_.data(), n, spans, parent_.data())) {
    if (n > 32) {
      std::stable_sort(spans, spans + n,
                       [](const Row& a, const Row& b) { return a.span_id < b.span_id; });
    } else {
      for (size_t k = 1; k < n; ++k) {
        if (spans[k - 1].span_id <= spans[k].span_id) continue;
        const Row r = spans[k];
        size_t j = k;
        for (; j > 0 && r.span_id < spans[j - 1].span_id; --j) spans[j] = spans[j - 1];
        spans[j] = r;
      }
    }
    n = 0;
    for (size_t k = 0; k < count; ++k) {
      if (k + 1 < count && spans[k + 1].span_id == spans[k].span_id) {
        if (spans[k].in_progress || !spans[k + 1].in_progress) continue;
        std::swap(spans[k], spans[k + 1]);  // keep this complete copy over the next
        continue;
      }
      if (n != k) spans[n] = spans[k];
      ++n;
    }
    ids_.resize(n);
    for (size_t i = 0; i < n; ++i) ids_[i] = spans[i].span_id;
    parent_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t id = spans[i].parent_id;
      auto at = std::lower_bound(ids_.begin(), ids_.end(), id);
      parent_[i] = at != ids_.end() && *at == id ? static_cast<uint32_t>(at - ids_.begin()) : kNone;
    }
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
    // The earliest, and of two as early the lower id (the first in id order).
    if (parentless && (root == SIZE_MAX || s.start_ns < spans[root].start_ns ||
                       (s.start_ns == spans[root].start_ns && s.span_id < spans[root].span_id))) {
      root = i;
    }
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
  // A call that two segments of one node answer counts once, wherever the two lie: answered_
  // holds the node a call's first answer came to (kNone: none), more_answers_ any others.
  answered_.assign(n, kNone);
  more_answers_.clear();
  for (size_t i = 0; i < n; ++i) {
    if (!segment_[i]) continue;
    const uint32_t caller = parent_[i];
    if (caller == kNone || caller == i) continue;
    const uint32_t to = segment_node_[i];
    if (answered_[caller] == kNone) {
      answered_[caller] = to;
    } else if (answered_[caller] == to || std::find(more_answers_.begin(), more_answers_.end(),
                                                    Pair(caller, to)) != more_answers_.end()) {
      continue;
    } else {
      more_answers_.push_back(Pair(caller, to));
    }
    const Row& p = spans[caller];
    const uint32_t from =
        segment_[caller] ? segment_node_[caller] : ServiceNode(service_[caller], p.identity);
    if (from == to && !p.is_call()) continue;  // a service's own nested segment
    Call(from, to, p);
  }
  for (size_t i = 0; i < n; ++i) {
    const Row& s = spans[i];
    if (answered_[i] != kNone || segment_[i] || !s.is_call()) continue;
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
    for (const EdgeTotals::Alias& a : e.aliases) KeepSmallestAliases(&to.aliases, a);
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
    for (const EdgeTotals::Alias& a : t.aliases) e.aliases.emplace_back(a.name);
  }
  return out;
}

// The first pass over one half of the range: its runs of rows of one trace, in the order met.
// Then which traces came in more than one run (in two blocks, split by a batch's end, or from
// the store's head, which is not sorted by trace), found by sorting the runs by trace id (a
// block's runs come sorted already: merging them is all it takes), with no hash table. Then,
// in the second pass, what became of each run.
class Census {
 public:
  void Add(const column::ColumnBatch& batch) {
    const model::TraceId* ids = batch.columns[0].trace_ids.data();
    const column::SelectionVector& selection = batch.selection;
    for (size_t begin = 0, end; begin < selection.size(); begin = end) {
      const model::TraceId& id = ids[selection[begin]];
      for (end = begin + 1; end < selection.size() && ids[selection[end]] == id;) ++end;
      runs_.push_back({id, static_cast<uint32_t>(end - begin)});
    }
  }
  // Sorts both halves' runs by id, and marks the runs of a trace met more than once, in
  // either half, as shared.
  static void Settle(Census* a, Census* b) {
    RunHalves([&](int h) { (h == 0 ? a : b)->Sort(); });
    for (size_t i = 0, j = 0; i < a->sorted_.size() && j < b->sorted_.size();) {
      const model::TraceId& x = a->runs_[a->sorted_[i]].id;
      const model::TraceId& y = b->runs_[b->sorted_[j]].id;
      if (x < y) {
        ++i;
      } else if (y < x) {
        ++j;
      } else {
        a->state_[a->sorted_[i++]] = kShared;
        b->state_[b->sorted_[j++]] = kShared;
      }
    }
  }

  // What the second pass is to do with a run of `rows` rows of trace `id`: add them at once as
  // the whole trace, when they are the trace's only run in the census, seen whole (and
  // `inside` a batch, not at its ends); set them aside for when the scan is over; or drop them,
  // when the trace was already taken whole (they were written after the census: the graph
  // shows the trace as it was then). A trace set aside once is never taken whole.
  enum class Fate : uint8_t { kWhole, kSetAside, kDrop };
  Fate Meet(const model::TraceId& id, size_t rows, bool inside) {
    const uint32_t k = Find(id);
    if (k == kNone) return Fate::kSetAside;
    switch (state_[k]) {
      case kAlone:
        if (inside && runs_[k].rows == rows) {
          state_[k] = kTaken;
          return Fate::kWhole;
        }
        state_[k] = kSetAside;
        return Fate::kSetAside;
      case kTaken:
        return Fate::kDrop;
      case kShared:
      case kSetAside:
        return Fate::kSetAside;
    }
    return Fate::kSetAside;
  }
  // Whether the trace was taken whole: rows of it set aside (by the other half, written after
  // the census) are then dropped too.
  bool Taken(const model::TraceId& id) const {
    const uint32_t k = Lookup(id);
    return k != kNone && state_[k] == kTaken;
  }

 private:
  enum State : uint8_t { kAlone, kShared, kTaken, kSetAside };
  struct TraceRun {
    model::TraceId id;
    uint32_t rows;
  };

  // sorted_: the runs by id (stably), the ascending stretches merged pairwise; a run whose
  // id its neighbour shares is shared.
  void Sort() {
    const size_t n = runs_.size();
    sorted_.resize(n);
    for (uint32_t k = 0; k < n; ++k) sorted_[k] = k;
    auto less = [&](uint32_t x, uint32_t y) { return runs_[x].id < runs_[y].id; };
    std::vector<size_t> bounds = {0};  // where each ascending stretch begins
    for (size_t k = 1; k < n; ++k) {
      if (runs_[k].id < runs_[k - 1].id) bounds.push_back(k);
    }
    bounds.push_back(n);
    // Each block scanned gives one ascending stretch; more than this many stretches means rows
    // in no order (the store's head), which a sort handles better than pairwise merges.
    constexpr size_t kMaxStretches = 64;
    if (bounds.size() - 1 > kMaxStretches) {
      std::stable_sort(sorted_.begin(), sorted_.end(), less);
    } else {
      while (bounds.size() > 2) {
        std::vector<size_t> merged = {0};
        for (size_t b = 0; b + 2 < bounds.size(); b += 2) {
          std::inplace_merge(sorted_.begin() + static_cast<ptrdiff_t>(bounds[b]),
                             sorted_.begin() + static_cast<ptrdiff_t>(bounds[b + 1]),
                             sorted_.begin() + static_cast<ptrdiff_t>(bounds[b + 2]), less);
          merged.push_back(bounds[b + 2]);
        }
        if (bounds.size() % 2 == 0) merged.push_back(n);  // an odd stretch out, kept as it is
        bounds.swap(merged);
      }
    }
    state_.assign(n, kAlone);
    for (size_t k = 1; k < n; ++k) {
      if (runs_[sorted_[k]].id == runs_[sorted_[k - 1]].id) {
        state_[sorted_[k]] = kShared;
        state_[sorted_[k - 1]] = kShared;
      }
    }
  }
  // The first run of the trace, kNone when the census did not meet it.
  uint32_t Lookup(const model::TraceId& id) const {
    auto at =
        std::lower_bound(sorted_.begin(), sorted_.end(), id,
                         [&](uint32_t k, const model::TraceId& x) { return runs_[k].id < x; });
    return at != sorted_.end() && runs_[*at].id == id ? *at : kNone;
  }
  // The run of the trace the second pass meets. It meets the runs in the order the first did
  // (the same rows, in the same batches, but where spans were written in between), so the next
  // run usually is the one, and else the census is searched.
  uint32_t Find(const model::TraceId& id) {
    if (next_run_ < runs_.size() && runs_[next_run_].id == id) return next_run_++;
    const uint32_t k = Lookup(id);
    if (k != kNone) next_run_ = k + 1;
    return k;
  }

  std::vector<TraceRun> runs_;    // in the order met
  std::vector<uint32_t> sorted_;  // runs_ indexes, by id
  std::vector<State> state_;      // by run
  uint32_t next_run_ = 0;
};

// The second pass over one half: rows built column by column from each batch, each trace that
// came whole added to this half's totals, the rest set aside.
class Worker {
 public:
  Worker(StringPool* pool, const std::vector<GraphAttribute>* attribute_of, Census* census,
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
  const std::vector<GraphAttribute>&
      attribute_of_;  // scan column - kFirstAttributeCol -> attribute
  Census& census_;
  int64_t start_ns_, end_ns_;
  std::vector<Row> rows_;  // the batch's selected rows
  CodeMap service_, name_, peer_, db_system_;
  std::vector<CodeMap> attributes_;
  std::vector<std::array<uint32_t, kGraphAttributeCount>> attribute_;
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
    row.inferred = kNone;  // the identity, and a call's inferred node, are set below
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
    row.identity =
        totals.Identity(attribute_[k][kOriginAttribute], attribute_[k][kAccountAttribute]);
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
  // The histograms count in 32 bits: a scan reads fewer than 2^32 spans (pass two reads those of
  // pass one, and what was written in between).
  max_spans = std::min<size_t>(max_spans, size_t{1} << 31);
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
  // Each attribute the graph reads, under every role it is stored with, string values only;
  // the first column with a non-empty value wins. (model::FindString takes a span's first
  // attribute of the key, whatever its value: the two differ only for a key a span carries
  // twice, under two roles or types.)
  std::vector<GraphAttribute> attribute_of;
  WAGGLE_ASSIGN_OR_RETURN(std::vector<ColumnRef> listed, reader->ListColumns(scan_start, scan_end));
  for (const ColumnRef& c : listed) {
    if (c.kind != ColumnRef::Kind::kAttribute || c.type != model::AttributeValue::Type::kString) {
      continue;
    }
    auto it = std::find(kGraphAttributeKeys.begin(), kGraphAttributeKeys.end(), c.key);
    if (it == kGraphAttributeKeys.end()) continue;
    scan.columns.push_back(c);
    attribute_of.push_back(static_cast<GraphAttribute>(it - kGraphAttributeKeys.begin()));
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
                                     " spans; ask for a shorter time range");
  }
  Census::Settle(&census[0], &census[1]);

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
