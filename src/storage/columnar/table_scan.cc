#include "storage/columnar/table_scan.h"

#include <algorithm>
#include <numeric>

namespace waggle::storage::columnar {

using column::Vector;
using column::VectorType;

TableScanner::TableScanner(const ScanPlan& plan) : plan_(plan), request_(plan.request) {
  scratch_.resize(plan.where.size());
  loaded_.resize(request_.columns.size());
}

bool TableScanner::Scan(const SpanTable& table, size_t lo, size_t hi, column::ColumnBatch* batch,
                        ScanStats* stats) {
  const size_t m = hi - lo;
  batch->rows = m;
  batch->columns.resize(request_.columns.size());
  batch->selection.resize(m);
  std::iota(batch->selection.begin(), batch->selection.end(), 0u);
  std::fill(loaded_.begin(), loaded_.end(), 0);
  stats->rows_examined += m;
  if (request_.BoundsTraceIds()) {
    // Head rows are in arrival order: compare each row's trace id.
    Vector* v = &trace_scratch_;
    if (const int j = plan_.trace_id_in_batch; j >= 0) {
      v = &batch->columns[static_cast<size_t>(j)];
      loaded_[static_cast<size_t>(j)] = 1;
    }
    Load(table, ColumnRef::TraceId(), lo, hi, v);
    SelectTraceIds(request_, *v, &batch->selection);
  }
  for (size_t i = 0; i < plan_.where.size() && !batch->selection.empty(); ++i) {
    Vector* v = &scratch_[i];
    if (plan_.in_batch[i] >= 0) {
      v = &batch->columns[static_cast<size_t>(plan_.in_batch[i])];
      loaded_[static_cast<size_t>(plan_.in_batch[i])] = 1;
    }
    Load(table, plan_.where[i].column, lo, hi, v);
    Select(plan_.where[i], *v, &batch->selection);
  }
  if (batch->selection.empty()) return false;
  for (size_t j = 0; j < request_.columns.size(); ++j) {
    if (!loaded_[j]) Load(table, request_.columns[j], lo, hi, &batch->columns[j]);
  }
  ++stats->batches;
  stats->rows_selected += batch->selection.size();
  return true;
}

void TableScanner::Remap(const column::StringColumn& strings, const uint32_t* codes, size_t n,
                         Vector* out) {
  if (local_.size() < strings.dict.size()) local_.resize(strings.dict.size(), column::kNullCode);
  for (size_t i = 0; i < n; ++i) {
    uint32_t& local = local_[codes[i]];
    if (local == column::kNullCode) {
      local = static_cast<uint32_t>(out->dict.size());
      out->dict.push_back(strings.dict.at(codes[i]));
    }
    out->codes.push_back(local);
  }
  // Forget this batch's numbering (touching only the codes it used).
  for (size_t i = 0; i < n; ++i) local_[codes[i]] = column::kNullCode;
}

void TableScanner::Load(const SpanTable& t, const ColumnRef& ref, size_t lo, size_t hi,
                        Vector* out) {
  out->Reset(ref.vector_type());
  const size_t m = hi - lo;
  switch (ref.kind) {
    case ColumnRef::Kind::kTraceId:
      out->trace_ids.assign(t.trace_ids.begin() + lo, t.trace_ids.begin() + hi);
      return;
    case ColumnRef::Kind::kSpanId:
    case ColumnRef::Kind::kParentId: {
      const auto& ids = ref.kind == ColumnRef::Kind::kSpanId ? t.span_ids : t.parent_ids;
      out->ints.resize(m);
      for (size_t i = 0; i < m; ++i) out->ints[i] = static_cast<int64_t>(ids[lo + i].value);
      return;
    }
    case ColumnRef::Kind::kString: {
      const column::StringColumn& s = t.strings[ref.field];
      out->codes.reserve(m);
      Remap(s, s.codes.data() + lo, m, out);
      return;
    }
    case ColumnRef::Kind::kInt:
      out->ints.assign(t.ints[ref.field].begin() + lo, t.ints[ref.field].begin() + hi);
      return;
    case ColumnRef::Kind::kAttribute:
      break;
  }
  // A sparse column: scatter the entries that fall in [lo, hi).
  const AttributeColumn* a = t.FindAttribute(ref.key, ref.role, ref.type);
  if (out->type == VectorType::kString) {
    out->codes.assign(m, column::kNullCode);
  } else {
    out->nulls.assign(m, 1);
    if (out->type == VectorType::kDouble) {
      out->doubles.assign(m, 0);
    } else {
      out->ints.assign(m, 0);
    }
  }
  if (a == nullptr) return;
  const size_t first = static_cast<size_t>(
      std::lower_bound(a->rows.begin(), a->rows.end(), static_cast<uint32_t>(lo)) -
      a->rows.begin());
  const size_t last = static_cast<size_t>(
      std::lower_bound(a->rows.begin(), a->rows.end(), static_cast<uint32_t>(hi)) -
      a->rows.begin());
  if (out->type == VectorType::kString) {
    Vector local;
    local.type = VectorType::kString;
    Remap(a->strings, a->strings.codes.data() + first, last - first, &local);
    out->dict = std::move(local.dict);
    for (size_t i = first; i < last; ++i) out->codes[a->rows[i] - lo] = local.codes[i - first];
    return;
  }
  for (size_t i = first; i < last; ++i) {
    const size_t r = a->rows[i] - lo;
    out->nulls[r] = 0;
    if (out->type == VectorType::kDouble) {
      out->doubles[r] = a->doubles[i];
    } else {
      out->ints[r] = a->ints[i];
    }
  }
}

}  // namespace waggle::storage::columnar
