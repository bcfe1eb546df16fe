// Micro-benchmark of the X-Ray segment parser on the captured Flask segment, with simdjson's
// bare DOM parse of the same bytes as the same-run reference (the floor for any decoder that
// reads every byte): the parser's cost over it is mapping fields into spans.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/env.h"
#include "codec/xray/datagram.h"
#include "codec/xray/segment_parser.h"

namespace {

// The captured datagram's body; the benchmark stops when the capture cannot be read, rather
// than timing an empty body.
std::string Body() {
  std::string datagram;
  const waggle::Status s = waggle::Env::Default()->ReadFile(
      std::string(WAGGLE_TESTDATA_DIR) + "/xray-udp-flask.txt", &datagram);
  if (!s.ok()) {
    std::fprintf(stderr, "segment_parser_bench: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  if (datagram.find('\n') == std::string::npos) {
    std::fprintf(stderr, "segment_parser_bench: the capture has no daemon header line\n");
    std::exit(1);
  }
  return datagram.substr(datagram.find('\n') + 1);
}

void BM_SegmentParser_FlaskSegment(benchmark::State& state) {
  const std::string body = Body();
  waggle::codec::xray::SegmentParser parser;
  waggle::model::SpanBatch batch;
  for (auto _ : state) {
    batch.Clear();
    waggle::codec::xray::SegmentError error;
    bool ok = parser.Parse(body, "default", &batch, &error);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_SegmentParser_FlaskSegment);

void BM_SimdjsonDom_FlaskSegmentReference(benchmark::State& state) {
  const std::string body = Body();
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element root;
    auto err = parser.parse(body.data(), body.size()).get(root);
    benchmark::DoNotOptimize(err);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_SimdjsonDom_FlaskSegmentReference);

void BM_DatagramSplitter_Header(benchmark::State& state) {
  const std::string datagram = "{\"format\":\"json\",\"version\":1}\n" + Body();
  waggle::codec::xray::DatagramSplitter splitter;
  for (auto _ : state) {
    std::string_view body;
    benchmark::DoNotOptimize(splitter.Split(datagram, &body));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DatagramSplitter_Header);

}  // namespace

BENCHMARK_MAIN();
