#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace waggle::server {

// A SigV4 key pair the X-Ray API accepts; requests signed with it land in `environment`.
struct AwsCredential {
  std::string access_key_id;
  std::string secret_access_key;
  std::string environment = "default";
};

// A Honeycomb-style API key (x-honeycomb-team); data sent with it lands in `environment`.
struct ApiKey {
  std::string key;
  std::string environment = "default";
};

// Everything `waggle serve` can be told. Sources, lowest to highest precedence: these
// defaults, the YAML file (--config), WAGGLE_* environment variables, flags.
struct ServerConfig {
  std::string data_dir = "./waggle-data";      // where the store keeps its files
  std::string xray_udp = "127.0.0.1:2000";     // X-Ray daemon UDP (segments)
  std::string xray_tcp = "127.0.0.1:2000";     // X-Ray API and the daemon's sampling proxy
  std::string http = "127.0.0.1:8080";         // health, metrics (later: UI, query API)
  std::string region = "us-east-1";            // the region in ARNs
  std::string account_id = "000000000000";     // for ARNs
  std::string log_level = "info";              // debug | info | warn | error
  std::string udp_durability = "buffered";     // buffered | sync (fsync each UDP batch)
  std::string block_reads = "mmap";            // mmap | pread: how blocks are read
  int api_threads = 4;                         // X-Ray API handler threads
  std::vector<AwsCredential> aws_credentials;  // when set, API requests must be signed
  std::string otlp_http = "127.0.0.1:4318";    // OTLP/HTTP and the Honeycomb Events API
  std::string otlp_grpc = "127.0.0.1:4317";    // OTLP/gRPC
  std::vector<ApiKey> api_keys;           // when set, OTLP and events need a known x-honeycomb-team
  size_t otlp_max_body_bytes = 64 << 20;  // a request body, after decompression
  size_t otlp_memory_budget_bytes = 512 << 20;  // request bytes in flight before shedding
  int64_t retention_hours = 720;   // spans older than this are removed (0: kept forever)
  uint64_t max_disk_bytes = 0;     // blocks past this total are removed, oldest first (0: no cap)
  size_t head_max_rows = 1 << 20;  // spans held in memory before they are written as a block

  // Checks every value; the message names the setting at fault.
  Status Validate() const;
};

// Applies a YAML config file on top of `config`.
Status ApplyYamlFile(const std::string& path, ServerConfig* config);
// Applies WAGGLE_* environment variables on top of `config`.
Status ApplyEnvironment(ServerConfig* config);
// Parses "KEY=ENV,..." (the flag and environment form of API keys).
Result<std::vector<ApiKey>> ParseApiKeyList(const std::string& text);
// Parses "AKID:SECRET[:ENV],..." (the flag and environment form of credentials).
Result<std::vector<AwsCredential>> ParseCredentialList(const std::string& text);

}  // namespace waggle::server
