#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "column/batch.h"
#include "model/attribute.h"
#include "model/ids.h"
#include "storage/fields.h"

// Scans: the stored spans of a time range as column batches, with the conditions a backend can
// apply where the data lies (min/max, Bloom filters, dictionaries) pushed down to it. The query
// engine evaluates everything else over the batches (DESIGN.md §7).
namespace waggle::storage {

// Names a column of stored spans.
struct ColumnRef {
  enum class Kind : uint8_t { kTraceId, kSpanId, kParentId, kString, kInt, kAttribute };

  Kind kind = Kind::kTraceId;
  uint8_t field = 0;  // kString: a StringField; kInt: an IntField
  // kAttribute: the key, its role and its value type (a key stored with two types is two
  // columns).
  std::string key;
  model::AttributeRole role = model::AttributeRole::kPlain;
  model::AttributeValue::Type type = model::AttributeValue::Type::kString;

  static ColumnRef TraceId() { return OfKind(Kind::kTraceId, 0); }
  static ColumnRef SpanId() { return OfKind(Kind::kSpanId, 0); }
  static ColumnRef ParentId() { return OfKind(Kind::kParentId, 0); }
  static ColumnRef Of(StringField f) { return OfKind(Kind::kString, static_cast<uint8_t>(f)); }
  static ColumnRef Of(IntField f) { return OfKind(Kind::kInt, static_cast<uint8_t>(f)); }
  static ColumnRef Attribute(std::string_view key, model::AttributeRole role,
                             model::AttributeValue::Type type);

  // A string column: a string field, or an attribute of type string, bytes or JSON.
  bool is_string() const;
  // The vector type a scan returns it as.
  column::VectorType vector_type() const;
  // "service", "duration_ns", or the attribute's key.
  std::string_view name() const;
  bool operator==(const ColumnRef&) const = default;

 private:
  static ColumnRef OfKind(Kind kind, uint8_t field) {
    ColumnRef c;
    c.kind = kind;
    c.field = field;
    return c;
  }
};

// A condition a backend applies itself. Rows without a value for the column never match.
struct Condition {
  enum class Op : uint8_t {
    kIn,      // a string column whose value is one of `values`
    kRange,   // an integer column (fields, int and bool attributes) within [lo, hi]
    kExists,  // the row has a value for the column
  };

  ColumnRef column;
  Op op = Op::kIn;
  std::vector<std::string> values;
  int64_t lo = INT64_MIN, hi = INT64_MAX;

  static Condition In(ColumnRef column, std::vector<std::string> values);
  static Condition Range(ColumnRef column, int64_t lo, int64_t hi);
  static Condition Exists(ColumnRef column);
  // InvalidArgument when the op does not fit the column's type.
  Status Validate() const;
};

struct ScanRequest {
  // Spans that start in [start_ns, end_ns).
  int64_t start_ns = INT64_MIN;
  int64_t end_ns = INT64_MAX;
  // And that belong to a trace whose id lies in [first_trace_id, last_trace_id]: a search by
  // trace-id time names its traces this way, wherever their spans start. Stores keep spans in
  // trace id order, so this skips row groups exactly.
  model::TraceId first_trace_id{};
  model::TraceId last_trace_id = model::TraceId::Max();
  std::vector<ColumnRef> columns;  // what each batch carries, in this order
  std::vector<Condition> where;    // all must hold for a row to be selected

  // Whether the trace id bounds rule out any trace.
  bool BoundsTraceIds() const {
    return !first_trace_id.IsZero() || last_trace_id != model::TraceId::Max();
  }
  Status Validate() const;
};

// A request as a backend evaluates it: the time range as the first condition (a range on
// start_ns), then the request's own; and for each condition the batch column that carries its
// column (-1: none), so a condition on a column the batch returns is evaluated on that vector.
struct ScanPlan {
  explicit ScanPlan(const ScanRequest& request);

  const ScanRequest& request;  // must outlive the plan
  std::vector<Condition> where;
  std::vector<int> in_batch;
  int trace_id_in_batch = -1;  // the batch column of the trace ids (-1: none)
};

struct ScanStats {
  uint64_t batches = 0;         // handed to the consumer
  uint64_t rows_examined = 0;   // rows whose values a condition looked at
  uint64_t rows_selected = 0;   // rows in the batches' selection vectors
  uint64_t parts_skipped = 0;   // blocks (or the like) skipped whole by footer, min/max, bloom
  uint64_t groups_skipped = 0;  // row groups skipped by min/max or dictionary
};

// Receives each batch that has a selected row; returns false to end the scan early.
using BatchFn = std::function<bool(const column::ColumnBatch& batch)>;

// Narrows `selection` to the rows of `values` that satisfy `condition` (whose column `values`
// holds). The evaluation every backend shares for what it could not skip wholesale.
void Select(const Condition& condition, const column::Vector& values,
            column::SelectionVector* selection);
// Narrows `selection` to the rows whose trace id (in `trace_ids`, a trace id vector) lies in
// the request's trace id bounds.
void SelectTraceIds(const ScanRequest& request, const column::Vector& trace_ids,
                    column::SelectionVector* selection);

}  // namespace waggle::storage
