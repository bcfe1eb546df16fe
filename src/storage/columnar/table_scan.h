#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "column/batch.h"
#include "storage/columnar/span_table.h"
#include "storage/scan.h"

namespace waggle::storage::columnar {

// Scans spans in column form (the engine's head) a slice of rows at a time. Thread-compatible;
// one per scan.
class TableScanner {
 public:
  explicit TableScanner(const ScanPlan& plan);

  // Evaluates the request over rows [lo, hi) of `table` into `batch`; false when no row
  // qualifies. The batch's strings point into `table`'s dictionaries, which never move or
  // shrink, so the batch stays valid while the table lives.
  bool Scan(const SpanTable& table, size_t lo, size_t hi, column::ColumnBatch* batch,
            ScanStats* stats);

 private:
  void Load(const SpanTable& table, const ColumnRef& ref, size_t lo, size_t hi,
            column::Vector* out);
  // Appends the codes of rows [lo, hi) re-numbered into a dictionary of their own.
  void Remap(const column::StringColumn& strings, const uint32_t* codes, size_t n,
             column::Vector* out);

  const ScanPlan& plan_;
  const ScanRequest& request_;
  std::vector<column::Vector> scratch_;
  column::Vector trace_scratch_;
  std::vector<uint8_t> loaded_;
  std::vector<uint32_t> local_;  // global code -> batch code (kNullCode: not yet seen)
};

}  // namespace waggle::storage::columnar
