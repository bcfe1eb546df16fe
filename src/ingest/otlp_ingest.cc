#include "ingest/otlp_ingest.h"

#include "base/clock.h"
#include "base/coding.h"
#include "base/mix.h"

namespace waggle::ingest {

using codec::otlp::Encoding;
using codec::otlp::Signal;

namespace {
// A source's first byte: what follows it and how it decodes. A change to the OTLP mapping that
// would decode a logged source differently takes a new kind (storage::SourceDecoder).
constexpr char kOtlpTracesProtobuf = 1;
}  // namespace

std::string EncodeOtlpSourceHeader(const codec::otlp::DecodeOptions& options) {
  std::string out;
  out.push_back(kOtlpTracesProtobuf);
  coding::PutLengthPrefixed(&out, options.environment);
  coding::PutLengthPrefixed(&out, options.dataset_header);
  out.push_back(options.classic_key ? 1 : 0);
  return out;
}

std::string EncodeOtlpSource(const codec::otlp::DecodeOptions& options, std::string_view body) {
  return EncodeOtlpSourceHeader(options).append(body);
}

Status ParseOtlpSource(std::string_view source, codec::otlp::DecodeOptions* options,
                       std::string_view* body) {
  if (source.size() < 2 || source[0] != kOtlpTracesProtobuf) {
    return Status::Corruption("not an OTLP protobuf traces source");
  }
  source.remove_prefix(1);
  if (!coding::GetLengthPrefixed(&source, &options->environment) ||
      !coding::GetLengthPrefixed(&source, &options->dataset_header) || source.empty() ||
      static_cast<uint8_t>(source[0]) > 1) {
    return Status::Corruption("damaged OTLP source header");
  }
  options->classic_key = source[0] == 1;
  *body = source.substr(1);
  return Status::Ok();
}

Status OtlpSourceDecoder::DecodeSource(std::string_view source, model::SpanBatch* out) const {
  codec::otlp::DecodeOptions options;
  std::string_view body;
  WAGGLE_RETURN_IF_ERROR(ParseOtlpSource(source, &options, &body));
  options.shared_context = true;  // as Export decoded it
  options.borrow_text = true;
  codec::otlp::Rejections rejected;  // refused when it was written too
  return codec::otlp::DecodeTraces(Encoding::kProtobuf, body, options, out, &rejected);
}

Status OtlpIngestOptions::Validate() const {
  for (const auto& [key, environment] : api_keys) {
    if (key.empty()) return Status::InvalidArgument("an API key is empty");
    if (environment.empty()) return Status::InvalidArgument("API key has an empty environment");
  }
  if (memory_budget_bytes < (1 << 20)) {
    return Status::InvalidArgument("the memory budget must be at least 1 MiB");
  }
  return Status::Ok();
}

Result<std::string> OtlpIngester::Authenticate(std::string_view api_key) const {
  if (options_.api_keys.empty()) return std::string("default");
  if (api_key.empty()) {
    counters_->requests_unauthenticated.fetch_add(1, std::memory_order_relaxed);
    return Status::Unauthenticated("missing 'x-honeycomb-team' header");
  }
  auto it = options_.api_keys.find(std::string(api_key));
  if (it == options_.api_keys.end()) {
    counters_->requests_unauthenticated.fetch_add(1, std::memory_order_relaxed);
    return Status::Unauthenticated("unknown API key - check your credentials");
  }
  return it->second;
}

bool OtlpIngester::TryTake(size_t bytes) {
  size_t now = in_flight_.load(std::memory_order_relaxed);
  do {
    // One request larger than the whole budget still gets through when nothing else is in
    // flight, so a large legal body is never refused forever.
    if (now != 0 && now + bytes > options_.memory_budget_bytes) return false;
  } while (!in_flight_.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
  return true;
}

Result<OtlpIngester::Lease> OtlpIngester::Reserve(size_t bytes) {
  if (!TryTake(bytes)) {
    counters_->requests_shed.fetch_add(1, std::memory_order_relaxed);
    return Status::Unavailable("over the memory budget; retry later");
  }
  Lease lease;
  lease.owner_ = this;
  lease.bytes_ = bytes;
  return lease;
}

std::unique_ptr<model::SpanBatch> OtlpIngester::TakeBatch() {
  {
    MutexLock lock(&batches_mu_);
    if (!batches_.empty()) {
      std::unique_ptr<model::SpanBatch> batch = std::move(batches_.back());
      batches_.pop_back();
      return batch;
    }
  }
  return std::make_unique<model::SpanBatch>();
}

void OtlpIngester::KeepBatch(std::unique_ptr<model::SpanBatch> batch) {
  batch->Recycle();  // outside the lock: it walks every span
  MutexLock lock(&batches_mu_);
  if (batches_.size() < kKeptBatches) batches_.push_back(std::move(batch));
}

OtlpIngester::Lease::~Lease() {
  if (owner_) owner_->Release(bytes_);
}

bool OtlpIngester::Lease::Grow(size_t more) {
  if (!owner_ || !owner_->TryTake(more)) {
    if (owner_) owner_->counters_->requests_shed.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  bytes_ += more;
  return true;
}

namespace {
// A store error as the client should see it: over budget is retryable (Unavailable); any
// other failure is the server's (Internal), never the request's fault.
Status StoreError(const Status& s) {
  if (s.code() == Status::Code::kResourceExhausted || s.code() == Status::Code::kUnavailable) {
    return Status::Unavailable(s.message());
  }
  return Status::Internal("the store failed: " + s.message());
}

// Decodes a request into `batch` with `decode`, then stores what was decoded with `write`,
// durably. Counts an undecodable body and a store failure.
template <typename Batch, typename Decode, typename Write>
Status DecodeAndStore(OtlpCounters* counters, Batch* batch, Decode decode, Write write) {
  Status s = decode(batch);
  if (!s.ok()) {
    (s.code() == Status::Code::kResourceExhausted ? counters->requests_too_large
                                                  : counters->requests_malformed)
        .fetch_add(1, std::memory_order_relaxed);
    return s;
  }
  if (batch->empty()) return s;
  s = write(*batch, storage::Durability::kSync);
  if (s.ok()) return s;
  counters->store_errors.fetch_add(1, std::memory_order_relaxed);
  return StoreError(s);
}

}  // namespace

ExportOutcome OtlpIngester::Export(const Request& request) {
  ExportOutcome outcome;
  codec::otlp::DecodeOptions options;
  options.environment = request.environment;
  options.dataset_header = request.dataset_header;
  options.classic_key = codec::otlp::IsClassicKey(request.api_key);
  options.max_context_bytes = options_.max_context_bytes;
  // Attributes' text is borrowed from the body, which stays until the write is done; the
  // batch is recycled (KeepBatch) before this returns.
  options.borrow_text = true;
  codec::otlp::Rejections rejected;
  if (request.signal == Signal::kTraces) {
    options.shared_context = true;  // the store takes them as they are
    if (options.classic_key && request.dataset_header.empty()) {
      counters_->requests_unauthenticated.fetch_add(1, std::memory_order_relaxed);
      outcome.status = Status::Unauthenticated("missing 'x-honeycomb-dataset' header");
      return outcome;
    }
    std::unique_ptr<model::SpanBatch> batch = TakeBatch();
    // A protobuf request is its batch's source: the store may log it in place of the spans,
    // which is cheaper than encoding them and takes fewer bytes. (JSON takes more bytes than
    // the spans' encoding, and is slower to decode again.) The body goes as it is, after a
    // header of the decode options: the log copies both into its record, and nothing else
    // copies the body.
    std::string source_header;
    outcome.status = DecodeAndStore(
        counters_, batch.get(),
        [&](model::SpanBatch* b) {
          Status s =
              codec::otlp::DecodeTraces(request.encoding, request.body, options, b, &rejected);
          if (s.ok() && request.encoding == Encoding::kProtobuf && !b->empty()) {
            source_header = EncodeOtlpSourceHeader(options);
            b->source_header = source_header;
            b->source = request.body;
          }
          return s;
        },
        [this](const model::SpanBatch& b, storage::Durability d) { return writer_->Write(b, d); });
    const size_t accepted = batch->spans.size();
    KeepBatch(std::move(batch));  // the store is done with it: the write was durable or failed
    if (!outcome.status.ok()) return outcome;
    counters_->spans_accepted.fetch_add(accepted, std::memory_order_relaxed);
    counters_->spans_rejected.fetch_add(rejected.count, std::memory_order_relaxed);
  } else if (request.signal == Signal::kLogs) {
    model::LogBatch batch;
    outcome.status = DecodeAndStore(
        counters_, &batch,
        [&](model::LogBatch* b) {
          return codec::otlp::DecodeLogs(request.encoding, request.body, options, b, &rejected);
        },
        [this](const model::LogBatch& b, storage::Durability d) {
          return writer_->WriteLogs(b, d);
        });
    if (!outcome.status.ok()) return outcome;
    counters_->log_records_accepted.fetch_add(batch.records.size(), std::memory_order_relaxed);
    counters_->log_records_rejected.fetch_add(rejected.count, std::memory_order_relaxed);
  } else {
    outcome.status = Status::Unimplemented("metrics are not stored by this version of waggle");
    return outcome;
  }
  counters_->text_repairs.fetch_add(rejected.text_repairs, std::memory_order_relaxed);
  outcome.rejected = rejected.count;
  if (rejected.count > 0) {
    outcome.message = std::to_string(rejected.count) + " rejected: " + rejected.message;
  }
  if (rejected.text_repairs > 0) {  // a warning: partial_success with nothing rejected
    if (!outcome.message.empty()) outcome.message += "; ";
    outcome.message +=
        "strings that were not valid UTF-8 were stored with U+FFFD for their invalid bytes or "
        "lone surrogate escapes (replacements: " +
        std::to_string(rejected.text_repairs) + ")";
  }
  return outcome;
}

ExportOutcome OtlpIngester::IngestEvents(const EventsRequest& request,
                                         std::vector<codec::honeycomb::EventStatus>* statuses) {
  ExportOutcome outcome;
  if (request.body.empty()) {
    counters_->requests_malformed.fetch_add(1, std::memory_order_relaxed);
    outcome.status = Status::InvalidArgument("Request body should not be empty.");
    return outcome;
  }
  codec::honeycomb::EventOptions options;
  options.encoding = request.encoding;
  options.dataset = request.dataset;
  options.environment = request.environment;
  options.now_ns = Clock::Real()->NowNanos();
  options.seed = seed_.fetch_add(kGoldenGamma, std::memory_order_relaxed) ^
                 static_cast<uint64_t>(options.now_ns);
  uint64_t text_repairs = 0;
  options.text_repairs = &text_repairs;
  model::SpanBatch batch;
  outcome.status = DecodeAndStore(
      counters_, &batch,
      [&](model::SpanBatch* b) {
        return request.batch ? codec::honeycomb::DecodeBatch(request.body, options, b, statuses)
                             : codec::honeycomb::DecodeEvent(request.body, request.event_time,
                                                             request.samplerate, options, b);
      },
      [this](const model::SpanBatch& b, storage::Durability d) { return writer_->Write(b, d); });
  if (!outcome.status.ok()) return outcome;
  counters_->events_accepted.fetch_add(batch.spans.size(), std::memory_order_relaxed);
  for (const auto& s : *statuses) {
    if (s.status != 202) ++outcome.rejected;
  }
  counters_->events_rejected.fetch_add(outcome.rejected, std::memory_order_relaxed);
  counters_->text_repairs.fetch_add(text_repairs, std::memory_order_relaxed);
  return outcome;
}

}  // namespace waggle::ingest
