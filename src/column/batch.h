#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "model/ids.h"

// Column batches: a few thousand rows of the columns a scan asked for, and the selection vector
// of the rows still in play. Batches borrow their strings from where they were read; they are
// valid only while the scan hands them over.
namespace waggle::column {

// Rows of a batch that are selected, ascending.
using SelectionVector = std::vector<uint32_t>;

// A string code for "no value" (a sparse column the row does not have).
inline constexpr uint32_t kNullCode = UINT32_MAX;

enum class VectorType : uint8_t {
  kTraceId,  // trace_ids
  kSpanId,   // ints: the 64-bit id's bits (0 for none)
  kString,   // codes into dict
  kInt,      // ints
  kBool,     // ints, 0 or 1
  kDouble,   // doubles
};

// One column's values, a slot per row of the batch.
struct Vector {
  VectorType type = VectorType::kInt;
  std::vector<model::TraceId> trace_ids;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<uint32_t> codes;         // kNullCode where the row has no value
  std::vector<std::string_view> dict;  // the strings the codes stand for
  std::vector<uint8_t> nulls;          // numbers: 1 where the row has no value; empty if none

  bool IsNull(size_t row) const {
    if (type == VectorType::kString) return codes[row] == kNullCode;
    return !nulls.empty() && nulls[row] != 0;
  }
  std::string_view str(size_t row) const { return dict[codes[row]]; }
  // Empties it for reuse as `t`, keeping the memory.
  void Reset(VectorType t);
};

struct ColumnBatch {
  size_t rows = 0;
  std::vector<Vector> columns;  // in the order they were asked for
  SelectionVector selection;
};

}  // namespace waggle::column
