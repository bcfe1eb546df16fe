// Fuzzes the UDP datagram split and the segment document parser together, as the UDP
// receiver runs them, and checks the invariants the rest of the server relies on; and the
// repair of JSON text the parser falls back on (codec::RepairJsonText).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/utf8.h"
#include "codec/json_repair.h"
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
  uint64_t repairs = 0;
  bool ok = parser.Parse(body, "default", &batch, &error, &repairs);

  // A repair leaves UTF-8 that needs no more repair.
  std::string repaired, again;
  const size_t made = waggle::codec::RepairJsonText(body, &repaired);
  if (made > 0 && (!waggle::IsUtf8(repaired) || waggle::codec::RepairJsonText(repaired, &again))) {
    std::abort();
  }
  if (made == 0 && !repaired.empty()) std::abort();

  if (ok) {
    // A parsed document yields its spans and itself: verbatim, or as repaired.
    if (batch.documents.size() != 1 || batch.spans.empty()) std::abort();
    if (repairs != 0 && repairs != made) std::abort();
    if (batch.documents[0].json != (repairs == 0 ? body : std::string_view(repaired))) {
      std::abort();
    }
    for (const auto& s : batch.spans) {
      if (!s.in_progress && s.end_ns < s.start_ns) std::abort();
    }
    // Merging must not crash on whatever was accepted.
    (void)MergeTraceDocuments(batch.documents);
  } else if (!batch.empty() || error.error_code.empty() || repairs != 0) {
    std::abort();
  }
  return 0;
}
