// Fuzzes the trace-fragment decoder: what the WAL hands back after its checksum passed must
// never crash the reader, whatever bytes a bug or a bad disk put there.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "storage/trace_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  waggle::storage::FragmentHeader header;
  if (!waggle::storage::DecodeFragmentHeader(in, &header).ok()) return 0;
  waggle::storage::TraceData trace;
  trace.id = header.trace_id;
  if (waggle::storage::DecodeFragment(in, nullptr, &trace).ok()) {
    // A decoded fragment re-encodes to something that decodes to the same spans.
    std::vector<const waggle::model::Span*> spans;
    std::vector<const waggle::model::Document*> docs;
    for (const auto& s : trace.spans) spans.push_back(&s);
    for (const auto& d : trace.documents) docs.push_back(&d);
    std::string again;
    waggle::storage::EncodeFragment(header, spans, docs, false, &again);
    waggle::storage::TraceData back;
    back.id = header.trace_id;
    if (!waggle::storage::DecodeFragment(again, nullptr, &back).ok()) std::abort();
    if (back.spans.size() != trace.spans.size()) std::abort();
  }
  return 0;
}
