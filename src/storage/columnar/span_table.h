#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "column/dictionary.h"
#include "model/span.h"
#include "storage/fields.h"
#include "storage/reader.h"

// Spans in column form: what the store's head holds and what a block stores, one column per
// well-known field and one sparse column per attribute key (docs/block-format.md).
namespace waggle::storage::columnar {

// The well-known fields (StringField, IntField) are storage's: storage/fields.h.

// A span's well-known fields by column: what SpanTable::Append reads and Row writes (for
// readers that build spans straight from column chunks).
std::string& StringFieldOf(model::Span& span, StringField f);
void SetIntFields(const int64_t v[kIntFieldCount], model::Span* span);

// One attribute key (with its role and value type): the rows that have it and their values.
struct AttributeColumn {
  std::string key;
  model::AttributeRole role = model::AttributeRole::kPlain;
  model::AttributeValue::Type type = model::AttributeValue::Type::kString;
  std::vector<uint32_t> rows;    // non-decreasing (a span may repeat a key)
  std::vector<int64_t> ints;     // kInt, kBool
  std::vector<double> doubles;   // kDouble
  column::StringColumn strings;  // kString, kBytes, kJson

  bool is_string() const;
  size_t size() const { return rows.size(); }
};

// Thread-compatible.
class SpanTable {
 public:
  size_t size() const { return trace_ids.size(); }
  bool empty() const { return trace_ids.empty(); }

  // A shared context's attributes (model::SpanBatch::contexts) with their columns found and
  // their values interned in this table, so that Append adds them to a span looking nothing
  // up. For this table only.
  struct ResolvedContext {
    struct Entry {
      uint32_t column;
      model::AttributeValue::Type type;
      int64_t value;  // a string's code, an int (a bool as 0/1), a double's bits
    };
    std::vector<Entry> entries;
  };
  ResolvedContext Resolve(const model::Attributes& context);

  // Appends `span`, with `context`'s attributes (when not null) before its own.
  void Append(const model::Span& span, const ResolvedContext* context = nullptr);
  // The span in `row`. Attributes come back grouped by column (in order of each column's
  // first appearance), not in the order they were appended.
  model::Span Row(uint32_t row) const;
  // Which attribute columns (by index) `options` asks for, to fill rows with only those.
  std::vector<uint8_t> WantedColumns(const FetchOptions& options) const;
  // Sets `span` to the span in `row`, with only the attribute columns `wanted` marks (all when
  // null), building none of the others.
  void FillRow(uint32_t row, model::Span* span, const std::vector<uint8_t>* wanted) const;

  // The attribute column for (key, role, type), created when missing.
  AttributeColumn* Attribute(std::string_view key, model::AttributeRole role,
                             model::AttributeValue::Type type);
  const AttributeColumn* FindAttribute(std::string_view key, model::AttributeRole role,
                                       model::AttributeValue::Type type) const;

  // Reserves room for as many rows as `like` holds, and for each attribute column it has as
  // many entries, for when this one is created: a new head sized like the one before it then
  // fills without growing its columns by copying them.
  // Called once, on a table still empty.
  void ReserveLike(const SpanTable& like);
  // Empties the table to be filled again as the next head, keeping the room its columns took:
  // filling new columns faults their pages in again, which cost more than filling them (see
  // Engine::FlushOne). An attribute column keeps its room for the next column of its key
  // (role, type); a column whose key does not come back is freed at the next Clear.
  void Clear();

  // Approximate heap bytes, for the head's flush threshold.
  size_t memory_bytes() const { return memory_bytes_; }

  // Events and links of a span, encoded as trace fragments encode them (DecodeExtras needs
  // span->start_ns set; false when `in` is not such an encoding).
  static void EncodeExtras(const model::Span& span, std::string* out);
  static bool DecodeExtras(std::string_view in, model::Span* span);

  std::vector<model::TraceId> trace_ids;
  std::vector<model::SpanId> span_ids;
  std::vector<model::SpanId> parent_ids;
  std::array<column::StringColumn, kStringFieldCount> strings;
  std::array<std::vector<int64_t>, kIntFieldCount> ints;
  std::vector<AttributeColumn> attributes;
  // Rows with events or links, and their encoded extras (sparse).
  std::vector<uint32_t> extra_rows;
  std::vector<std::string> extras;

  column::StringColumn& string(StringField f) { return strings[static_cast<size_t>(f)]; }
  const column::StringColumn& string(StringField f) const {
    return strings[static_cast<size_t>(f)];
  }
  std::vector<int64_t>& ints_of(IntField f) { return ints[static_cast<size_t>(f)]; }
  const std::vector<int64_t>& ints_of(IntField f) const { return ints[static_cast<size_t>(f)]; }

  // Appends row `row` of `other` (used to merge and sort).
  void AppendRow(const SpanTable& other, uint32_t row);

 private:
  // The index key of a column: role, type, then the attribute key.
  static void ColumnKey(std::string_view key, model::AttributeRole role,
                        model::AttributeValue::Type type, std::string* out);

  column::Dictionary attribute_index_;  // ColumnKey -> index in `attributes`
  // From ReserveLike: ColumnKey -> entries that column held in the table reserved after. From
  // Clear: ColumnKey -> the emptied column in spare_columns_.
  column::Dictionary reserve_index_;
  std::vector<uint32_t> reserve_entries_;
  std::vector<AttributeColumn> spare_columns_;
  // By span name (its code), the columns of the last such span's attributes, in order: for
  // the first kMaxNameTemplates names.
  static constexpr uint32_t kMaxNameTemplates = 4096;
  std::vector<std::vector<uint32_t>> columns_by_name_;
  // For other names: by the previous attribute's column + 1 (0: none), the column that came
  // next last time.
  std::vector<uint32_t> next_column_;
  std::string key_scratch_;
  size_t memory_bytes_ = 0;
};

// A batch's shared contexts as one table resolves them, each at its first use.
// Thread-compatible; the contexts and the table outlive it.
class ContextResolver {
 public:
  ContextResolver(const std::vector<model::Attributes>& contexts, SpanTable* table)
      : contexts_(contexts), table_(*table), resolved_(contexts.size()) {}
  // What to append `span` with: its context resolved, or null when it has none.
  const SpanTable::ResolvedContext* For(const model::Span& span);

 private:
  const std::vector<model::Attributes>& contexts_;
  SpanTable& table_;
  std::vector<std::optional<SpanTable::ResolvedContext>> resolved_;  // by context
};

}  // namespace waggle::storage::columnar
