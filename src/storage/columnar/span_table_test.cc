#include "storage/columnar/span_table.h"

#include <gtest/gtest.h>

#include "storage/testing/random_spans.h"

namespace waggle::storage::columnar {
namespace {

using storage::testing::Canonical;
using storage::testing::RandomTrace;

// Appends `n` spans of distinct names, so that a name appended next is numbered `n`. Append
// keeps a template by name for the first 4096 names only: n = 5000 tests the tables without.
void AppendOtherNames(uint32_t n, SpanTable* table) {
  for (uint32_t i = 0; i < n; ++i) {
    model::Span named;
    named.name = "name-" + std::to_string(i);
    table->Append(named);
  }
}

TEST(SpanTable, EveryFieldOfEverySpanComesBack) {
  std::mt19937_64 rng(3);
  SpanTable table;
  std::vector<model::Span> all;
  for (int t = 0; t < 200; ++t) {
    for (model::Span& s : RandomTrace(rng, 1 + rng() % 12)) {
      table.Append(s);
      all.push_back(std::move(s));
    }
  }
  ASSERT_EQ(table.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(Canonical(table.Row(static_cast<uint32_t>(i))), Canonical(all[i])) << "row " << i;
  }
  EXPECT_GT(table.memory_bytes(), 0u);
}

// A span appended with its shared context resolved comes back as the span with that context's
// attributes in its own list: the same rows as appending it so.
TEST(SpanTable, ASpanWithASharedContextComesBackWithItsAttributes) {
  std::mt19937_64 rng(5);
  model::SpanBatch batch;
  for (int t = 0; t < 100; ++t) {
    for (model::Span& s : RandomTrace(rng, 1 + rng() % 12)) batch.spans.push_back(std::move(s));
  }
  storage::testing::ShareRandomContexts(rng, &batch);
  SpanTable table;
  ContextResolver contexts(batch.contexts, &table);
  for (const model::Span& s : batch.spans) table.Append(s, contexts.For(s));
  model::SpanBatch whole = batch;
  whole.Materialize();
  SpanTable want;
  for (const model::Span& s : whole.spans) want.Append(s);
  ASSERT_EQ(table.size(), whole.spans.size());
  for (size_t i = 0; i < whole.spans.size(); ++i) {
    const auto row = static_cast<uint32_t>(i);
    ASSERT_EQ(Canonical(table.Row(row)), Canonical(whole.spans[i])) << "row " << i;
    ASSERT_EQ(table.Row(row), want.Row(row)) << "row " << i;
  }
  // Each context was resolved once, its strings interned once.
  const AttributeColumn* host = table.FindAttribute("host.name", model::AttributeRole::kResource,
                                                    model::AttributeValue::Type::kString);
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(host->strings.dict.size(), 3u);
  EXPECT_GT(table.memory_bytes(), want.memory_bytes() / 2);
}

TEST(SpanTable, EndTimesSurviveEveryCase) {
  SpanTable table;
  model::Span s;
  s.start_ns = 100;
  for (int64_t end : {int64_t{0}, int64_t{100}, int64_t{99}, int64_t{101}, INT64_MAX, INT64_MIN}) {
    s.end_ns = end;
    table.Append(s);
  }
  EXPECT_EQ(table.Row(0).end_ns, 0);
  EXPECT_EQ(table.Row(1).end_ns, 100);
  EXPECT_EQ(table.Row(2).end_ns, 99);
  EXPECT_EQ(table.Row(3).end_ns, 101);
  EXPECT_EQ(table.Row(4).end_ns, INT64_MAX);
  EXPECT_EQ(table.Row(5).end_ns, INT64_MIN);
}

TEST(SpanTable, ARepeatedKeyKeepsBothValues) {
  SpanTable table;
  model::Span s;
  s.attributes.push_back({"k", model::AttributeValue::String("a")});
  s.attributes.push_back({"k", model::AttributeValue::String("b")});
  table.Append(s);
  table.Append(model::Span{});
  EXPECT_EQ(table.Row(0).attributes, s.attributes);
  EXPECT_TRUE(table.Row(1).attributes.empty());
}

TEST(SpanTable, AnAttributeFindsTheColumnOfItsKeyRoleAndType) {
  // Append guesses each attribute's column; every guess that is wrong in key, role or type
  // must be caught.
  using model::AttributeValue;
  auto attr = [](std::string key, AttributeValue v,
                 model::AttributeRole role = model::AttributeRole::kPlain) {
    model::Attribute a{std::move(key), std::move(v)};
    a.role = role;
    return a;
  };
  std::vector<model::Span> spans(6);
  spans[0].attributes = {attr("k", AttributeValue::String("a")), attr("m", AttributeValue::Int(1))};
  spans[1].attributes = {attr("k", AttributeValue::Int(5)), attr("m", AttributeValue::Int(2))};
  spans[2].attributes = {attr("k", AttributeValue::String("c"), model::AttributeRole::kAnnotation),
                         attr("n", AttributeValue::String("x"))};
  spans[3].attributes = {attr("k", AttributeValue::String("b")), attr("m", AttributeValue::Int(3))};
  spans[4].attributes = {attr("m", AttributeValue::Int(4)), attr("k", AttributeValue::String("d"))};
  spans[5].attributes = {attr("k", AttributeValue::String("e")),
                         attr("mm", AttributeValue::Int(6))};
  // Spans of one name try the columns the last span of that name used; past the first 4096
  // names, the column that came after the previous attribute's. Both ways, here: the spans
  // all have the empty name, which a table that has seen 5000 other names first numbers 5000.
  for (const uint32_t first : {0u, 5000u}) {
    SpanTable table;
    AppendOtherNames(first, &table);
    for (const model::Span& s : spans) table.Append(s);
    // (k, string), (m, int), (k, int), (k, annotation), (n, string), (mm, int)
    EXPECT_EQ(table.attributes.size(), 6u);
    for (size_t i = 0; i < spans.size(); ++i) {
      EXPECT_EQ(Canonical(table.Row(static_cast<uint32_t>(first + i))), Canonical(spans[i]))
          << "row " << i << " after " << first << " names";
    }
    const AttributeColumn* k =
        table.FindAttribute("k", model::AttributeRole::kPlain, AttributeValue::Type::kString);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->rows, (std::vector<uint32_t>{first, first + 3, first + 4, first + 5}));
  }
}

TEST(SpanTable, LargeDictionariesRepeatedKeysAndColumnsCreatedMidSpanComeBack) {
  // Unique URLs and user ids (dictionaries of thousands), a key repeated within a span,
  // values that repeat the last span of the same name, and spans that add new columns after
  // their first attributes, so that the column vector moves while the span is appended; with
  // and without the name's column template.
  using model::AttributeValue;
  for (const uint32_t first : {0u, 5000u}) {
    SpanTable table;
    AppendOtherNames(first, &table);
    std::vector<model::Span> spans(6000);
    for (size_t i = 0; i < spans.size(); ++i) {
      model::Span& s = spans[i];
      s.name = "op-" + std::to_string(i % 3);
      s.http_url = "https://example.com/items/" + std::to_string(i);
      s.peer = i % 7 == 0 ? "db" : "api";
      s.attributes.push_back({"user", AttributeValue::String("user-" + std::to_string(i / 2))});
      s.attributes.push_back({"tag", AttributeValue::String("t" + std::to_string(i))});
      s.attributes.push_back({"tag", AttributeValue::String("u" + std::to_string(i))});
      s.attributes.push_back({"route", AttributeValue::String("/r" + std::to_string(i % 3))});
      if (i % 500 == 0) {
        for (int k = 0; k < 40; ++k) {
          s.attributes.push_back({"new-" + std::to_string(i) + "-" + std::to_string(k),
                                  AttributeValue::String("v" + std::to_string(k))});
        }
      }
      s.attributes.push_back({"size", AttributeValue::Int(static_cast<int64_t>(i))});
    }
    for (const model::Span& s : spans) table.Append(s);
    for (size_t i = 0; i < spans.size(); ++i) {
      ASSERT_EQ(Canonical(table.Row(static_cast<uint32_t>(first + i))), Canonical(spans[i]))
          << "row " << i << " after " << first << " names";
    }
    for (const AttributeColumn& c : table.attributes) {
      if (c.is_string()) EXPECT_EQ(c.strings.codes.size(), c.rows.size()) << c.key;
    }
    EXPECT_EQ(table.string(StringField::kHttpUrl).dict.size(), spans.size() + (first > 0 ? 1 : 0));
  }
}

// A name's template of columns counts toward the table's memory: a span of a new name costs,
// besides the name's own bytes, a template and a code per attribute more than a repeat does.
TEST(SpanTable, ANewNamesColumnTemplateCountsTowardItsMemory) {
  using model::AttributeValue;
  SpanTable table;
  auto span = [](std::string name) {
    model::Span s;
    s.name = std::move(name);
    for (int k = 0; k < 3; ++k) {
      s.attributes.push_back({"k" + std::to_string(k), AttributeValue::Int(k)});
    }
    return s;
  };
  // What appending `s` adds to the table's memory, and in `name_bytes` to the names' dictionary.
  auto cost = [&](const model::Span& s, size_t* name_bytes) {
    const size_t before = table.memory_bytes();
    const size_t names = table.string(StringField::kName).dict.bytes();
    table.Append(s);
    *name_bytes = table.string(StringField::kName).dict.bytes() - names;
    return table.memory_bytes() - before;
  };
  size_t name_bytes;
  cost(span("op-a"), &name_bytes);  // makes the columns
  const size_t repeat = cost(span("op-a"), &name_bytes);
  EXPECT_EQ(name_bytes, 0u);
  const size_t new_name = cost(span("op-b"), &name_bytes);
  EXPECT_EQ(new_name - repeat - name_bytes, sizeof(std::vector<uint32_t>) + 3 * sizeof(uint32_t));
}

// Past the first 4096 names, spans find their columns through the table of which column came
// after which, and that table's growth counts toward the memory too: a span that makes three
// columns costs, over a like span that makes none, the three columns and the table's growth
// (to 2 entries at the first column, then to 4 at the third).
TEST(SpanTable, TheNextColumnTableCountsTowardItsMemory) {
  using model::AttributeValue;
  SpanTable table;
  for (int i = 0; i < 4100; ++i) {
    model::Span s;
    s.name = "n" + std::to_string(i);
    table.Append(s);
  }
  auto cost = [&](std::string name, size_t* name_bytes) {
    model::Span s;
    s.name = std::move(name);
    for (int k = 0; k < 3; ++k) {
      s.attributes.push_back({"k" + std::to_string(k), AttributeValue::Int(k)});
    }
    const size_t before = table.memory_bytes();
    const size_t names = table.string(StringField::kName).dict.bytes();
    table.Append(s);
    *name_bytes = table.string(StringField::kName).dict.bytes() - names;
    return table.memory_bytes() - before;
  };
  size_t first_name, second_name;
  const size_t first = cost("x1", &first_name);  // makes k0, k1 and k2
  const size_t second = cost("x2", &second_name);
  ASSERT_EQ(table.attributes.size(), 3u);
  EXPECT_EQ(first_name, second_name);
  EXPECT_EQ(first - second, 3 * (sizeof(AttributeColumn) + 2 + 64) + 4 * sizeof(uint32_t));
  // Both came back with their values.
  for (uint32_t row : {4100u, 4101u}) {
    const model::Span got = table.Row(row);
    ASSERT_EQ(got.attributes.size(), 3u);
    EXPECT_EQ(got.attributes[2].value.int_value, 2);
  }
}

// A table reserved like another takes as many rows, and as many entries of each attribute
// column the other has, without growing a column; it holds the same spans either way.
TEST(SpanTable, ATableReservedLikeAnotherFillsWithoutGrowing) {
  std::mt19937_64 rng(5);
  std::vector<model::Span> all;
  for (int t = 0; t < 50; ++t) {
    for (model::Span& s : RandomTrace(rng, 1 + rng() % 12)) all.push_back(std::move(s));
  }
  for (model::Span& s : all) {
    s.attributes.push_back({"every.span", model::AttributeValue::String(s.name)});
    s.attributes.push_back({"every.count", model::AttributeValue::Int(7)});
  }
  SpanTable first;
  for (const model::Span& s : all) first.Append(s);
  SpanTable next;
  next.ReserveLike(first);
  EXPECT_GE(next.trace_ids.capacity(), all.size());
  EXPECT_GE(next.ints_of(IntField::kStartNs).capacity(), all.size());
  EXPECT_GE(next.string(StringField::kName).codes.capacity(), all.size());
  const int64_t* const start = next.ints_of(IntField::kStartNs).data();
  for (const model::Span& s : all) next.Append(s);
  EXPECT_EQ(next.ints_of(IntField::kStartNs).data(), start);  // never moved
  for (const char* key : {"every.span", "every.count"}) {
    const auto type = key == std::string_view("every.span") ? model::AttributeValue::Type::kString
                                                            : model::AttributeValue::Type::kInt;
    const AttributeColumn* c = next.FindAttribute(key, model::AttributeRole::kPlain, type);
    ASSERT_NE(c, nullptr) << key;
    EXPECT_EQ(c->size(), all.size());
    EXPECT_EQ(c->rows.capacity(), all.size()) << key;
  }
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(Canonical(next.Row(static_cast<uint32_t>(i))), Canonical(all[i])) << "row " << i;
  }
}

// A cleared table filled again holds what a new table filled the same way holds, row for row
// and column for column, with nothing left of what it held before; the columns keep their
// room, an attribute column for the next column of its key.
TEST(SpanTable, AClearedTableFillsAsANewOneWithTheRoomItHad) {
  std::mt19937_64 rng(9);
  auto spans = [&](int traces) {
    std::vector<model::Span> all;
    for (int t = 0; t < traces; ++t) {
      for (model::Span& s : RandomTrace(rng, 1 + rng() % 12)) all.push_back(std::move(s));
    }
    for (model::Span& s : all)
      s.attributes.push_back({"every.count", model::AttributeValue::Int(7)});
    return all;
  };
  const std::vector<model::Span> before = spans(60);
  const std::vector<model::Span> after = spans(40);
  SpanTable table;
  for (const model::Span& s : before) table.Append(s);
  AppendOtherNames(5000, &table);  // past the name templates, for next_column_
  table.Append(before[0]);
  const size_t rows_before = table.size();
  const AttributeColumn* count = table.FindAttribute("every.count", model::AttributeRole::kPlain,
                                                     model::AttributeValue::Type::kInt);
  ASSERT_NE(count, nullptr);
  const size_t count_entries = count->size();

  table.Clear();
  EXPECT_TRUE(table.empty());
  EXPECT_EQ(table.attributes.size(), 0u);
  EXPECT_EQ(table.memory_bytes(), 0u);
  EXPECT_EQ(table.FindAttribute("every.count", model::AttributeRole::kPlain,
                                model::AttributeValue::Type::kInt),
            nullptr);
  EXPECT_GE(table.trace_ids.capacity(), rows_before);
  EXPECT_GE(table.ints_of(IntField::kStartNs).capacity(), rows_before);
  EXPECT_GE(table.string(StringField::kName).codes.capacity(), rows_before);

  SpanTable fresh;
  for (const model::Span& s : after) {
    table.Append(s);
    fresh.Append(s);
  }
  ASSERT_EQ(table.size(), after.size());
  ASSERT_EQ(table.attributes.size(), fresh.attributes.size());
  for (size_t c = 0; c < fresh.attributes.size(); ++c) {
    EXPECT_EQ(table.attributes[c].key, fresh.attributes[c].key) << c;
    EXPECT_EQ(table.attributes[c].rows, fresh.attributes[c].rows) << c;
  }
  for (size_t i = 0; i < after.size(); ++i) {
    const auto row = static_cast<uint32_t>(i);
    ASSERT_EQ(Canonical(table.Row(row)), Canonical(after[i])) << "row " << i;
    ASSERT_EQ(table.Row(row), fresh.Row(row)) << "row " << i;
  }
  EXPECT_EQ(table.extra_rows, fresh.extra_rows);
  EXPECT_EQ(table.extras, fresh.extras);
  EXPECT_EQ(table.memory_bytes(), fresh.memory_bytes());
  count = table.FindAttribute("every.count", model::AttributeRole::kPlain,
                              model::AttributeValue::Type::kInt);
  ASSERT_NE(count, nullptr);
  EXPECT_GE(count->rows.capacity(), count_entries);  // the room of the column of that key
  EXPECT_GE(count->ints.capacity(), count_entries);

  table.Clear();  // and again: the columns kept the first time that did not come back go
  for (const model::Span& s : before) table.Append(s);
  for (size_t i = 0; i < before.size(); ++i) {
    ASSERT_EQ(Canonical(table.Row(static_cast<uint32_t>(i))), Canonical(before[i])) << i;
  }
}

}  // namespace
}  // namespace waggle::storage::columnar
