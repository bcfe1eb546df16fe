#include "codec/otlp/otlp.h"

#include <algorithm>
#include <cstddef>

#include "codec/json_writer.h"
#include "codec/otlp/decoders.h"
#include "codec/otlp/proto_wire.h"

namespace waggle::codec::otlp {

namespace {

// Decodes with `decode` into `out`; a body refused whole leaves `out` and `rejected` as they
// were, whichever decoder refused it.
template <typename Records, typename Decode>
Status DecodeAll(Records* records, Rejections* rejected, Decode decode) {
  const size_t before = records->size();
  const Rejections rejected_before = *rejected;
  Status s = decode();
  if (!s.ok()) {
    records->erase(records->begin() + static_cast<std::ptrdiff_t>(before), records->end());
    *rejected = rejected_before;
  }
  return s;
}

}  // namespace

Status DecodeTraces(Encoding encoding, std::string_view body, const DecodeOptions& options,
                    model::SpanBatch* out, Rejections* rejected) {
  const size_t contexts = out->contexts.size();
  const Rejections rejected_before = *rejected;
  out->BeginFill();  // the decoders add spans through AddSpan and DropLastSpan alone
  const size_t before = out->filled();
  Status s = encoding == Encoding::kProtobuf ? DecodeTracesProto(body, options, out, rejected)
                                             : DecodeTracesJson(body, options, out, rejected);
  if (!s.ok()) {  // refused whole: `out` and `rejected` are left as they were
    while (out->filled() > before) out->DropLastSpan();
    *rejected = rejected_before;
    out->contexts.resize(contexts);
  }
  out->EndFill();
  return s;
}

Status DecodeLogs(Encoding encoding, std::string_view body, const DecodeOptions& options,
                  model::LogBatch* out, Rejections* rejected) {
  return DecodeAll(&out->records, rejected, [&] {
    return encoding == Encoding::kProtobuf ? DecodeLogsProto(body, options, out, rejected)
                                           : DecodeLogsJson(body, options, out, rejected);
  });
}

std::string DatasetForService(std::string_view name) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t first = name.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return "unknown_service";
  name = name.substr(first, name.find_last_not_of(kSpace) - first + 1);
  if (name.starts_with("unknown_service")) return "unknown_service";
  return std::string(name);
}

bool IsClassicKey(std::string_view key) {
  auto all = [](std::string_view s, auto pred) { return std::all_of(s.begin(), s.end(), pred); };
  if (key.size() == 32) {
    return all(key, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  }
  if (key.size() == 64) {
    return key.starts_with("hc") && key[2] >= 'a' && key[2] <= 'z' && key.substr(3, 3) == "ic_" &&
           all(key.substr(6),
               [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); });
  }
  return false;
}

std::string LogsServiceFor(std::string_view service_name, std::string_view dataset_header) {
  std::string service = DatasetForService(service_name);
  if (service != "unknown_service") return service;
  std::string header = DatasetForService(dataset_header);
  if (header != "unknown_service") return header;
  return "unknown_log_source";
}

std::string EncodeExportResponse(Encoding encoding, Signal signal, uint64_t rejected,
                                 std::string_view message) {
  const bool partial = rejected != 0 || !message.empty();
  if (encoding == Encoding::kProtobuf) {
    std::string out;
    if (!partial) return out;
    std::string inner;
    if (rejected != 0) {
      wire::PutTag(&inner, 1, wire::kVarint);
      wire::PutVarint(&inner, rejected);
    }
    if (!message.empty()) wire::PutBytes(&inner, 2, message);
    wire::PutBytes(&out, 1, inner);
    return out;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (partial) {
    w.Key("partialSuccess");
    w.StartObject();
    if (rejected != 0) {
      w.Key(signal == Signal::kTraces ? "rejectedSpans"
            : signal == Signal::kLogs ? "rejectedLogRecords"
                                      : "rejectedDataPoints");
      const std::string n = std::to_string(rejected);  // int64 as a string, as protojson does
      WriteString(w, n);
    }
    if (!message.empty()) {
      w.Key("errorMessage");
      WriteString(w, message);
    }
    w.EndObject();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string EncodeStatus(Encoding encoding, int grpc_code, std::string_view message) {
  if (encoding == Encoding::kProtobuf) {
    std::string out;
    if (grpc_code != 0) {
      wire::PutTag(&out, 1, wire::kVarint);
      wire::PutVarint(&out, static_cast<uint64_t>(static_cast<int64_t>(grpc_code)));
    }
    if (!message.empty()) wire::PutBytes(&out, 2, message);
    return out;
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("code");
  w.Int(grpc_code);
  w.Key("message");
  WriteString(w, message);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace waggle::codec::otlp
