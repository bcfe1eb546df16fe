#include "query/trace_search.h"

#include <algorithm>

#include "query/expr/filter_eval.h"

namespace waggle::query {

Result<std::optional<TraceIdSet>> FindCandidates(storage::Reader* reader,
                                                 const std::vector<filter::SpanRequirement>& reqs,
                                                 int64_t start_ns, int64_t end_ns) {
  if (reqs.empty()) return std::optional<TraceIdSet>();
  std::optional<TraceIdSet> kept;
  for (const filter::SpanRequirement& req : reqs) {
    TraceIdSet met;
    for (const storage::Condition& condition : req.any_of) {
      storage::ScanRequest scan;
      scan.start_ns = start_ns;
      scan.end_ns = end_ns;
      scan.columns = {storage::ColumnRef::TraceId()};
      scan.where = {condition};
      auto stats = reader->Scan(scan, [&](const column::ColumnBatch& batch) {
        const std::vector<model::TraceId>& ids = batch.columns[0].trace_ids;
        for (uint32_t row : batch.selection) {
          // After the first requirement only traces still in play are worth keeping.
          if (!kept || kept->count(ids[row])) met.insert(ids[row]);
        }
        return true;
      });
      if (!stats.ok()) {
        if (stats.status().code() == Status::Code::kUnimplemented) {
          return std::optional<TraceIdSet>();
        }
        return stats.status();
      }
    }
    kept = std::move(met);
    if (kept->empty()) break;
  }
  return kept;
}

Result<TraceSearchResult> SearchTraces(storage::Reader* reader, const TraceSearchRequest& request,
                                       const FoundTraceFn& found) {
  TraceSearchResult result;
  storage::FindTracesRequest find = request.find;
  std::optional<TraceIdSet> candidates;
  if (request.filter != nullptr) {
    WAGGLE_ASSIGN_OR_RETURN(
        candidates,
        FindCandidates(
            reader, filter::Requirements(*request.filter),
            find.start_ns > INT64_MIN + kSpanLeadNs ? find.start_ns - kSpanLeadNs : INT64_MIN,
            find.end_ns < INT64_MAX - kSpanLagNs ? find.end_ns + kSpanLagNs : INT64_MAX));
    if (candidates) find.only = &*candidates;
  }
  const size_t page_size = std::max<size_t>(1, request.page_size);
  // Walk the store's pages until this page is full or enough traces were examined; the next
  // token is then the store's, so the following page starts after the last trace examined.
  bool first = true;
  do {
    // With a filter, ask for as many traces as may still be examined and stop part way
    // through when the page is full: the next token is then the last examined trace's resume
    // token. Without one, exactly the traces the page has room for.
    const size_t budget = request.max_examined - result.examined;
    find.limit = std::max<size_t>(
        1, request.filter != nullptr ? budget : std::min(page_size - result.selected, budget));
    WAGGLE_ASSIGN_OR_RETURN(storage::FindTracesResult page, reader->FindTraces(find));
    if (first) result.traces_processed = page.traces_scanned;
    first = false;
    std::string resume = page.next_page_token;
    for (size_t i = 0; i < page.traces.size(); ++i) {
      if (result.selected == page_size) {
        resume = page.traces[i - 1].resume_token;
        break;
      }
      const storage::TraceRef& ref = page.traces[i];
      ++result.examined;
      auto data = reader->FetchTrace(ref.id);
      if (!data.ok()) {
        // Gone since the index was read (NotFound), or damaged on disk: counted, left out.
        if (data.status().code() != Status::Code::kNotFound) ++result.unreadable;
        continue;
      }
      TraceFacts facts(std::move(*data));
      if (request.filter != nullptr && !filter::Matches(*request.filter, facts)) continue;
      ++result.selected;
      found(std::move(facts), ref.time_ns);
    }
    find.page_token = std::move(resume);
  } while (!find.page_token.empty() && result.selected < page_size &&
           result.examined < request.max_examined);
  result.next_page_token = find.page_token;
  return result;
}

}  // namespace waggle::query
