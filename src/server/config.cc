#include "server/config.h"

#include <cstdlib>
#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "base/log.h"
#include "net/address.h"

namespace waggle::server {
namespace {

Status CheckAddress(const std::string& name, const std::string& value, bool have_auth) {
  auto hp = net::ParseHostPort(value);
  if (!hp.ok()) return Status::InvalidArgument(name + ": " + hp.status().message());
  if (!net::IsLoopback(hp->host) && !have_auth) {
    return Status::InvalidArgument(name + " " + value +
                                   " is not a loopback address; listening beyond this machine "
                                   "needs authentication (--aws-credentials, --api-keys)");
  }
  return Status::Ok();
}

// A section of two addresses (`xray: {udp, tcp}`, `otlp: {http, grpc}`).
Status ApplyAddresses(const YAML::Node& v, const std::string& path, const std::string& section,
                      const std::string& a, std::string* a_out, const std::string& b,
                      std::string* b_out) {
  if (!v.IsMap()) {
    return Status::InvalidArgument("config " + path + ": " + section + " must hold " + a + " and " +
                                   b);
  }
  for (const auto& x : v) {
    const std::string k = x.first.as<std::string>();
    if (k == a) {
      *a_out = x.second.as<std::string>();
    } else if (k == b) {
      *b_out = x.second.as<std::string>();
    } else {
      return Status::InvalidArgument("config " + path + ": unknown key " + section + "." + k);
    }
  }
  return Status::Ok();
}

// The non-empty items of a comma-separated list.
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (!item.empty()) items.push_back(std::move(item));
  }
  return items;
}

}  // namespace

Status ServerConfig::Validate() const {
  if (data_dir.empty()) return Status::InvalidArgument("--data-dir is empty");
  if (retention_hours < 0) return Status::InvalidArgument("--retention-hours must be >= 0");
  if (head_max_rows < 1000 || head_max_rows > (size_t{1} << 26)) {
    return Status::InvalidArgument("--head-max-rows must be 1000..67108864");
  }
  const bool have_auth = !aws_credentials.empty();
  WAGGLE_RETURN_IF_ERROR(CheckAddress("--xray-udp", xray_udp, have_auth));
  WAGGLE_RETURN_IF_ERROR(CheckAddress("--xray-tcp", xray_tcp, have_auth));
  WAGGLE_RETURN_IF_ERROR(CheckAddress("--http", http, have_auth));
  WAGGLE_RETURN_IF_ERROR(CheckAddress("--otlp-http", otlp_http, !api_keys.empty()));
  WAGGLE_RETURN_IF_ERROR(CheckAddress("--otlp-grpc", otlp_grpc, !api_keys.empty()));
  for (const ApiKey& k : api_keys) {
    if (k.key.empty() || k.environment.empty()) {
      return Status::InvalidArgument("api_keys: every entry needs a key and an environment");
    }
  }
  if (otlp_max_body_bytes < 1024 || otlp_max_body_bytes > (1ull << 30)) {
    return Status::InvalidArgument("--otlp-max-body-bytes must be 1 KiB..1 GiB");
  }
  if (otlp_memory_budget_bytes < (1 << 20)) {
    return Status::InvalidArgument("otlp_memory_budget_bytes must be at least 1 MiB");
  }
  log::Level level;
  if (!log::ParseLevel(log_level, &level)) {
    return Status::InvalidArgument("--log-level '" + log_level +
                                   "' is not debug, info, warn or error");
  }
  if (udp_durability != "buffered" && udp_durability != "sync") {
    return Status::InvalidArgument("--udp-durability '" + udp_durability +
                                   "' is not buffered or sync");
  }
  if (block_reads != "mmap" && block_reads != "pread") {
    return Status::InvalidArgument("--block-reads '" + block_reads + "' is not mmap or pread");
  }
  if (api_threads < 1 || api_threads > 64)
    return Status::InvalidArgument("--api-threads must be 1..64");
  if (account_id.size() != 12 || account_id.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("--account-id '" + account_id + "' is not 12 digits");
  }
  if (region.empty()) return Status::InvalidArgument("--region is empty");
  for (const AwsCredential& c : aws_credentials) {
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Status::InvalidArgument(
          "aws_credentials: every entry needs access_key_id and secret_access_key");
    }
  }
  return Status::Ok();
}

Result<std::vector<ApiKey>> ParseApiKeyList(const std::string& text) {
  std::vector<ApiKey> out;
  for (const std::string& item : SplitList(text)) {
    ApiKey k;
    size_t eq = item.find('=');
    k.key = item.substr(0, eq);
    if (eq != std::string::npos) k.environment = item.substr(eq + 1);
    if (k.key.empty() || k.environment.empty()) {
      return Status::InvalidArgument("API key '" + item + "' is not KEY=ENVIRONMENT");
    }
    out.push_back(std::move(k));
  }
  return out;
}

Result<std::vector<AwsCredential>> ParseCredentialList(const std::string& text) {
  std::vector<AwsCredential> out;
  for (const std::string& item : SplitList(text)) {
    AwsCredential c;
    size_t a = item.find(':');
    if (a == std::string::npos) {
      return Status::InvalidArgument("credentials '" + item +
                                     "' are not ACCESS_KEY_ID:SECRET[:ENVIRONMENT]");
    }
    c.access_key_id = item.substr(0, a);
    size_t b = item.find(':', a + 1);
    c.secret_access_key =
        item.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    if (b != std::string::npos) c.environment = item.substr(b + 1);
    out.push_back(std::move(c));
  }
  return out;
}

Status ApplyYamlFile(const std::string& path, ServerConfig* config) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::InvalidArgument("--config " + path + ": no such file");
  }
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) return Status::InvalidArgument("config " + path + ": not a YAML mapping");
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "data_dir")
        config->data_dir = v.as<std::string>();
      else if (key == "http")
        config->http = v.as<std::string>();
      else if (key == "region")
        config->region = v.as<std::string>();
      else if (key == "account_id")
        config->account_id = v.as<std::string>();
      else if (key == "log_level")
        config->log_level = v.as<std::string>();
      else if (key == "udp_durability")
        config->udp_durability = v.as<std::string>();
      else if (key == "block_reads")
        config->block_reads = v.as<std::string>();
      else if (key == "api_threads")
        config->api_threads = v.as<int>();
      else if (key == "otlp_max_body_bytes")
        config->otlp_max_body_bytes = v.as<size_t>();
      else if (key == "otlp_memory_budget_bytes")
        config->otlp_memory_budget_bytes = v.as<size_t>();
      else if (key == "retention_hours")
        config->retention_hours = v.as<int64_t>();
      else if (key == "max_disk_bytes")
        config->max_disk_bytes = v.as<uint64_t>();
      else if (key == "head_max_rows")
        config->head_max_rows = v.as<size_t>();
      else if (key == "otlp") {
        WAGGLE_RETURN_IF_ERROR(ApplyAddresses(v, path, "otlp", "http", &config->otlp_http, "grpc",
                                              &config->otlp_grpc));
      } else if (key == "api_keys") {
        // A mapping of key -> environment.
        if (!v.IsMap()) {
          return Status::InvalidArgument("config " + path +
                                         ": api_keys must map each key to an environment");
        }
        config->api_keys.clear();
        for (const auto& x : v) {
          config->api_keys.push_back({x.first.as<std::string>(), x.second.as<std::string>()});
        }
      } else if (key == "xray") {
        WAGGLE_RETURN_IF_ERROR(
            ApplyAddresses(v, path, "xray", "udp", &config->xray_udp, "tcp", &config->xray_tcp));
      } else if (key == "aws_credentials") {
        config->aws_credentials.clear();
        for (const auto& c : v) {
          for (const auto& f : c) {
            const std::string k = f.first.as<std::string>();
            if (k != "access_key_id" && k != "secret_access_key" && k != "environment") {
              return Status::InvalidArgument("config " + path + ": unknown key aws_credentials." +
                                             k);
            }
          }
          AwsCredential cred;
          cred.access_key_id = c["access_key_id"].as<std::string>("");
          cred.secret_access_key = c["secret_access_key"].as<std::string>("");
          cred.environment = c["environment"].as<std::string>("default");
          config->aws_credentials.push_back(std::move(cred));
        }
      } else {
        return Status::InvalidArgument("config " + path + ": unknown key '" + key + "'");
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("config " + path + ": " + e.what());
  }
  return Status::Ok();
}

Status ApplyEnvironment(ServerConfig* config) {
  auto env = [](const char* name, std::string* out) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') *out = v;
  };
  env("WAGGLE_DATA_DIR", &config->data_dir);
  env("WAGGLE_XRAY_UDP", &config->xray_udp);
  env("WAGGLE_XRAY_TCP", &config->xray_tcp);
  env("WAGGLE_HTTP", &config->http);
  env("WAGGLE_REGION", &config->region);
  env("WAGGLE_ACCOUNT_ID", &config->account_id);
  env("WAGGLE_LOG_LEVEL", &config->log_level);
  env("WAGGLE_UDP_DURABILITY", &config->udp_durability);
  env("WAGGLE_BLOCK_READS", &config->block_reads);
  env("WAGGLE_OTLP_HTTP", &config->otlp_http);
  env("WAGGLE_OTLP_GRPC", &config->otlp_grpc);
  std::string keys;
  env("WAGGLE_API_KEYS", &keys);
  if (!keys.empty()) {
    auto parsed = ParseApiKeyList(keys);
    if (!parsed.ok()) return parsed.status().Annotate("WAGGLE_API_KEYS");
    config->api_keys = std::move(*parsed);
  }
  std::string threads;
  env("WAGGLE_API_THREADS", &threads);
  if (!threads.empty()) {
    char* end = nullptr;
    long v = std::strtol(threads.c_str(), &end, 10);
    if (*end != '\0')
      return Status::InvalidArgument("WAGGLE_API_THREADS '" + threads + "' is not a number");
    config->api_threads = static_cast<int>(v);
  }
  std::string creds;
  env("WAGGLE_AWS_CREDENTIALS", &creds);
  if (!creds.empty()) {
    auto parsed = ParseCredentialList(creds);
    if (!parsed.ok()) return parsed.status().Annotate("WAGGLE_AWS_CREDENTIALS");
    config->aws_credentials = std::move(*parsed);
  }
  return Status::Ok();
}

}  // namespace waggle::server
