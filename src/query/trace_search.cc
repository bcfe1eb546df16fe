#include "query/trace_search.h"

#include <algorithm>
#include <atomic>
#include <iterator>

#include "base/threads.h"
#include "query/expr/filter_eval.h"

namespace waggle::query {

Result<std::optional<TraceIdSet>> FindCandidates(storage::Reader* reader,
                                                 const std::vector<filter::SpanRequirement>& reqs,
                                                 const storage::ScanRequest& range) {
  if (reqs.empty()) return std::optional<TraceIdSet>();
  // A scan per alternative of each requirement, two threads taking them in turn; each
  // collects the ids of the traces with a span that meets its conditions, in order of
  // arrival (a block's rows come by trace; the head's do not, so an id may come again later:
  // the lists are sorted and made unique before they are joined).
  struct Job {
    size_t req;
    const std::vector<storage::Condition>* where;
    std::vector<model::TraceId> ids;
    Status status;
  };
  std::vector<Job> jobs;
  for (size_t r = 0; r < reqs.size(); ++r) {
    for (const auto& conditions : reqs[r].any_of) jobs.push_back({r, &conditions, {}, {}});
  }
  std::atomic<size_t> next{0};
  // Per requirement, its alternatives that found no trace. When all of one's have, no trace is
  // a candidate, and the scans still to run or running are not needed.
  std::vector<std::atomic<size_t>> empty(reqs.size());
  std::atomic<bool> none{false};
  auto work = [&] {
    for (size_t j; !none.load() && (j = next.fetch_add(1)) < jobs.size();) {
      Job& job = jobs[j];
      storage::ScanRequest scan = range;
      scan.columns = {storage::ColumnRef::TraceId()};
      scan.where = *job.where;
      auto stats = reader->Scan(scan, [&](const column::ColumnBatch& batch) {
        const std::vector<model::TraceId>& ids = batch.columns[0].trace_ids;
        for (uint32_t row : batch.selection) {
          if (job.ids.empty() || job.ids.back() != ids[row]) job.ids.push_back(ids[row]);
        }
        return !none.load(std::memory_order_relaxed);
      });
      job.status = stats.status();
      if (job.status.ok() && job.ids.empty() &&
          empty[job.req].fetch_add(1) + 1 == reqs[job.req].any_of.size()) {
        none = true;
      }
    }
  };
  RunHalves([&](int) { work(); }, /*split=*/jobs.size() > 1);
  for (const Job& job : jobs) {
    if (job.status.code() == Status::Code::kUnimplemented) return std::optional<TraceIdSet>();
    if (!job.status.ok()) return job.status;
  }
  if (none) return std::optional<TraceIdSet>(TraceIdSet());
  // Each requirement: the union of its alternatives' traces; the candidates: the
  // intersection of the requirements'.
  std::vector<model::TraceId> kept, met, both;
  for (size_t r = 0; r < reqs.size(); ++r) {
    met.clear();
    for (const Job& job : jobs) {
      if (job.req == r) met.insert(met.end(), job.ids.begin(), job.ids.end());
    }
    if (!std::is_sorted(met.begin(), met.end())) std::sort(met.begin(), met.end());
    met.erase(std::unique(met.begin(), met.end()), met.end());
    if (r == 0) {
      kept.swap(met);
      continue;
    }
    both.clear();
    std::set_intersection(kept.begin(), kept.end(), met.begin(), met.end(),
                          std::back_inserter(both));
    kept.swap(both);
  }
  return std::optional<TraceIdSet>(TraceIdSet(kept.begin(), kept.end()));
}

std::optional<storage::ScanRequest> CandidateRange(const storage::FindTracesRequest& find) {
  storage::ScanRequest range;
  if (find.key == storage::TraceTimeKey::kTraceIdTime) {
    if (!storage::TraceIdTimeBounds(find.start_ns, find.end_ns, &range.first_trace_id,
                                    &range.last_trace_id)) {
      return std::nullopt;
    }
    return range;
  }
  range.start_ns =
      find.start_ns > INT64_MIN + kSpanLeadNs ? find.start_ns - kSpanLeadNs : INT64_MIN;
  range.end_ns = find.end_ns < INT64_MAX - kSpanLagNs ? find.end_ns + kSpanLagNs : INT64_MAX;
  return range;
}

namespace {

// Traces fetched at least together, and at least for two threads to share.
constexpr size_t kMinFetch = 16;
// And at most: a page of the group graph's 100,000 traces is consumed as it is fetched, not
// held whole.
constexpr size_t kMaxFetch = 256;

// Traces refs[from, from + n), fetched in two halves on two threads when there are enough.
std::vector<Result<storage::TraceData>> Fetch(storage::Reader* reader,
                                              const std::vector<storage::TraceRef>& refs,
                                              size_t from, size_t n,
                                              const storage::FetchOptions& options) {
  auto ids = [&](size_t lo, size_t hi) {
    std::vector<model::TraceId> out;
    out.reserve(hi - lo);
    for (size_t k = lo; k < hi; ++k) out.push_back(refs[from + k].id);
    return out;
  };
  if (n < kMinFetch) return reader->FetchTraces(ids(0, n), options);
  const std::vector<model::TraceId> halves[2] = {ids(0, n / 2), ids(n / 2, n)};
  std::vector<Result<storage::TraceData>> fetched[2];
  RunHalves([&](int h) { fetched[h] = reader->FetchTraces(halves[h], options); });
  for (auto& t : fetched[1]) fetched[0].push_back(std::move(t));
  return std::move(fetched[0]);
}

}  // namespace

Result<TraceSearchResult> SearchTraces(storage::Reader* reader, const TraceSearchRequest& request,
                                       const FoundTraceFn& found) {
  TraceSearchResult result;
  storage::FindTracesRequest find = request.find;
  std::optional<TraceIdSet> candidates;
  if (request.filter != nullptr) {
    const std::optional<storage::ScanRequest> range = CandidateRange(find);
    if (range) {
      WAGGLE_ASSIGN_OR_RETURN(
          candidates, FindCandidates(reader, filter::Requirements(*request.filter), *range));
    } else {
      candidates.emplace();  // no trace lies in the range
    }
    if (candidates) find.only = &*candidates;
    find.min_extent_ns = std::max(find.min_extent_ns, filter::MinTraceExtentNs(*request.filter));
  }
  // The whole range in one page: as many selected as may be examined, so that a page that
  // stops early can only mean more traces than max_examined.
  const size_t page_size =
      std::max<size_t>(1, request.whole_range ? request.max_examined : request.page_size);
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
    if (request.whole_range && !page.next_page_token.empty()) {
      return Status::ResourceExhausted("the time range holds more than " +
                                       std::to_string(request.max_examined) +
                                       " traces; ask for a shorter time range");
    }
    if (first) result.traces_processed = page.traces_scanned;
    first = false;
    std::string resume = page.next_page_token;
    std::vector<Result<storage::TraceData>> fetched;  // traces [fetched_from, + size)
    size_t fetched_from = 0;
    for (size_t i = 0; i < page.traces.size(); ++i) {
      if (result.selected == page_size) {
        resume = page.traces[i - 1].resume_token;
        break;
      }
      if (i == fetched_from + fetched.size()) {
        // The next traces together: as many as the page still has room for (up to
        // kMaxFetch), and a few more in case some fail the filter.
        const size_t n = std::min(std::clamp(page_size - result.selected, kMinFetch, kMaxFetch),
                                  page.traces.size() - i);
        fetched = Fetch(reader, page.traces, i, n, request.fetch);
        fetched_from = i;
      }
      const storage::TraceRef& ref = page.traces[i];
      ++result.examined;
      Result<storage::TraceData>& data = fetched[i - fetched_from];
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
