#include "storage/log_data.h"

#include "base/coding.h"
#include "model/trace_index.h"
#include "storage/record_coding.h"

namespace waggle::storage {
namespace {

using namespace internal;  // NOLINT: the shared field encodings

constexpr uint64_t kLogGroupVersion = 1;

void PutRecord(std::string* out, const model::LogRecord& r) {
  coding::PutFixed64(out, r.span_id.value);
  coding::PutLengthPrefixed(out, r.environment);
  coding::PutLengthPrefixed(out, r.service);
  coding::PutVarsint64(out, r.time_ns);
  coding::PutVarsint64(out, static_cast<int64_t>(static_cast<uint64_t>(r.observed_ns) -
                                                 static_cast<uint64_t>(r.time_ns)));
  out->push_back(static_cast<char>(r.severity_number));
  out->push_back(static_cast<char>(r.body_is_json));
  coding::PutVarint64(out, r.flags);
  coding::PutLengthPrefixed(out, r.severity_text);
  coding::PutLengthPrefixed(out, r.body);
  coding::PutLengthPrefixed(out, r.event_name);
  coding::PutLengthPrefixed(out, r.scope_name);
  PutAttributes(out, r.attributes);
}

bool GetRecord(std::string_view* in, model::LogRecord* r) {
  int64_t observed_delta;
  uint64_t flags;
  if (!coding::GetFixed64(in, &r->span_id.value) || !GetString(in, &r->environment) ||
      !GetString(in, &r->service) || !coding::GetVarsint64(in, &r->time_ns) ||
      !coding::GetVarsint64(in, &observed_delta) || in->size() < 2) {
    return false;
  }
  r->observed_ns = static_cast<int64_t>(static_cast<uint64_t>(r->time_ns) +
                                        static_cast<uint64_t>(observed_delta));
  r->severity_number = static_cast<uint8_t>((*in)[0]);
  r->body_is_json = (*in)[1] != 0;
  in->remove_prefix(2);
  if (!coding::GetVarint64(in, &flags) || !GetString(in, &r->severity_text) ||
      !GetString(in, &r->body) || !GetString(in, &r->event_name) ||
      !GetString(in, &r->scope_name) || !GetAttributes(in, &r->attributes)) {
    return false;
  }
  r->flags = static_cast<uint32_t>(flags);
  return r->severity_number <= 24;
}

bool GetHeader(std::string_view* in, model::TraceId* trace_id) {
  uint64_t version;
  return coding::GetVarint64(in, &version) && version == kLogGroupVersion &&
         GetTraceId(in, trace_id);
}

}  // namespace

void EncodeLogGroup(const model::TraceId& trace_id,
                    const std::vector<const model::LogRecord*>& records, std::string* out) {
  coding::PutVarint64(out, kLogGroupVersion);
  PutTraceId(out, trace_id);
  coding::PutVarint64(out, records.size());
  for (const model::LogRecord* r : records) PutRecord(out, *r);
}

Status DecodeLogGroupTraceId(std::string_view in, model::TraceId* trace_id) {
  if (!GetHeader(&in, trace_id)) return Status::Corruption("bad log group header");
  return Status::Ok();
}

Status DecodeLogGroup(std::string_view in, std::vector<model::LogRecord>* out) {
  model::TraceId trace_id;
  uint64_t n;
  if (!GetHeader(&in, &trace_id) || !GetCount(&in, 20, &n)) {
    return Status::Corruption("bad log group header");
  }
  const size_t first = out->size();
  out->resize(first + n);
  for (size_t i = first; i < out->size(); ++i) {
    (*out)[i].trace_id = trace_id;
    if (!GetRecord(&in, &(*out)[i])) {
      out->resize(first);
      return Status::Corruption("bad log record in log group");
    }
  }
  if (!in.empty()) {
    out->resize(first);
    return Status::Corruption("trailing bytes in log group");
  }
  return Status::Ok();
}

std::vector<LogGroup> EncodeLogGroups(const model::LogBatch& batch) {
  model::TraceIndex group_of;
  std::vector<std::vector<const model::LogRecord*>> records;
  std::vector<LogGroup> groups;
  for (const model::LogRecord& r : batch.records) {
    bool added;
    const uint32_t g = group_of.FindOrAdd(r.trace_id, &added);
    if (added) {
      groups.push_back({r.trace_id, {}});
      records.emplace_back();
    }
    records[g].push_back(&r);
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    EncodeLogGroup(groups[i].trace_id, records[i], &groups[i].encoded);
  }
  return groups;
}

}  // namespace waggle::storage
