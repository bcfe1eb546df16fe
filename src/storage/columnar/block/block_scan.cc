// Block::Scan and Block::ListColumns: column batches out of a block's row groups.
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <numeric>

#include "base/coding.h"
#include "storage/columnar/block/block.h"
#include "storage/columnar/block/hex_runs.h"

namespace waggle::storage::columnar::block {
namespace {

using column::Vector;
using column::VectorType;
using model::AttributeValue;

Status Corrupt(const std::string& what) { return Status::Corruption("block: " + what); }

bool Matches(const ColumnMeta& c, const ColumnRef& ref) {
  switch (ref.kind) {
    case ColumnRef::Kind::kTraceId:
      return c.kind == ColumnKind::kTraceId;
    case ColumnRef::Kind::kSpanId:
      return c.kind == ColumnKind::kSpanId;
    case ColumnRef::Kind::kParentId:
      return c.kind == ColumnKind::kParentId;
    case ColumnRef::Kind::kString:
      return c.kind == ColumnKind::kString && c.field == ref.field;
    case ColumnRef::Kind::kInt:
      return c.kind == ColumnKind::kInt && c.field == ref.field;
    case ColumnRef::Kind::kAttribute:
      return c.kind == ColumnKind::kAttribute && c.role == ref.role && c.type == ref.type &&
             c.name == ref.key;
  }
  return false;
}

// The columns of one row group, read and decoded at most once each. Vectors borrow strings
// from the chunks read, so a group's vectors live until the next Start().
class GroupReader {
 public:
  // Reads column c's chunk of a row group (Block::ReadColumnChunk).
  using ReadFn = std::function<Status(size_t c, size_t group, std::string*, std::string_view*)>;

  GroupReader(const BlockMeta& meta, ReadFn read, std::string_view path)
      : meta_(meta),
        read_(std::move(read)),
        path_(path),
        scratch_(meta.columns.size()),
        raw_(meta.columns.size()),
        loaded_(meta.columns.size(), 0) {}

  void Start(size_t group) {
    group_ = group;
    rows_ = meta_.row_groups[group].rows;
    std::fill(loaded_.begin(), loaded_.end(), 0);
    for (FieldCodes& f : fields_) f.loaded = false;
  }

  // The chunk of column `c` in the current group, decompressed.
  Result<std::string_view> Raw(size_t c) {
    if (!loaded_[c]) {
      WAGGLE_RETURN_IF_ERROR(read_(c, group_, &scratch_[c], &raw_[c]));
      loaded_[c] = 1;
    }
    return raw_[c];
  }

  // The dictionary of string chunk `c` (its views point into the chunk).
  // For an attribute whose entries stand for a string field's values, the field's dictionary
  // too: what the entries can hold.
  Status Dictionary(size_t c, std::vector<std::string_view>* dict) {
    WAGGLE_ASSIGN_OR_RETURN(std::string_view in, Raw(c));
    if (meta_.columns[c].kind != ColumnKind::kAttribute) return DecodeDictionary(in, dict);
    // A sparse chunk: the rows come first. Only their count matters here, so rows another
    // column gives are not looked up.
    SparseRowsSource source;
    Status s = DecodeSparseRows(&in, rows_, &rows_scratch_, &source);
    if (s.ok() && source.column != SparseRowsSource::kOwn) s = meta_.CheckRowsSource(c, source);
    int field = -1;
    if (s.ok()) s = DecodeEntryDictionary(in, source.count, dict, &field);
    if (!s.ok()) return Bad(meta_.columns[c], s.message());
    if (field < 0) return Status::Ok();
    // The field's dictionary alone: its codes are not needed to answer what values can occur
    // (but when another column already decoded them, its dictionary is at hand).
    const FieldCodes& decoded = fields_[static_cast<size_t>(field)];
    if (decoded.loaded) {
      dict->insert(dict->end(), decoded.dict.begin(), decoded.dict.end());
      return Status::Ok();
    }
    const size_t fc = meta_.string_columns[static_cast<size_t>(field)];
    WAGGLE_ASSIGN_OR_RETURN(std::string_view field_in, Raw(fc));
    s = DecodeDictionary(field_in, &field_dict_);
    if (!s.ok())
      return Bad(meta_.columns[c], "its field " + meta_.columns[fc].name + ": " + s.message());
    dict->insert(dict->end(), field_dict_.begin(), field_dict_.end());
    return Status::Ok();
  }

  // Fills `out` with column `c` (-1: a column the block lacks, all rows without a value) as
  // `ref` asks for it; trace ids only at the rows of `only`, when given (sixteen bytes a row
  // are worth not copying for rows no one reads).
  Status Load(int c, const ColumnRef& ref, Vector* out,
              const column::SelectionVector* only = nullptr) {
    const size_t m = rows_;
    if (only != nullptr && c >= 0 &&
        meta_.columns[static_cast<size_t>(c)].kind == ColumnKind::kTraceId) {
      out->type = column::VectorType::kTraceId;
      out->trace_ids.resize(m);  // what other rows hold is left as it was
      WAGGLE_ASSIGN_OR_RETURN(std::string_view in, Raw(static_cast<size_t>(c)));
      Status s = DecodeTraceRuns(in, m, &runs_);
      if (!s.ok()) return Bad(meta_.columns[static_cast<size_t>(c)], s.message());
      size_t r = 0, run_end = runs_.empty() ? 0 : runs_[0].rows;
      for (uint32_t row : *only) {
        while (row >= run_end && r + 1 < runs_.size()) run_end += runs_[++r].rows;
        if (row >= run_end) return Bad(meta_.columns[static_cast<size_t>(c)], "rows past the runs");
        out->trace_ids[row] = runs_[r].id;
      }
      return Status::Ok();
    }
    out->Reset(ref.vector_type());
    if (c < 0) {
      LoadMissing(out);
      return Status::Ok();
    }
    const ColumnMeta& meta = meta_.columns[static_cast<size_t>(c)];
    WAGGLE_ASSIGN_OR_RETURN(std::string_view in, Raw(static_cast<size_t>(c)));
    Status s;
    switch (meta.kind) {
      case ColumnKind::kTraceId:
        s = DecodeTraceRuns(in, m, &runs_);
        out->trace_ids.reserve(m);
        for (const TraceRun& r : runs_) out->trace_ids.insert(out->trace_ids.end(), r.rows, r.id);
        break;
      case ColumnKind::kSpanId:
        s = DecodeSpanIds(in, m, &ids_scratch_);
        out->ints.assign(ids_scratch_.begin(), ids_scratch_.end());
        break;
      case ColumnKind::kParentId: {
        // Back references name rows of the same group: the span ids resolve them.
        WAGGLE_ASSIGN_OR_RETURN(std::string_view spans, Raw(meta_.span_id_column));
        s = DecodeSpanIds(spans, m, &ids_scratch_);
        if (!s.ok()) break;
        std::vector<uint64_t> parents(m);
        s = DecodeParents(&in, m, ids_scratch_.data(), parents.data());
        out->ints.assign(parents.begin(), parents.end());
        break;
      }
      case ColumnKind::kString:
        s = DecodeStringCodes(&in, m, &out->dict, &out->codes);
        break;
      case ColumnKind::kInt:
        s = DecodeInts(&in, m, &out->ints);
        break;
      case ColumnKind::kAttribute:
        s = LoadSparse(static_cast<size_t>(c), in, out);
        break;
      case ColumnKind::kExtras:
      case ColumnKind::kHexTable:
        s = Status::Corruption("not a scannable column");
        break;
    }
    return s.ok() ? s : Bad(meta, s.message());
  }

  size_t rows() const { return rows_; }

 private:
  // A string field's chunk in the current group, decoded.
  struct FieldCodes {
    bool loaded = false;
    std::vector<std::string_view> dict;
    std::vector<uint32_t> codes;
  };

  // String field `field`'s chunk, decoded once per group: the reference chunks of several
  // attributes can name it.
  Status Field(int field, const FieldCodes** out) {
    FieldCodes& f = fields_[static_cast<size_t>(field)];
    if (!f.loaded) {
      const size_t c = meta_.string_columns[static_cast<size_t>(field)];
      WAGGLE_ASSIGN_OR_RETURN(std::string_view in, Raw(c));
      f.dict.clear();
      f.codes.clear();
      Status s = DecodeStringCodes(&in, rows_, &f.dict, &f.codes);
      if (!s.ok())
        return Status::Corruption("its field " + meta_.columns[c].name + ": " + s.message());
      f.loaded = true;
    }
    *out = &f;
    return Status::Ok();
  }

  Status Bad(const ColumnMeta& c, std::string_view what) const {
    return Status::Corruption("block " + std::string(path_) + " column " + c.name + ": " +
                              std::string(what));
  }

  void LoadMissing(Vector* out) const {
    switch (out->type) {
      case VectorType::kString:
        out->codes.assign(rows_, column::kNullCode);
        break;
      case VectorType::kDouble:
        out->doubles.assign(rows_, 0);
        out->nulls.assign(rows_, 1);
        break;
      default:
        out->ints.assign(rows_, 0);
        out->nulls.assign(rows_, 1);
        break;
    }
  }

  // The rows of attribute column `c`'s chunk `in` (read past them), or of the earlier column
  // whose rows it refers to.
  Status SparseRows(size_t c, std::string_view* in, std::vector<int64_t>* rows) {
    SparseRowsSource source;
    WAGGLE_RETURN_IF_ERROR(DecodeSparseRows(in, rows_, rows, &source));
    if (source.column == SparseRowsSource::kOwn) return Status::Ok();
    WAGGLE_RETURN_IF_ERROR(meta_.CheckRowsSource(c, source));
    WAGGLE_ASSIGN_OR_RETURN(std::string_view other, Raw(static_cast<size_t>(source.column)));
    WAGGLE_RETURN_IF_ERROR(DecodeSparseRows(&other, rows_, rows));  // a reference there is corrupt
    return BlockMeta::CheckRowsCount(source, *rows);
  }

  // A sparse column, scattered into a slot per row (nulls where a row has no value).
  Status LoadSparse(size_t c, std::string_view in, Vector* out) {
    WAGGLE_RETURN_IF_ERROR(SparseRows(c, &in, &rows_scratch_));
    const ColumnMeta& meta = meta_.columns[c];
    const size_t count = rows_scratch_.size();
    LoadMissing(out);
    if (out->type == VectorType::kString) {
      codes_scratch_.clear();
      int field;
      WAGGLE_RETURN_IF_ERROR(DecodeEntryStrings(&in, count, &out->dict, &codes_scratch_, &field));
      if (field >= 0) {
        // Entries that stand for the field's value take its code, past the chunk's own
        // dictionary (so a string can be in the vector's dictionary twice).
        const FieldCodes* f;
        WAGGLE_RETURN_IF_ERROR(Field(field, &f));
        const auto own = static_cast<uint32_t>(out->dict.size());
        out->dict.insert(out->dict.end(), f->dict.begin(), f->dict.end());
        for (size_t i = 0; i < count; ++i) {
          if (codes_scratch_[i] == kSameAsField) {
            codes_scratch_[i] = own + f->codes[static_cast<size_t>(rows_scratch_[i])];
          }
        }
      }
      for (size_t i = 0; i < count; ++i) out->codes[rows_scratch_[i]] = codes_scratch_[i];
      return Status::Ok();
    }
    if (meta.type == AttributeValue::Type::kDouble) {
      doubles_scratch_.clear();
      WAGGLE_RETURN_IF_ERROR(DecodeDoubles(&in, count, &doubles_scratch_));
      for (size_t i = 0; i < count; ++i) out->doubles[rows_scratch_[i]] = doubles_scratch_[i];
    } else {
      values_scratch_.clear();
      WAGGLE_RETURN_IF_ERROR(DecodeInts(&in, count, &values_scratch_));
      for (size_t i = 0; i < count; ++i) out->ints[rows_scratch_[i]] = values_scratch_[i];
    }
    for (int64_t r : rows_scratch_) out->nulls[r] = 0;
    return Status::Ok();
  }

  const BlockMeta& meta_;
  ReadFn read_;
  std::string_view path_;
  std::vector<std::string> scratch_;
  std::vector<std::string_view> raw_;  // in the block's mapping or in scratch_
  std::vector<uint8_t> loaded_;
  size_t group_ = 0, rows_ = 0;
  std::vector<int64_t> rows_scratch_, values_scratch_;
  std::vector<uint64_t> ids_scratch_;
  std::vector<double> doubles_scratch_;
  std::vector<uint32_t> codes_scratch_;
  std::vector<std::string_view> field_dict_;
  std::array<FieldCodes, kStringFieldCount> fields_;
  std::vector<TraceRun> runs_;
};

bool AnyIn(const std::vector<std::string_view>& dict, const std::vector<std::string>& values) {
  for (std::string_view d : dict) {
    for (const std::string& v : values) {
      if (d == v) return true;
    }
  }
  return false;
}

}  // namespace

Status Block::ReadTracesRows(size_t group, const WantedTrace* wanted, size_t count,
                             const FetchOptions& options) const {
  const size_t m = meta_.row_groups[group].rows;
  std::string scratch, extras_scratch;  // the extras' blobs are decoded after the other columns
  std::string_view raw;
  // Each wanted trace's rows [a, b) of the group, from the trace id runs (both in id order),
  // and where its spans begin in its `out`.
  struct Range {
    size_t a, b;
    model::Span* spans;
  };
  std::vector<Range> ranges;
  std::vector<TraceRun> runs;
  {
    const ColumnMeta& c = meta_.columns[meta_.trace_id_column];
    WAGGLE_RETURN_IF_ERROR(ReadChunkAt(c.chunks[group], &scratch, &raw));
    Status s = DecodeTraceRuns(raw, m, &runs);
    if (!s.ok()) return Corrupt(path_ + " column " + c.name + ": " + s.message());
    size_t w = 0;
    for (size_t r = 0, at = 0; r < runs.size() && w < count; at += runs[r++].rows) {
      while (w < count && wanted[w].id < runs[r].id) ++w;
      if (w == count || wanted[w].id != runs[r].id || runs[r].rows == 0) continue;
      std::vector<model::Span>& out = wanted[w].out->spans;
      const size_t first = out.size();
      out.resize(first + runs[r].rows);
      for (size_t i = first; i < out.size(); ++i) out[i].trace_id = runs[r].id;
      ranges.push_back({at, at + runs[r].rows, out.data() + first});
    }
  }
  if (ranges.empty()) return Status::Ok();
  const size_t end = ranges.back().b;  // no row past it is needed
  size_t wanted_rows = 0;
  for (const Range& g : ranges) wanted_rows += g.b - g.a;
  std::vector<std::array<int64_t, kIntFieldCount>> ints(wanted_rows);  // per wanted row
  std::vector<int64_t> values, extras_rows;
  std::vector<uint64_t> span_ids, parents;
  std::vector<double> doubles;
  std::vector<std::string_view> dict;
  std::vector<uint32_t> codes;
  std::vector<std::pair<model::Span*, std::string_view>> extras;  // span, blob
  std::vector<std::pair<size_t, model::Span*>> hits;  // a sparse column's entry, its span
  // Calls each(span, row, k) for every wanted row, the k-th of them.
  auto for_rows = [&](const auto& each) {
    size_t k = 0;
    for (const Range& g : ranges) {
      for (size_t r = g.a; r < g.b; ++r) each(g.spans[r - g.a], r, k++);
    }
  };
  // Span ids first, wherever the footer lists them: parents refer back to rows through them.
  {
    const ColumnMeta& c = meta_.columns[meta_.span_id_column];
    WAGGLE_RETURN_IF_ERROR(ReadChunkAt(c.chunks[group], &scratch, &raw));
    Status s = DecodeSpanIds(raw, m, &span_ids);
    if (!s.ok()) return Corrupt(path_ + " column " + c.name + ": " + s.message());
    for_rows([&](model::Span& sp, size_t r, size_t) { sp.span_id.value = span_ids[r]; });
  }
  GroupHexTable hex_runs;
  GroupRows sparse(*this, group, &hex_runs);
  for (size_t ci = 0; ci < meta_.columns.size(); ++ci) {
    const ColumnMeta& c = meta_.columns[ci];
    if (c.kind == ColumnKind::kTraceId || c.kind == ColumnKind::kSpanId ||
        c.kind == ColumnKind::kHexTable) {
      continue;
    }
    if (c.kind == ColumnKind::kAttribute && !options.Wants(c.name, c.role)) continue;
    WAGGLE_RETURN_IF_ERROR(ReadGroupChunk(
        ci, group, &hex_runs, c.kind == ColumnKind::kExtras ? &extras_scratch : &scratch, &raw));
    std::string_view in = raw;
    Status s;
    switch (c.kind) {
      case ColumnKind::kTraceId:
      case ColumnKind::kSpanId:
      case ColumnKind::kHexTable:
        break;  // read above, or by the chunks that refer to it
      case ColumnKind::kParentId:
        // Parents refer back within the group: the rows up to the last wanted.
        parents.resize(end);
        s = DecodeParents(&in, end, span_ids.data(), parents.data());
        if (s.ok()) {
          for_rows(
              [&](model::Span& sp, size_t r, size_t) { sp.parent_span_id.value = parents[r]; });
        }
        break;
      case ColumnKind::kString: {
        dict.clear();
        codes.clear();
        s = DecodeStringCodes(&in, m, &dict, &codes, end);  // the rows up to the last wanted
        const auto f = static_cast<StringField>(c.field);
        if (s.ok()) {
          for_rows(
              [&](model::Span& sp, size_t r, size_t) { StringFieldOf(sp, f) = dict[codes[r]]; });
        }
        break;
      }
      case ColumnKind::kInt:
        values.clear();
        s = DecodeInts(&in, m, &values, end);
        if (s.ok())
          for_rows([&](model::Span&, size_t r, size_t k) { ints[k][c.field] = values[r]; });
        break;
      case ColumnKind::kAttribute:
      case ColumnKind::kExtras: {
        s = c.kind == ColumnKind::kAttribute ? sparse.Decode(ci, &in)
                                             : DecodeSparseRows(&in, m, &extras_rows);
        if (!s.ok()) break;
        const std::vector<int64_t>& rows =
            c.kind == ColumnKind::kAttribute ? sparse.rows(ci) : extras_rows;
        const size_t n = rows.size();
        // Entry i belongs to the wanted span at its row, if any: walk entries and ranges
        // together (both in row order).
        hits.clear();
        size_t e = 0;
        for (const Range& g : ranges) {
          e = static_cast<size_t>(std::lower_bound(rows.begin() + static_cast<ptrdiff_t>(e),
                                                   rows.end(), static_cast<int64_t>(g.a)) -
                                  rows.begin());
          for (; e < n && rows[e] < static_cast<int64_t>(g.b); ++e) {
            hits.emplace_back(e, &g.spans[static_cast<size_t>(rows[e]) - g.a]);
          }
        }
        if (c.kind == ColumnKind::kExtras) {
          size_t h = 0;
          for (size_t i = 0; s.ok() && i < n; ++i) {
            std::string_view blob;
            if (!coding::GetLengthPrefixed(&in, &blob)) s = Status::Corruption("truncated extras");
            if (h < hits.size() && hits[h].first == i) extras.emplace_back(hits[h++].second, blob);
          }
          break;
        }
        if (hits.empty()) break;  // none of the wanted spans has it
        auto add = [&](model::Span* sp) -> model::AttributeValue& {
          model::Attribute& at = sp->attributes.emplace_back();
          at.key = c.name;
          at.role = c.role;
          at.value.type = c.type;
          return at.value;
        };
        if (AttributeValue::IsStringType(c.type)) {
          dict.clear();
          codes.clear();
          int field;
          s = DecodeEntryStrings(&in, n, &dict, &codes, &field, hits.back().first + 1);
          // An entry that stands for a field takes the span's value of it, set already: the
          // footer lists the string fields before the attributes.
          for (size_t i = 0; s.ok() && i < hits.size(); ++i) {
            model::Span* sp = hits[i].second;
            const uint32_t code = codes[hits[i].first];
            add(sp).string_value =
                code == kSameAsField
                    ? std::string_view(StringFieldOf(*sp, static_cast<StringField>(field)))
                    : std::string_view(dict[code]);
          }
        } else if (c.type == AttributeValue::Type::kDouble) {
          doubles.clear();
          s = DecodeDoubles(&in, n, &doubles);
          for (size_t i = 0; s.ok() && i < hits.size(); ++i) {
            add(hits[i].second).double_value = doubles[hits[i].first];
          }
        } else {
          values.clear();
          s = DecodeInts(&in, n, &values, hits.back().first + 1);  // up to the last wanted
          for (size_t i = 0; s.ok() && i < hits.size(); ++i) {
            add(hits[i].second).int_value = values[hits[i].first];
          }
        }
        break;
      }
    }
    if (!s.ok()) return Corrupt(path_ + " column " + c.name + ": " + s.message());
  }
  for_rows([&](model::Span& sp, size_t, size_t k) { SetIntFields(ints[k].data(), &sp); });
  for (const auto& [span, blob] : extras) {
    if (!SpanTable::DecodeExtras(blob, span)) {
      return Corrupt(path_ + ": undecodable events or links");
    }
  }
  return Status::Ok();
}

void Block::ListColumns(std::vector<ColumnRef>* out) const {
  for (const ColumnMeta& c : meta_.columns) {
    if (c.kind == ColumnKind::kAttribute)
      out->push_back(ColumnRef::Attribute(c.name, c.role, c.type));
  }
}

Status Block::Scan(const ScanPlan& plan, const BatchFn& consume, ScanStats* stats,
                   bool* stopped) const {
  if (meta_.row_groups.empty()) return Status::Ok();
  auto find = [&](const ColumnRef& ref) -> int {
    for (size_t c = 0; c < meta_.columns.size(); ++c) {
      if (Matches(meta_.columns[c], ref)) return static_cast<int>(c);
    }
    return -1;
  };
  const ScanRequest& request = plan.request;
  const std::vector<Condition>& where = plan.where;
  const std::vector<int>& where_out = plan.in_batch;

  // Skip the whole block when a condition's column is missing or a Bloom filter rules out
  // every wanted value.
  std::vector<int> where_col(where.size());
  for (size_t i = 0; i < where.size(); ++i) {
    where_col[i] = find(where[i].column);
    const Condition& w = where[i];
    bool none = where_col[i] < 0;
    if (!none && w.op == Condition::Op::kIn) {
      none = std::none_of(w.values.begin(), w.values.end(), [&](const std::string& v) {
        return MayContainValue(w.column.name(), v);
      });
    }
    if (none) {
      ++stats->parts_skipped;
      return Status::Ok();
    }
  }
  // Skip it when none of its traces lies in the trace id bounds.
  const bool bounded = request.BoundsTraceIds();
  auto outside = [&](const model::TraceId& first, const model::TraceId& last) {
    return last < request.first_trace_id || request.last_trace_id < first;
  };
  if (bounded && outside(meta_.row_groups.front().first, meta_.row_groups.back().last)) {
    ++stats->parts_skipped;
    return Status::Ok();
  }
  std::vector<int> out_col(request.columns.size());
  for (size_t i = 0; i < request.columns.size(); ++i) out_col[i] = find(request.columns[i]);
  const int trace_col = static_cast<int>(meta_.trace_id_column);  // DecodeFooter found it
  const int trace_out = plan.trace_id_in_batch;
  Vector trace_scratch;

  // The last scan of the block to end, however it ends, takes the pages it mapped in out of
  // the resident set (they stay in the page cache): the RSS then holds the pages of blocks
  // being scanned, not of every block ever scanned. (A block skipped above mapped nothing.)
  struct LastOutReleases {
    const Block* block;
    explicit LastOutReleases(const Block* b) : block(b) { b->scans_.fetch_add(1); }
    ~LastOutReleases() {
      if (block->scans_.fetch_sub(1) == 1) block->file_->DropResidentPages();
    }
  } release(this);
  GroupHexTable hex_runs;
  GroupReader reader(
      meta_,
      [this, &hex_runs](size_t c, size_t group, std::string* scratch, std::string_view* raw) {
        return ReadColumnChunk(c, group, &hex_runs, scratch, raw);
      },
      path_);
  column::ColumnBatch batch;
  batch.columns.resize(request.columns.size());
  std::vector<Vector> scratch(where.size());
  std::vector<uint8_t> loaded(request.columns.size()), all_pass(where.size());
  std::vector<std::string_view> dict;
  uint64_t groups_skipped = 0;
  for (size_t g = 0; g < meta_.row_groups.size(); ++g) {
    const size_t m = meta_.row_groups[g].rows;
    reader.Start(g);
    // Pass 1: rule the group out by min/max and dictionaries, and note conditions that every
    // row meets.
    const RowGroupMeta& rg = meta_.row_groups[g];
    bool skip = bounded && outside(rg.first, rg.last);
    std::fill(all_pass.begin(), all_pass.end(), 0);
    for (size_t i = 0; i < where.size() && !skip; ++i) {
      const Condition& w = where[i];
      const ColumnMeta& c = meta_.columns[static_cast<size_t>(where_col[i])];
      if (w.op == Condition::Op::kRange && c.kind == ColumnKind::kInt) {
        skip = c.max[g] < w.lo || c.min[g] > w.hi || w.lo > w.hi;
        all_pass[i] = c.min[g] >= w.lo && c.max[g] <= w.hi;
      } else if (w.op == Condition::Op::kIn) {
        WAGGLE_RETURN_IF_ERROR(reader.Dictionary(static_cast<size_t>(where_col[i]), &dict));
        skip = !AnyIn(dict, w.values);
        if (c.kind == ColumnKind::kString && dict.size() == 1) all_pass[i] = !skip;
      }
    }
    if (skip) {
      ++groups_skipped;
      continue;
    }
    // Pass 2: evaluate the rest over vectors, narrowing the selection.
    std::fill(loaded.begin(), loaded.end(), 0);
    batch.rows = m;
    batch.selection.resize(m);
    std::iota(batch.selection.begin(), batch.selection.end(), 0u);
    bool examined = false;
    if (bounded && (rg.first < request.first_trace_id || request.last_trace_id < rg.last)) {
      // Part of the group lies outside the bounds: narrow to the rows inside.
      Vector* v = &trace_scratch;
      if (trace_out >= 0) {
        v = &batch.columns[static_cast<size_t>(trace_out)];
        loaded[static_cast<size_t>(trace_out)] = 1;
      }
      WAGGLE_RETURN_IF_ERROR(reader.Load(trace_col, ColumnRef::TraceId(), v));
      SelectTraceIds(request, *v, &batch.selection);
      examined = true;
    }
    for (size_t i = 0; i < where.size() && !batch.selection.empty(); ++i) {
      if (all_pass[i]) continue;
      examined = true;
      const ColumnMeta& c = meta_.columns[static_cast<size_t>(where_col[i])];
      if (where_out[i] < 0 && where[i].op == Condition::Op::kRange && c.kind == ColumnKind::kInt) {
        // Compare packed values where they lie, decoding nothing.
        WAGGLE_ASSIGN_OR_RETURN(std::string_view in, reader.Raw(static_cast<size_t>(where_col[i])));
        bool done;
        Status s = SelectIntRange(in, m, where[i].lo, where[i].hi, &batch.selection, &done);
        if (!s.ok())
          return Status::Corruption("block " + path_ + " column " + c.name + ": " + s.message());
        if (done) continue;
      }
      Vector* v = &scratch[i];
      if (where_out[i] >= 0) {
        v = &batch.columns[static_cast<size_t>(where_out[i])];
        loaded[static_cast<size_t>(where_out[i])] = 1;
      }
      WAGGLE_RETURN_IF_ERROR(reader.Load(where_col[i], where[i].column, v));
      Select(where[i], *v, &batch.selection);
    }
    if (examined) stats->rows_examined += m;
    if (batch.selection.empty()) continue;
    for (size_t j = 0; j < request.columns.size(); ++j) {
      if (!loaded[j]) {
        WAGGLE_RETURN_IF_ERROR(
            reader.Load(out_col[j], request.columns[j], &batch.columns[j], &batch.selection));
      }
    }
    ++stats->batches;
    stats->rows_selected += batch.selection.size();
    if (!consume(batch)) {
      *stopped = true;
      break;
    }
  }
  if (groups_skipped == meta_.row_groups.size()) {
    ++stats->parts_skipped;
  } else {
    stats->groups_skipped += groups_skipped;
  }
  return Status::Ok();
}

}  // namespace waggle::storage::columnar::block
