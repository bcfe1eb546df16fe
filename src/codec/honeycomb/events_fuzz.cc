// Fuzzes the Honeycomb Events API decoders (DecodeBatch, DecodeEvent) and checks what the
// receiver relies on: a body refused whole is InvalidArgument with a message and adds nothing;
// in a batch, each event gets one status (202 with no error, or 400 with one) and each 202 is
// one span, in order; every span has ids, a service, a name, the key's environment, a sample
// rate of at least 1 and an end no earlier than its start; a second decode gives the same spans.
//
// Input: the first byte picks the decoder (bit 0: one event, else a batch) and the encoding
// (bit 1: MessagePack, else JSON). For one event, the
// next two bytes are the lengths (mod 48) of the X-Honeycomb-Event-Time and
// X-Honeycomb-Samplerate header values that follow them; the rest is the body.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "codec/honeycomb/events.h"

namespace {

using waggle::Status;
using waggle::codec::honeycomb::EventOptions;
using waggle::codec::honeycomb::EventStatus;

EventOptions Options(bool msgpack) {
  EventOptions o;
  o.encoding = msgpack ? waggle::codec::honeycomb::EventEncoding::kMsgpack
                       : waggle::codec::honeycomb::EventEncoding::kJson;
  o.dataset = "fuzz-dataset";
  o.environment = "fuzz-env";
  o.now_ns = 1'795'250'000'000'000'000;  // 2026-11-21T08:33:20Z
  o.seed = 7;
  return o;
}

void CheckSpan(const waggle::model::Span& s, const EventOptions& options) {
  if (s.trace_id.IsZero() || s.span_id.IsZero() || s.service.empty() || s.name.empty() ||
      s.environment != options.environment || s.sample_rate < 1 || s.end_ns < s.start_ns) {
    std::abort();
  }
}

void CheckRefused(const Status& s, const waggle::model::SpanBatch& batch) {
  if (s.code() != Status::Code::kInvalidArgument || s.message().empty() || !batch.spans.empty()) {
    std::abort();
  }
}

void FuzzBatch(std::string_view body, bool msgpack) {
  const EventOptions options = Options(msgpack);
  waggle::model::SpanBatch batch;
  std::vector<EventStatus> statuses;
  const Status s = waggle::codec::honeycomb::DecodeBatch(body, options, &batch, &statuses);
  if (!s.ok()) {
    CheckRefused(s, batch);
    if (!statuses.empty()) std::abort();
    return;
  }
  size_t accepted = 0;
  for (const EventStatus& e : statuses) {
    if (e.status == 202) {
      if (!e.error.empty()) std::abort();
      ++accepted;
    } else if (e.status != 400 || e.error.empty()) {
      std::abort();
    }
  }
  if (accepted != batch.spans.size()) std::abort();
  for (const waggle::model::Span& span : batch.spans) CheckSpan(span, options);

  waggle::model::SpanBatch again;
  std::vector<EventStatus> again_statuses;
  if (!waggle::codec::honeycomb::DecodeBatch(body, options, &again, &again_statuses).ok() ||
      again.spans != batch.spans || again_statuses.size() != statuses.size()) {
    std::abort();
  }
}

void FuzzEvent(std::string_view time, std::string_view rate, std::string_view body, bool msgpack) {
  const EventOptions options = Options(msgpack);
  waggle::model::SpanBatch batch;
  const Status s = waggle::codec::honeycomb::DecodeEvent(body, time, rate, options, &batch);
  if (!s.ok()) {
    CheckRefused(s, batch);
    return;
  }
  if (batch.spans.size() != 1) std::abort();
  CheckSpan(batch.spans[0], options);
  waggle::model::SpanBatch again;
  if (!waggle::codec::honeycomb::DecodeEvent(body, time, rate, options, &again).ok() ||
      again.spans != batch.spans) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool msgpack = (data[0] & 2) != 0;
  if ((data[0] & 1) == 0) {
    FuzzBatch(in, msgpack);
    return 0;
  }
  if (in.size() < 2) return 0;
  const size_t time_len = static_cast<uint8_t>(in[0]) % 48;
  const size_t rate_len = static_cast<uint8_t>(in[1]) % 48;
  in.remove_prefix(2);
  if (in.size() < time_len + rate_len) return 0;
  FuzzEvent(in.substr(0, time_len), in.substr(time_len, rate_len), in.substr(time_len + rate_len),
            msgpack);
  return 0;
}
