#include "storage/fields.h"

namespace waggle::storage {
namespace {

constexpr std::string_view kStringNames[kStringFieldCount] = {
    "environment", "service",    "dataset",     "name",       "status_message",
    "http_method", "http_route", "http_url",    "client_ip",  "user_agent",
    "db_system",   "peer",       "trace_state", "scope_name", "scope_version"};

constexpr std::string_view kIntNames[kIntFieldCount] = {
    "start_ns",    "duration_ns", "end_is_zero", "kind",        "in_progress",       "status_flags",
    "http_status", "flags",       "otel_status", "sample_rate", "from_xray_document"};

}  // namespace

std::string_view StringFieldName(StringField f) { return kStringNames[static_cast<size_t>(f)]; }
std::string_view IntFieldName(IntField f) { return kIntNames[static_cast<size_t>(f)]; }

std::optional<StringField> FindStringField(std::string_view name) {
  for (size_t f = 0; f < kStringFieldCount; ++f) {
    if (kStringNames[f] == name) return static_cast<StringField>(f);
  }
  return std::nullopt;
}

std::optional<IntField> FindIntField(std::string_view name) {
  for (size_t f = 0; f < kIntFieldCount; ++f) {
    if (kIntNames[f] == name) return static_cast<IntField>(f);
  }
  return std::nullopt;
}

}  // namespace waggle::storage
