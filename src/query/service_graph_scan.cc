#include <algorithm>
#include <array>
#include <deque>
#include <string>
#include <unordered_map>

#include "query/service_graph.h"

namespace waggle::query {
namespace {

using storage::ColumnRef;
using storage::IntField;
using storage::StringField;

// The attributes the graph reads (ServiceOf, InferredNode in trace_graph.cc).
constexpr std::array<std::string_view, 7> kGraphAttributes = {
    "aws.xray.origin", "cloud.account.id", "aws.xray.namespace", "aws.service",
    "rpc.system",      "aws.table_name",   "aws.queue_url",
};

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
constexpr size_t kStringCols = 4;  // service, name, peer, db_system

constexpr uint32_t kNoString = UINT32_MAX;

// Strings kept once for the whole scan (services, names and peers repeat endlessly).
class StringPool {
 public:
  uint32_t Intern(std::string_view s) {
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    strings_.emplace_back(s);
    const uint32_t id = static_cast<uint32_t>(strings_.size() - 1);
    index_.emplace(strings_.back(), id);
    return id;
  }
  const std::string& operator[](uint32_t id) const { return strings_[id]; }

 private:
  std::deque<std::string> strings_;  // stable addresses: index_ keys point into them
  std::unordered_map<std::string_view, uint32_t> index_;
};

// One span as the graph needs it, its strings interned.
struct Row {
  uint32_t trace = 0;  // slot of its trace
  uint32_t strings[kStringCols] = {};
  uint64_t span_id = 0, parent_id = 0;
  int64_t start_ns = 0, end_ns = 0;
  uint8_t kind = 0, status_flags = 0;
  bool in_progress = false, from_xray = false;
  // (attribute index, interned value) for the attributes it has.
  uint32_t first_attribute = 0, attribute_count = 0;
};

struct RowAttribute {
  uint32_t key = 0;  // index into kGraphAttributes
  uint32_t value = 0;
};

int64_t Int(const column::Vector& v, uint32_t row) { return v.IsNull(row) ? 0 : v.ints[row]; }

}  // namespace

Result<std::vector<ServiceGraphNode>> ScanServiceGraph(storage::Reader* reader, int64_t start_ns,
                                                       int64_t end_ns, size_t max_spans) {
  const int64_t scan_start =
      start_ns > INT64_MIN + kGraphSlackNs ? start_ns - kGraphSlackNs : INT64_MIN;
  const int64_t scan_end = end_ns < INT64_MAX - kGraphSlackNs ? end_ns + kGraphSlackNs : INT64_MAX;
  storage::ScanRequest scan;
  scan.start_ns = scan_start;
  scan.end_ns = scan_end;
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
  // Each attribute the graph reads, under every role it is stored with (string values only).
  std::vector<uint32_t> attribute_of;  // scan column - kFirstAttributeCol -> kGraphAttributes
  WAGGLE_ASSIGN_OR_RETURN(std::vector<ColumnRef> listed, reader->ListColumns(scan_start, scan_end));
  for (const ColumnRef& c : listed) {
    if (c.kind != ColumnRef::Kind::kAttribute || !c.is_string()) continue;
    auto it = std::find(kGraphAttributes.begin(), kGraphAttributes.end(), c.key);
    if (it == kGraphAttributes.end()) continue;
    scan.columns.push_back(c);
    attribute_of.push_back(static_cast<uint32_t>(it - kGraphAttributes.begin()));
  }

  StringPool pool;
  std::unordered_map<model::TraceId, uint32_t, model::TraceIdHash> slot_of;
  std::vector<model::TraceId> trace_ids;
  std::vector<Row> rows;
  std::vector<RowAttribute> row_attributes;
  std::vector<uint32_t> interned[kStringCols];  // per string column: batch code -> pool id
  std::vector<std::vector<uint32_t>> interned_attributes(attribute_of.size());
  auto intern_dict = [&](const column::Vector& v, std::vector<uint32_t>* out) {
    out->assign(v.dict.size(), kNoString);
  };
  auto code_to_id = [&](const column::Vector& v, std::vector<uint32_t>& ids, uint32_t row) {
    const uint32_t code = v.codes[row];
    if (code == column::kNullCode) return kNoString;
    if (ids[code] == kNoString) ids[code] = pool.Intern(v.dict[code]);
    return ids[code];
  };
  bool too_many = false;
  auto stats = reader->Scan(scan, [&](const column::ColumnBatch& batch) {
    if (rows.size() + batch.selection.size() > max_spans) {
      too_many = true;
      return false;
    }
    const auto& c = batch.columns;
    for (size_t k = 0; k < kStringCols; ++k) intern_dict(c[kServiceCol + k], &interned[k]);
    for (size_t a = 0; a < attribute_of.size(); ++a) {
      intern_dict(c[kFirstAttributeCol + a], &interned_attributes[a]);
    }
    const model::TraceId* last_id = nullptr;
    uint32_t last_slot = 0;
    for (uint32_t r : batch.selection) {
      Row row;
      const model::TraceId& id = c[kTraceIdCol].trace_ids[r];
      // Rows come sorted by trace within a block: most rows repeat the previous trace.
      if (last_id == nullptr || !(*last_id == id)) {
        auto [it, added] = slot_of.try_emplace(id, static_cast<uint32_t>(trace_ids.size()));
        if (added) trace_ids.push_back(id);
        last_id = &id;
        last_slot = it->second;
      }
      row.trace = last_slot;
      for (size_t k = 0; k < kStringCols; ++k) {
        row.strings[k] = code_to_id(c[kServiceCol + k], interned[k], r);
      }
      row.span_id = static_cast<uint64_t>(c[kSpanIdCol].ints[r]);
      row.parent_id = static_cast<uint64_t>(c[kParentIdCol].ints[r]);
      row.kind = static_cast<uint8_t>(Int(c[kKindCol], r));
      row.status_flags = static_cast<uint8_t>(Int(c[kStatusCol], r));
      row.start_ns = Int(c[kStartCol], r);
      row.end_ns = Int(c[kEndIsZeroCol], r) != 0
                       ? 0
                       : static_cast<int64_t>(static_cast<uint64_t>(row.start_ns) +
                                              static_cast<uint64_t>(Int(c[kDurationCol], r)));
      row.in_progress = Int(c[kInProgressCol], r) != 0;
      row.from_xray = Int(c[kFromXRayCol], r) != 0;
      row.first_attribute = static_cast<uint32_t>(row_attributes.size());
      for (size_t a = 0; a < attribute_of.size(); ++a) {
        const uint32_t value = code_to_id(c[kFirstAttributeCol + a], interned_attributes[a], r);
        if (value != kNoString) row_attributes.push_back({attribute_of[a], value});
      }
      row.attribute_count = static_cast<uint32_t>(row_attributes.size()) - row.first_attribute;
      rows.push_back(row);
    }
    return true;
  });
  if (!stats.ok()) return stats.status();
  if (too_many) {
    return Status::ResourceExhausted("the time range holds more than " + std::to_string(max_spans) +
                                     " spans");
  }

  // Rows by trace (a counting sort: rows of a trace end up together, in scan order).
  std::vector<uint32_t> begin(trace_ids.size() + 1, 0);
  for (const Row& r : rows) ++begin[r.trace + 1];
  for (size_t t = 0; t < trace_ids.size(); ++t) begin[t + 1] += begin[t];
  std::vector<uint32_t> order(rows.size());
  {
    std::vector<uint32_t> at(begin.begin(), begin.end() - 1);
    for (uint32_t i = 0; i < rows.size(); ++i) order[at[rows[i].trace]++] = i;
  }

  ServiceGraphBuilder graph;
  const std::string empty;
  auto str = [&](uint32_t id) -> const std::string& { return id == kNoString ? empty : pool[id]; };
  for (size_t t = 0; t < trace_ids.size(); ++t) {
    // A trace counts when one of its spans overlaps the range.
    bool in_range = false;
    for (uint32_t k = begin[t]; k < begin[t + 1] && !in_range; ++k) {
      const Row& r = rows[order[k]];
      in_range = r.start_ns < end_ns && (r.in_progress || r.end_ns >= start_ns);
    }
    if (!in_range) continue;
    // A span stored twice (an X-Ray segment sent in progress, then complete) counts once: the
    // complete copy, else the last.
    auto first = order.begin() + begin[t], last = order.begin() + begin[t + 1];
    std::stable_sort(first, last,
                     [&](uint32_t a, uint32_t b) { return rows[a].span_id < rows[b].span_id; });
    storage::TraceData trace;
    trace.id = trace_ids[t];
    trace.spans.reserve(static_cast<size_t>(last - first));
    for (auto k = first; k != last; ++k) {
      if (k + 1 != last && rows[k[1]].span_id == rows[*k].span_id) {
        if (rows[*k].in_progress || !rows[k[1]].in_progress) continue;  // the next one wins
        std::swap(k[0], k[1]);  // keep this complete copy over the next
        continue;
      }
      const Row& r = rows[*k];
      model::Span& s = trace.spans.emplace_back();
      s.trace_id = trace.id;
      s.span_id.value = r.span_id;
      s.parent_span_id.value = r.parent_id;
      s.service = str(r.strings[0]);
      s.name = str(r.strings[1]);
      s.peer = str(r.strings[2]);
      s.db_system = str(r.strings[3]);
      s.kind = static_cast<model::SpanKind>(r.kind);
      s.status_flags = r.status_flags;
      s.start_ns = r.start_ns;
      s.end_ns = r.end_ns;
      s.in_progress = r.in_progress;
      s.from_xray_document = r.from_xray;
      for (uint32_t a = r.first_attribute; a < r.first_attribute + r.attribute_count; ++a) {
        s.attributes.push_back({std::string(kGraphAttributes[row_attributes[a].key]),
                                model::AttributeValue::String(pool[row_attributes[a].value]),
                                model::AttributeRole::kPlain});
      }
      // The documents are not read: an X-Ray span is a segment when it is the server span
      // its document opened with (segment_parser.cc makes no other X-Ray span a server
      // span, but for a subsegment that names a client address).
      if (r.from_xray) {
        model::Document& d = trace.documents.emplace_back();
        d.trace_id = trace.id;
        d.id = s.span_id;
        d.parent_id = s.parent_span_id;
        d.in_progress = r.in_progress;
        d.subsegment = s.kind != model::SpanKind::kServer;
      }
    }
    graph.Add(TraceFacts(std::move(trace)));
  }
  return std::move(graph).Finish();
}

}  // namespace waggle::query
