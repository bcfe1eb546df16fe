// Parses arbitrary text as a filter expression and as an entity selector; what parses is
// resolved against a group that names itself, evaluated on a small trace and turned into
// storage requirements.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "query/expr/filter_eval.h"
#include "query/expr/filter_pushdown.h"

namespace {

waggle::storage::TraceData MakeTrace() {
  waggle::storage::TraceData t;
  waggle::model::Span root;
  root.span_id.value = 1;
  root.service = "svc";
  root.name = "svc";
  root.kind = waggle::model::SpanKind::kServer;
  root.start_ns = 1;
  root.end_ns = 2'000'000'001;
  root.status_flags = waggle::model::kStatusFault;
  root.attributes.push_back(
      {"k", waggle::model::AttributeValue::Int(3), waggle::model::AttributeRole::kAnnotation});
  waggle::model::Span call = root;
  call.span_id.value = 2;
  call.parent_span_id.value = 1;
  call.kind = waggle::model::SpanKind::kClient;
  call.name = "remote";
  t.spans = {root, call};
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace waggle::query::filter;
  static const waggle::query::TraceFacts facts(MakeTrace());
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto selector = ParseSelector(text); selector.ok()) (void)Matches(*selector, facts);
  auto parsed = Parse(text);
  if (!parsed.ok()) return 0;
  GroupLookup lookup = [&](Keyword, std::string_view) -> waggle::Result<std::string> {
    return std::string(text);  // every group is this expression: resolving must stop
  };
  (void)ResolveGroups(&*parsed, lookup);
  (void)Matches(*parsed, facts);
  (void)Requirements(*parsed);
  return 0;
}
