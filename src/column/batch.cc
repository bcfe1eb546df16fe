#include "column/batch.h"

namespace waggle::column {

void Vector::Reset(VectorType t) {
  type = t;
  trace_ids.clear();
  ints.clear();
  doubles.clear();
  codes.clear();
  dict.clear();
  nulls.clear();
}

}  // namespace waggle::column
