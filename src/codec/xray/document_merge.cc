#include "codec/xray/document_merge.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <unordered_map>

// RapidJSON 1.1's member iterators predate C++20's reversed comparison operators.
#pragma clang diagnostic ignored "-Wambiguous-reversed-operator"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace waggle::codec::xray {
namespace {

using rapidjson::Value;

// Depth-first search for the entity with `id` inside a (sub)segment object.
Value* FindEntity(Value& entity, std::string_view id, int depth = 0) {
  if (!entity.IsObject() || depth > 64) return nullptr;
  auto it = entity.FindMember("id");
  if (it != entity.MemberEnd() && it->value.IsString() &&
      std::string_view(it->value.GetString(), it->value.GetStringLength()) == id) {
    return &entity;
  }
  auto subs = entity.FindMember("subsegments");
  if (subs == entity.MemberEnd() || !subs->value.IsArray()) return nullptr;
  for (Value& child : subs->value.GetArray()) {
    if (Value* found = FindEntity(child, id, depth + 1)) return found;
  }
  return nullptr;
}

}  // namespace

std::vector<MergedDocument> MergeTraceDocuments(const std::vector<model::Document>& documents) {
  std::vector<MergedDocument> out;
  const bool any_streamed = std::any_of(documents.begin(), documents.end(),
                                        [](const model::Document& d) { return d.subsegment; });
  if (!any_streamed) {
    for (const model::Document& d : documents) out.push_back({d.id, d.json});
    return out;
  }

  // Parse every document into one allocator so values can move between them.
  rapidjson::MemoryPoolAllocator<> pool;
  std::vector<std::unique_ptr<rapidjson::Document>> doms;
  std::unordered_map<uint64_t, size_t> by_doc_id;
  for (size_t i = 0; i < documents.size(); ++i) {
    auto dom = std::make_unique<rapidjson::Document>(&pool);
    dom->Parse(documents[i].json.data(), documents[i].json.size());
    if (dom->HasParseError() || !dom->IsObject()) dom.reset();  // stored documents were valid
    by_doc_id[documents[i].id.value] = i;
    doms.push_back(std::move(dom));
  }

  // Which document holds the entity a streamed subsegment names as its parent.
  auto holder_of = [&](size_t i) -> std::optional<size_t> {
    const std::string parent = documents[i].parent_id.ToHex();
    for (size_t j = 0; j < documents.size(); ++j) {
      if (j != i && doms[j] && FindEntity(*doms[j], parent)) return j;
    }
    return std::nullopt;
  };
  // Depth of the chain of streamed documents above each one; deepest merge first, so a
  // streamed subsegment carries its own streamed children when it moves.
  std::vector<int> depth(documents.size(), 0);
  std::vector<std::optional<size_t>> holder(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].subsegment && doms[i]) holder[i] = holder_of(i);
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    int d = 0;
    for (std::optional<size_t> h = holder[i]; h && d <= static_cast<int>(documents.size());
         h = holder[*h]) {
      ++d;
      if (!documents[*h].subsegment) break;
    }
    depth[i] = d;
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < documents.size(); ++i) {
    if (holder[i]) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return depth[a] > depth[b]; });

  std::vector<bool> merged_away(documents.size(), false);
  std::vector<bool> changed(documents.size(), false);
  for (size_t i : order) {
    const std::string parent = documents[i].parent_id.ToHex();
    Value* target = FindEntity(*doms[*holder[i]], parent);
    if (target == nullptr) continue;
    auto subs = target->FindMember("subsegments");
    if (subs == target->MemberEnd()) {
      target->AddMember("subsegments", Value(rapidjson::kArrayType), pool);
      subs = target->FindMember("subsegments");
    }
    if (!subs->value.IsArray()) continue;
    const std::string self = documents[i].id.ToHex();
    bool present = false;
    for (Value& child : subs->value.GetArray()) present |= FindEntity(child, self, 63) == &child;
    if (!present) subs->value.PushBack(Value(std::move(static_cast<Value&>(*doms[i]))), pool);
    merged_away[i] = true;
    changed[*holder[i]] = true;
  }

  for (size_t i = 0; i < documents.size(); ++i) {
    if (merged_away[i]) continue;
    if (!changed[i]) {
      out.push_back({documents[i].id, documents[i].json});
      continue;
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
    doms[i]->Accept(writer);
    out.push_back({documents[i].id, std::string(buf.GetString(), buf.GetSize())});
  }
  return out;
}

}  // namespace waggle::codec::xray
