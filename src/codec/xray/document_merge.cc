#include "codec/xray/document_merge.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

// RapidJSON 1.1's member iterators predate C++20's reversed comparison operators.
#pragma clang diagnostic ignored "-Wambiguous-reversed-operator"
#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/mix.h"

namespace waggle::codec::xray {
namespace {

using rapidjson::Value;
// Entity ids come from clients: the maps of them are keyed (hash flooding).
template <typename V>
using ByEntityId = std::unordered_map<std::string, V, SeededStringHash, std::equal_to<>>;

// Merged entities nest at most this deep (below the segment parser's own limit, so merged
// output parses again); a streamed subsegment that would go deeper is returned as a document
// of its own (its own streamed children still merge into it).
constexpr int kMaxMergedDepth = 48;

// Numbers are kept as the text that was sent: parsed as raw text into strings marked with a
// leading 0xFF byte (which valid UTF-8, and so no stored document, can contain) and written
// back raw. A rewritten document then differs from its input only where subsegments moved.
constexpr char kNumberMark = '\xff';

struct KeepNumberText {
  rapidjson::Document& d;
  using Ch = char;
  using SizeType = rapidjson::SizeType;
  bool Null() { return d.Null(); }
  bool Bool(bool b) { return d.Bool(b); }
  bool Int(int i) { return d.Int(i); }
  bool Uint(unsigned i) { return d.Uint(i); }
  bool Int64(int64_t i) { return d.Int64(i); }
  bool Uint64(uint64_t i) { return d.Uint64(i); }
  bool Double(double x) { return d.Double(x); }
  bool RawNumber(const char* s, SizeType n, bool) {
    std::string marked(1, kNumberMark);
    marked.append(s, n);
    return d.String(marked.data(), static_cast<SizeType>(marked.size()), true);
  }
  bool String(const char* s, SizeType n, bool copy) { return d.String(s, n, copy); }
  bool StartObject() { return d.StartObject(); }
  bool Key(const char* s, SizeType n, bool copy) { return d.Key(s, n, copy); }
  bool EndObject(SizeType n) { return d.EndObject(n); }
  bool StartArray() { return d.StartArray(); }
  bool EndArray(SizeType n) { return d.EndArray(n); }
};

void Parse(const std::string& json, rapidjson::Document* dom) {
  auto generate = [&json](rapidjson::Document& handler) {
    rapidjson::Reader reader;
    rapidjson::StringStream in(json.c_str());
    KeepNumberText keep{handler};
    return !reader
                .Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(in,
                                                                                               keep)
                .IsError();
  };
  dom->Populate(generate);
}

// Recursion depth is the document's JSON depth, which ingest bounded (simdjson: 1024).
void Write(const Value& v, rapidjson::Writer<rapidjson::StringBuffer>* w) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      w->Null();
      break;
    case rapidjson::kFalseType:
      w->Bool(false);
      break;
    case rapidjson::kTrueType:
      w->Bool(true);
      break;
    case rapidjson::kNumberType:
      if (v.IsInt64())
        w->Int64(v.GetInt64());
      else if (v.IsUint64())
        w->Uint64(v.GetUint64());
      else
        w->Double(v.GetDouble());
      break;
    case rapidjson::kStringType:
      if (v.GetStringLength() > 0 && v.GetString()[0] == kNumberMark) {
        w->RawValue(v.GetString() + 1, v.GetStringLength() - 1, rapidjson::kNumberType);
      } else {
        w->String(v.GetString(), v.GetStringLength());
      }
      break;
    case rapidjson::kObjectType:
      w->StartObject();
      for (const auto& m : v.GetObject()) {
        w->Key(m.name.GetString(), m.name.GetStringLength());
        Write(m.value, w);
      }
      w->EndObject();
      break;
    case rapidjson::kArrayType:
      w->StartArray();
      for (const Value& e : v.GetArray()) Write(e, w);
      w->EndArray();
      break;
  }
}

// The value of the object's last member called `name`, or null. A name given twice counts as
// the segment parser counts it, the last one (rapidjson's FindMember finds the first).
template <typename V>
V* LastMember(V& object, std::string_view name) {
  V* found = nullptr;
  for (auto& m : object.GetObject()) {
    if (std::string_view(m.name.GetString(), m.name.GetStringLength()) == name) found = &m.value;
  }
  return found;
}

std::string_view IdOf(const Value& entity) {
  if (!entity.IsObject()) return {};
  const Value* id = LastMember(entity, "id");
  if (id == nullptr || !id->IsString()) return {};
  return {id->GetString(), id->GetStringLength()};
}

// The entity's subsegments array; null when there is none, or when `entity` is not an object
// (an element of a subsegments array may be any JSON value).
Value* Subsegments(Value& entity) {
  if (!entity.IsObject()) return nullptr;
  Value* subs = LastMember(entity, "subsegments");
  return subs != nullptr && subs->IsArray() ? subs : nullptr;
}

// Every entity id in a document, with the document's index.
void IndexEntities(Value& root, size_t doc, ByEntityId<size_t>* where) {
  std::vector<Value*> stack = {&root};
  while (!stack.empty()) {
    Value* e = stack.back();
    stack.pop_back();
    std::string_view id = IdOf(*e);
    if (!id.empty()) where->try_emplace(std::string(id), doc);
    if (Value* subs = Subsegments(*e)) {
      for (Value& c : subs->GetArray()) stack.push_back(&c);
    }
  }
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

  // Parse every document into one allocator, so values can move between them.
  rapidjson::MemoryPoolAllocator<> pool;
  std::vector<std::unique_ptr<rapidjson::Document>> doms;
  ByEntityId<size_t> holder;  // entity id -> document holding it
  for (size_t i = 0; i < documents.size(); ++i) {
    auto dom = std::make_unique<rapidjson::Document>(&pool);
    Parse(documents[i].json, dom.get());
    if (dom->HasParseError() || !dom->IsObject()) dom.reset();  // stored documents were valid
    if (dom) IndexEntities(*dom, i, &holder);
    doms.push_back(std::move(dom));
  }
  // Streamed documents waiting for their parent entity, by the parent's id.
  ByEntityId<std::vector<size_t>> waiting;
  for (size_t i = 0; i < documents.size(); ++i) {
    if (!documents[i].subsegment || !doms[i]) continue;
    std::string parent = documents[i].parent_id.ToHex();
    auto h = holder.find(parent);
    if (h != holder.end() && h->second != i) waiting[parent].push_back(i);
  }

  std::vector<char> merged_away(documents.size(), 0), changed(documents.size(), 0);
  // Walks a document, moving streamed documents into the entities they name as parent; each
  // entity's array is changed only while that entity is visited, so no pointer goes stale.
  auto absorb = [&](size_t root) {
    std::vector<std::pair<Value*, int>> stack = {{doms[root].get(), 0}};
    while (!stack.empty()) {
      auto [entity, depth] = stack.back();
      stack.pop_back();
      std::string_view id = IdOf(*entity);
      auto w = id.empty() ? waiting.end() : waiting.find(id);
      if (w != waiting.end() && depth < kMaxMergedDepth) {
        Value* subs = Subsegments(*entity);
        if (subs == nullptr) {
          // Every member of that name goes (in order, the others keep theirs), so that the
          // array added is the only one.
          for (auto it = entity->FindMember("subsegments"); it != entity->MemberEnd();
               it = entity->FindMember("subsegments")) {
            entity->EraseMember(it);
          }
          entity->AddMember("subsegments", Value(rapidjson::kArrayType), pool);
          subs = Subsegments(*entity);
        }
        ByEntityId<size_t> present;  // child id -> index in subs
        for (rapidjson::SizeType k = 0; k < subs->Size(); ++k) {
          const std::string_view child = IdOf((*subs)[k]);
          if (!child.empty()) present.try_emplace(std::string(child), k);  // objects only
        }
        for (size_t s : w->second) {
          if (merged_away[s] || s == root) continue;
          std::string self(IdOf(*doms[s]));
          auto p = present.find(self);
          if (p == present.end()) {
            present.emplace(self, subs->Size());
            subs->PushBack(Value(std::move(static_cast<Value&>(*doms[s]))), pool);
          } else {
            // The same subsegment both embedded and streamed: a complete copy wins over an
            // in-progress one.
            Value& embedded = (*subs)[p->second];
            const Value* ip = LastMember(embedded, "in_progress");  // an object: it has an id
            if (!documents[s].in_progress && ip != nullptr && ip->IsBool() && ip->GetBool()) {
              embedded = Value(std::move(static_cast<Value&>(*doms[s])));
            }
          }
          merged_away[s] = 1;
          changed[root] = 1;
        }
        waiting.erase(w);
      }
      if (Value* subs = Subsegments(*entity)) {
        for (Value& c : subs->GetArray()) stack.emplace_back(&c, depth + 1);
      }
    }
  };
  for (size_t i = 0; i < documents.size(); ++i) {
    if (doms[i] && !documents[i].subsegment) absorb(i);
  }
  // Streamed documents no segment took (parent unknown, too deep, or a cycle of parents)
  // stand on their own, and take their own streamed children.
  for (size_t i = 0; i < documents.size(); ++i) {
    if (doms[i] && documents[i].subsegment && !merged_away[i]) absorb(i);
  }

  for (size_t i = 0; i < documents.size(); ++i) {
    if (merged_away[i]) continue;
    if (!changed[i]) {
      out.push_back({documents[i].id, documents[i].json});
      continue;
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
    Write(*doms[i], &writer);
    out.push_back({documents[i].id, std::string(buf.GetString(), buf.GetSize())});
  }
  return out;
}

}  // namespace waggle::codec::xray
