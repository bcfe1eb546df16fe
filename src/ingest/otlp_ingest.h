#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "codec/honeycomb/events.h"
#include "codec/otlp/otlp.h"
#include "storage/trace_data.h"
#include "storage/writer.h"

// OTLP exports and Honeycomb events, whatever transport brought them (OTLP/HTTP, OTLP/gRPC,
// the Events API): keys to environments, a memory budget, decoding, and durable writes.
namespace waggle::ingest {

struct OtlpIngestOptions {
  // API key -> environment. Empty: no key is checked and everything lands in "default".
  std::unordered_map<std::string, std::string> api_keys;
  // Request bytes (as received plus decompressed) that may be in flight at once; past it,
  // requests are shed with Unavailable so clients retry later.
  size_t memory_budget_bytes = 256 << 20;
  // codec::otlp::DecodeOptions::max_context_bytes for every request: a request whose records
  // would carry more copied resource and scope attributes is refused (413, RESOURCE_EXHAUSTED).
  // An exporter's batch of 8,192 spans under 5 KiB of resource attributes copies 40 MiB.
  size_t max_context_bytes = size_t{64} << 20;

  Status Validate() const;
};

// Thread-safe: every member is atomic.
struct OtlpCounters {
  std::atomic<uint64_t> spans_accepted{0};
  std::atomic<uint64_t> spans_rejected{0};
  std::atomic<uint64_t> log_records_accepted{0};
  std::atomic<uint64_t> log_records_rejected{0};
  std::atomic<uint64_t> events_accepted{0};
  std::atomic<uint64_t> events_rejected{0};
  std::atomic<uint64_t> requests_malformed{0};        // undecodable bodies (400)
  std::atomic<uint64_t> requests_unauthenticated{0};  // 401
  std::atomic<uint64_t> requests_too_large{0};        // 413 / RESOURCE_EXHAUSTED
  std::atomic<uint64_t> requests_shed{0};             // over the memory budget (503)
  std::atomic<uint64_t> store_errors{0};
  // Bytes of OTLP and events strings that were not UTF-8 (and JSON escapes of lone
  // surrogates), stored as U+FFFD in records that were kept.
  std::atomic<uint64_t> text_repairs{0};
};

// The outcome of one request, in protocol-neutral terms; each transport maps the status to
// its own form (OK, InvalidArgument, Unauthenticated, ResourceExhausted, Unavailable,
// Internal).
struct ExportOutcome {
  Status status;
  uint64_t rejected = 0;  // records refused one by one (partial success)
  std::string message;    // why, when rejected > 0; else a warning, or empty
};

// An OTLP protobuf traces request as a batch's source (model::SpanBatch::source): the decode
// options it was decoded with, then the body (docs/wal-format.md, record type 3). The header
// alone is the batch's source_header, the body its source.
std::string EncodeOtlpSourceHeader(const codec::otlp::DecodeOptions& options);
std::string EncodeOtlpSource(const codec::otlp::DecodeOptions& options, std::string_view body);
// The options and body of such a source; Corruption when its header is damaged.
Status ParseOtlpSource(std::string_view source, codec::otlp::DecodeOptions* options,
                       std::string_view* body);

// Decodes such a source into the spans DecodeTraces gave when it was made (the spans it
// refused then are refused again). Thread-safe.
class OtlpSourceDecoder : public storage::SourceDecoder {
 public:
  Status DecodeSource(std::string_view source, model::SpanBatch* out) const override;
};

// Thread-safe.
class OtlpIngester {
 public:
  OtlpIngester(const OtlpIngestOptions& options, storage::Writer* writer, OtlpCounters* counters)
      : options_(options), writer_(writer), counters_(counters) {}

  // The environment an API key (x-honeycomb-team) stands for. Unauthenticated when keys are
  // configured and this one is missing or unknown.
  Result<std::string> Authenticate(std::string_view api_key) const;

  // A share of the memory budget, held while a request is decoded and written.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept : owner_(other.owner_), bytes_(other.bytes_) {
      other.owner_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    // Takes `more` bytes too; false (nothing taken) when the budget has no room.
    bool Grow(size_t more);

   private:
    friend class OtlpIngester;
    OtlpIngester* owner_ = nullptr;
    size_t bytes_ = 0;
  };
  // Unavailable (and counted as shed) when the budget has no room for `bytes`.
  Result<Lease> Reserve(size_t bytes);

  struct Request {
    codec::otlp::Signal signal = codec::otlp::Signal::kTraces;
    codec::otlp::Encoding encoding = codec::otlp::Encoding::kProtobuf;
    std::string_view body;  // decompressed
    std::string environment = "default";
    std::string_view api_key;
    std::string_view dataset_header;  // x-honeycomb-dataset
  };
  // Decodes an OTLP export and stores what is valid, durably. Records refused one by one
  // are counted in the outcome; an undecodable body stores nothing (InvalidArgument).
  ExportOutcome Export(const Request& request);

  // The Events API: a batch (one status per event) or one event (statuses left empty).
  struct EventsRequest {
    bool batch = true;
    codec::honeycomb::EventEncoding encoding = codec::honeycomb::EventEncoding::kJson;
    std::string_view body;  // decompressed
    std::string environment = "default";
    std::string_view dataset;
    std::string_view event_time;  // X-Honeycomb-Event-Time (single events)
    std::string_view samplerate;  // X-Honeycomb-Samplerate (single events)
  };
  ExportOutcome IngestEvents(const EventsRequest& request,
                             std::vector<codec::honeycomb::EventStatus>* statuses);

  OtlpCounters& counters() { return *counters_; }

 private:
  void Release(size_t bytes) { in_flight_.fetch_sub(bytes, std::memory_order_relaxed); }
  bool TryTake(size_t bytes);

  // A trace batch to decode a request into: one decoded into before when there is one, whose
  // spans are reused (model::SpanBatch::Recycle).
  std::unique_ptr<model::SpanBatch> TakeBatch();
  // Recycles `batch` and keeps it for TakeBatch, unless kKeptBatches are kept already.
  void KeepBatch(std::unique_ptr<model::SpanBatch> batch);

  // About as many as requests are decoded at once. Each holds what SpanBatch::Recycle keeps,
  // outside the memory budget: ~2 MiB after 512-span requests of 10-20 attributes, ~16 MiB at
  // most.
  static constexpr size_t kKeptBatches = 4;

  const OtlpIngestOptions options_;
  storage::Writer* const writer_;
  OtlpCounters* const counters_;
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> seed_{0x5eed};
  Mutex batches_mu_;
  std::vector<std::unique_ptr<model::SpanBatch>> batches_ GUARDED_BY(batches_mu_);
};

}  // namespace waggle::ingest
