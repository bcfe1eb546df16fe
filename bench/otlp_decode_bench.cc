// The OTLP/protobuf trace decoder in-process, on generated spans sent as the OTLP exporters send
// them: requests of 512 spans (workload::ToOtlpProtobuf). Each round decodes every request into
// a batch recycled from the request before, the way `waggle serve` does (OtlpIngester::Export),
// and into a new batch for each, and, as the same-run reference,
// parses the same bytes with libprotobuf's generated code into one ExportTraceServiceRequest
// cleared between requests (its strings and repeated fields keep their memory, as generated
// code does when reused). Each figure is the best of the rounds.
//
//   build/bench/otlp_decode_bench [--spans N] [--rounds R]

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_util.h"
#include "codec/otlp/otlp.h"
#include "codec/otlp/testing/otlp_test.pb.h"
#include "model/span_batch.h"
#include "span_workload.h"
#include "workload/emit.h"

namespace {

using waggle::bench::Clock;
using waggle::bench::Seconds;
namespace otlp = waggle::codec::otlp;

constexpr size_t kSpansPerRequest = 512;

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const auto [total, rounds] = waggle::bench::ParseInProcessArgs(argc, argv, 150'000);
  const std::vector<waggle::model::Span> spans = waggle::bench::GeneratedSpans(total);
  std::vector<std::string> bodies;
  size_t body_bytes = 0;
  for (size_t at = 0; at < spans.size(); at += kSpansPerRequest) {
    const size_t end = std::min(spans.size(), at + kSpansPerRequest);
    std::vector<waggle::model::Span> part(spans.begin() + static_cast<ptrdiff_t>(at),
                                          spans.begin() + static_cast<ptrdiff_t>(end));
    bodies.push_back(waggle::workload::ToOtlpProtobuf(part));
    body_bytes += bodies.back().size();
  }
  const double n = static_cast<double>(spans.size());

  // ns a span of decoding every request; each into a batch recycled from the one before, with
  // shared contexts and text borrowed from the request (as `waggle serve` does,
  // OtlpIngester::Export), or with the text copied, or copying the contexts into every span
  // too, or into a new batch.
  waggle::model::SpanBatch recycled;
  size_t decoded = 0;
  auto decode_all = [&](bool recycle, bool shared, bool borrow) {
    otlp::DecodeOptions options;
    options.shared_context = shared;
    options.borrow_text = borrow;
    decoded = 0;
    const auto t0 = Clock::now();
    for (const std::string& body : bodies) {
      waggle::model::SpanBatch fresh;
      waggle::model::SpanBatch* batch = recycle ? &recycled : &fresh;
      if (recycle) recycled.Recycle();
      otlp::Rejections rejected;
      const waggle::Status s =
          otlp::DecodeTraces(otlp::Encoding::kProtobuf, body, options, batch, &rejected);
      if (!s.ok()) {
        std::fprintf(stderr, "otlp_decode_bench: %s\n", s.ToString().c_str());
        std::exit(1);
      }
      decoded += batch->spans.size();
    }
    return Seconds(Clock::now() - t0) * 1e9 / n;
  };

  double ours = 1e18, ours_text_copied = 1e18, ours_copied = 1e18, ours_fresh = 1e18;
  double reference = 1e18;
  size_t parsed = 0;
  waggle::otlptest::ExportTraceServiceRequest message;
  for (int r = 0; r < rounds; ++r) {
    ours_fresh = std::min(ours_fresh, decode_all(false, false, false));
    ours_copied = std::min(ours_copied, decode_all(true, false, false));
    ours_text_copied = std::min(ours_text_copied, decode_all(true, true, false));
    ours = std::min(ours, decode_all(true, true, true));
    parsed = 0;
    const auto t0 = Clock::now();
    for (const std::string& body : bodies) {
      message.Clear();
      if (!message.ParseFromString(body)) {
        std::fprintf(stderr, "otlp_decode_bench: libprotobuf refused a request\n");
        return 1;
      }
      for (const auto& rs : message.resource_spans()) {
        for (const auto& ss : rs.scope_spans()) parsed += static_cast<size_t>(ss.spans_size());
      }
    }
    reference = std::min(reference, Seconds(Clock::now() - t0) * 1e9 / n);
  }
  if (decoded != spans.size() || parsed != spans.size()) {
    std::fprintf(stderr, "otlp_decode_bench: decoded %zu and parsed %zu of %zu spans\n", decoded,
                 parsed, spans.size());
    return 1;
  }
  std::printf(
      "otlp_decode_bench: %zu generated spans in %zu requests (%.0f protobuf bytes a span), "
      "best of %d rounds\n",
      spans.size(), bodies.size(), static_cast<double>(body_bytes) / n, rounds);
  std::printf("  DecodeTraces, recycled batch, shared contexts, text borrowed: %7.0f ns/span\n",
              ours);
  std::printf("  DecodeTraces, recycled batch, shared contexts, text copied:   %7.0f ns/span\n",
              ours_text_copied);
  std::printf("  DecodeTraces, recycled batch, all copied:                     %7.0f ns/span\n",
              ours_copied);
  std::printf("  DecodeTraces, new batch, all copied:                          %7.0f ns/span\n",
              ours_fresh);
  std::printf(
      "  libprotobuf generated parse (reference):                      %7.0f ns/span; "
      "ratio %.2f\n",
      reference, ours / reference);
  return 0;
}
