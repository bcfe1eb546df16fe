#include "storage/scan.h"

#include <algorithm>

namespace waggle::storage {
namespace {

using model::AttributeValue;

bool IsIntegerColumn(const ColumnRef& c) {
  switch (c.kind) {
    case ColumnRef::Kind::kInt:
      return true;
    case ColumnRef::Kind::kAttribute:
      return c.type == AttributeValue::Type::kInt || c.type == AttributeValue::Type::kBool;
    default:
      return false;
  }
}

}  // namespace

ColumnRef ColumnRef::Attribute(std::string_view key, model::AttributeRole role,
                               AttributeValue::Type type) {
  ColumnRef c;
  c.kind = Kind::kAttribute;
  c.key = std::string(key);
  c.role = role;
  c.type = type;
  return c;
}

bool ColumnRef::is_string() const {
  return kind == Kind::kString || (kind == Kind::kAttribute && AttributeValue::IsStringType(type));
}

column::VectorType ColumnRef::vector_type() const {
  switch (kind) {
    case Kind::kTraceId:
      return column::VectorType::kTraceId;
    case Kind::kSpanId:
    case Kind::kParentId:
      return column::VectorType::kSpanId;
    case Kind::kString:
      return column::VectorType::kString;
    case Kind::kInt:
      return column::VectorType::kInt;
    case Kind::kAttribute:
      break;
  }
  if (AttributeValue::IsStringType(type)) return column::VectorType::kString;
  if (type == AttributeValue::Type::kDouble) return column::VectorType::kDouble;
  if (type == AttributeValue::Type::kBool) return column::VectorType::kBool;
  return column::VectorType::kInt;
}

std::string_view ColumnRef::name() const {
  switch (kind) {
    case Kind::kTraceId:
      return "trace_id";
    case Kind::kSpanId:
      return "span_id";
    case Kind::kParentId:
      return "parent_span_id";
    case Kind::kString:
      return StringFieldName(static_cast<StringField>(field));
    case Kind::kInt:
      return IntFieldName(static_cast<IntField>(field));
    case Kind::kAttribute:
      break;
  }
  return key;
}

Condition Condition::In(ColumnRef column, std::vector<std::string> values) {
  Condition c;
  c.column = std::move(column);
  c.op = Op::kIn;
  c.values = std::move(values);
  return c;
}

Condition Condition::Range(ColumnRef column, int64_t lo, int64_t hi) {
  Condition c;
  c.column = std::move(column);
  c.op = Op::kRange;
  c.lo = lo;
  c.hi = hi;
  return c;
}

Condition Condition::Exists(ColumnRef column) {
  Condition c;
  c.column = std::move(column);
  c.op = Op::kExists;
  return c;
}

Status Condition::Validate() const {
  if ((column.kind == ColumnRef::Kind::kString && column.field >= kStringFieldCount) ||
      (column.kind == ColumnRef::Kind::kInt && column.field >= kIntFieldCount)) {
    return Status::InvalidArgument("no such field");
  }
  switch (op) {
    case Op::kIn:
      if (!column.is_string()) {
        return Status::InvalidArgument("IN needs a string column, not " +
                                       std::string(column.name()));
      }
      return Status::Ok();
    case Op::kRange:
      if (!IsIntegerColumn(column)) {
        return Status::InvalidArgument("a range needs an integer column, not " +
                                       std::string(column.name()));
      }
      return Status::Ok();
    case Op::kExists:
      if (column.kind != ColumnRef::Kind::kAttribute) {
        return Status::InvalidArgument("EXISTS needs an attribute column");
      }
      return Status::Ok();
  }
  return Status::InvalidArgument("unknown condition");
}

Status ScanRequest::Validate() const {
  if (start_ns >= end_ns) return Status::InvalidArgument("scan: start must be before end");
  if (last_trace_id < first_trace_id) {
    return Status::InvalidArgument("scan: the first trace id must not be after the last");
  }
  for (const ColumnRef& c : columns) {
    if ((c.kind == ColumnRef::Kind::kString && c.field >= kStringFieldCount) ||
        (c.kind == ColumnRef::Kind::kInt && c.field >= kIntFieldCount)) {
      return Status::InvalidArgument("scan: no such field");
    }
  }
  for (const Condition& c : where) WAGGLE_RETURN_IF_ERROR(c.Validate());
  return Status::Ok();
}

ScanPlan::ScanPlan(const ScanRequest& r) : request(r) {
  where.reserve(r.where.size() + 1);
  where.push_back(Condition::Range(ColumnRef::Of(IntField::kStartNs), r.start_ns, r.end_ns - 1));
  where.insert(where.end(), r.where.begin(), r.where.end());
  in_batch.assign(where.size(), -1);
  for (size_t i = 0; i < where.size(); ++i) {
    for (size_t j = 0; j < r.columns.size(); ++j) {
      if (r.columns[j] == where[i].column) in_batch[i] = static_cast<int>(j);
    }
  }
  for (size_t j = 0; j < r.columns.size(); ++j) {
    if (r.columns[j] == ColumnRef::TraceId()) trace_id_in_batch = static_cast<int>(j);
  }
}

void Select(const Condition& condition, const column::Vector& values,
            column::SelectionVector* selection) {
  uint32_t* sel = selection->data();
  size_t kept = 0;
  switch (condition.op) {
    case Condition::Op::kIn: {
      // Translate the wanted strings into this vector's codes once, then compare codes.
      std::vector<uint8_t> wanted(values.dict.size() + 1, 0);  // the last slot: no value
      for (size_t code = 0; code < values.dict.size(); ++code) {
        for (const std::string& v : condition.values) {
          if (values.dict[code] == v) wanted[code] = 1;
        }
      }
      const uint32_t null_slot = static_cast<uint32_t>(values.dict.size());
      const uint32_t* codes = values.codes.data();
      for (size_t i = 0; i < selection->size(); ++i) {
        const uint32_t row = sel[i];
        const uint32_t code = codes[row] == column::kNullCode ? null_slot : codes[row];
        sel[kept] = row;
        kept += wanted[code];
      }
      break;
    }
    case Condition::Op::kRange: {
      const int64_t* v = values.ints.data();
      const uint8_t* nulls = values.nulls.empty() ? nullptr : values.nulls.data();
      // As unsigned distance from lo: one compare per row, no branches.
      const uint64_t width =
          static_cast<uint64_t>(condition.hi) - static_cast<uint64_t>(condition.lo);
      const uint64_t lo = static_cast<uint64_t>(condition.lo);
      if (condition.lo > condition.hi) {
        kept = 0;
        break;
      }
      for (size_t i = 0; i < selection->size(); ++i) {
        const uint32_t row = sel[i];
        const bool in =
            static_cast<uint64_t>(v[row]) - lo <= width && (nulls == nullptr || nulls[row] == 0);
        sel[kept] = row;
        kept += in;
      }
      break;
    }
    case Condition::Op::kExists:
      for (size_t i = 0; i < selection->size(); ++i) {
        const uint32_t row = sel[i];
        sel[kept] = row;
        kept += !values.IsNull(row);
      }
      break;
  }
  selection->resize(kept);
}

void SelectTraceIds(const ScanRequest& request, const column::Vector& trace_ids,
                    column::SelectionVector* selection) {
  uint32_t* sel = selection->data();
  size_t kept = 0;
  for (uint32_t row : *selection) {
    const model::TraceId& id = trace_ids.trace_ids[row];
    sel[kept] = row;
    kept += !(id < request.first_trace_id) && !(request.last_trace_id < id);
  }
  selection->resize(kept);
}

}  // namespace waggle::storage
