// Fuzzes the X-Ray API's request handling (XRayApi::Handle) over a store holding generated
// traces: whatever body a client sends to an operation, the answer is 200 with a JSON body, or
// a 4xx in AWS's rest-json error form (an x-amzn-ErrorType header, and a JSON object with
// __type and message). A 5xx would blame the server for a bad request.
//
// Input: the first byte picks the operation; the rest is the body. PutTraceSegments is left out
// (segment_parser_fuzz covers its documents, and every call would fsync the store).
#include <simdjson.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/env.h"
#include "ingest/xray_ingest.h"
#include "sampling/sampling_service.h"
#include "server/xray_api.h"
#include "server/xray_groups.h"
#include "storage/columnar/engine.h"
#include "workload/generator.h"

namespace waggle {
namespace {

constexpr std::string_view kPaths[] = {"/Traces",
                                       "/TraceSummaries",
                                       "/ServiceGraph",
                                       "/TraceGraph",
                                       "/TimeSeriesServiceStatistics",
                                       "/CreateGroup",
                                       "/GetGroup",
                                       "/Groups",
                                       "/UpdateGroup",
                                       "/DeleteGroup",
                                       "/GetSamplingRules",
                                       "/CreateSamplingRule",
                                       "/UpdateSamplingRule",
                                       "/DeleteSamplingRule",
                                       "/SamplingTargets",
                                       "/TelemetryRecords"};

// The API and what it stands on, made once: a store in a new directory under /tmp holding
// 200 generated traces from the minutes before the clock's now.
struct World {
  std::string dir;
  FakeClock clock{1795239045LL * 1'000'000'000};
  ingest::XRayDocumentDecoder decoder;
  std::unique_ptr<storage::columnar::Engine> store;
  ingest::IngestCounters counters;
  std::unique_ptr<ingest::XRayDocumentIngester> ingester;
  std::unique_ptr<sampling::SamplingService> sampling;
  std::unique_ptr<server::XRayGroups> groups;
  std::unique_ptr<server::XRayApi> api;

  World() {
    char tmpl[] = "/tmp/waggle-xray-api-fuzz-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) std::abort();
    dir = tmpl;
    storage::columnar::EngineOptions options;
    options.dir = dir;
    options.document_decoder = &decoder;
    auto opened = storage::columnar::Engine::Open(options);
    if (!opened.ok()) std::abort();
    store = std::move(*opened);
    workload::WorkloadOptions wo;
    wo.seed = 3;
    wo.start_ns = clock.NowNanos() - 600'000'000'000;  // ten minutes before now
    workload::Generator generator(wo);
    model::SpanBatch batch;
    for (int i = 0; i < 200; ++i) generator.NextTrace(&batch.spans);
    if (!store->Write(batch, storage::Durability::kSync).ok()) std::abort();
    ingester = std::make_unique<ingest::XRayDocumentIngester>(store.get(), &counters);
    sampling = std::make_unique<sampling::SamplingService>(sampling::SamplingOptions{});
    auto g = server::XRayGroups::Open(Env::Default(), dir, "us-east-1", "000000000000");
    if (!g.ok()) std::abort();
    groups = std::move(*g);
    server::XRayApi::Options api_options;
    api_options.region = "us-east-1";
    api_options.account_id = "000000000000";
    api_options.summaries_page_size = 5;
    api = std::make_unique<server::XRayApi>(api_options, store.get(), ingester.get(),
                                            sampling.get(), groups.get(), &clock);
  }
  ~World() {
    api.reset();
    groups.reset();
    ingester.reset();
    store.reset();
    (void)!std::system(("rm -rf " + dir).c_str());
  }
};

bool IsJson(simdjson::dom::parser& parser, const std::string& body, simdjson::dom::element* e) {
  return parser.parse(body).get(*e) == simdjson::SUCCESS;
}

void Fuzz(std::string_view path, std::string_view body) {
  static World world;  // one for every input; its directory goes at exit
  net::HttpRequest request;
  request.method = "POST";
  request.path = request.target = std::string(path);
  request.body.assign(body);
  const net::HttpResponse response = world.api->Handle(request);

  simdjson::dom::parser parser;
  simdjson::dom::element json;
  if (response.status == 200) {
    if (!response.body.empty() && !IsJson(parser, response.body, &json)) std::abort();
    return;
  }
  if (response.status < 400 || response.status > 499) {
    std::fprintf(stderr, "%s answered %d: %s\n", request.path.c_str(), response.status,
                 response.body.c_str());
    std::abort();
  }
  bool typed = false;
  for (const auto& [name, value] : response.headers) {
    typed |= name == "x-amzn-ErrorType" && !value.empty();
  }
  std::string_view type, message;
  if (!typed || !IsJson(parser, response.body, &json) ||
      json["__type"].get(type) != simdjson::SUCCESS || type.empty() ||
      json["message"].get(message) != simdjson::SUCCESS) {
    std::fprintf(stderr, "%s answered %d, not in AWS's error form: %s\n", request.path.c_str(),
                 response.status, response.body.c_str());
    std::abort();
  }
}

}  // namespace
}  // namespace waggle

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  waggle::Fuzz(waggle::kPaths[data[0] % std::size(waggle::kPaths)],
               std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  return 0;
}
