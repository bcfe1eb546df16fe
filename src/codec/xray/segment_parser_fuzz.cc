// Fuzzes the UDP datagram split and the segment document parser together, as the UDP
// receiver runs them, and checks the invariants the rest of the server relies on.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "codec/xray/datagram.h"
#include "codec/xray/document_merge.h"
#include "codec/xray/segment_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace waggle::codec::xray;
  static DatagramSplitter splitter;
  static SegmentParser parser;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  waggle::model::SpanBatch batch;
  SegmentError error;

  std::string_view body = input;
  if (splitter.Split(input, &body) != DatagramError::kNone) body = input;
  bool ok = parser.Parse(body, "default", &batch, &error);
  if (ok) {
    // A parsed document yields its spans and itself, verbatim.
    if (batch.documents.size() != 1 || batch.spans.empty()) std::abort();
    if (batch.documents[0].json != body) std::abort();
    for (const auto& s : batch.spans) {
      if (!s.in_progress && s.end_ns < s.start_ns) std::abort();
    }
    // Merging must not crash on whatever was accepted.
    (void)MergeTraceDocuments(batch.documents);
  } else if (!batch.empty() || error.error_code.empty()) {
    std::abort();
  }
  return 0;
}
