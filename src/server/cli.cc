#include <signal.h>

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "server/demo.h"
#include "server/inspect.h"
#include "server/server.h"

namespace waggle::server {
namespace {

// Blocks SIGTERM/SIGINT in every thread (threads inherit the mask), so the main thread can
// wait for them with sigwait and drain in order.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "waggle: %s\n", message.c_str());
  return 1;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"waggle: a tracing backend for X-Ray and OpenTelemetry clients"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "waggle 0.1.0");

  ServerConfig flags;
  std::string config_file;
  std::string credentials;
  CLI::App* serve = app.add_subcommand("serve", "Run the server on the embedded store");
  serve->add_option("--config", config_file, "YAML config file (flags and WAGGLE_* variables win)");
  auto* data_dir =
      serve->add_option("--data-dir", flags.data_dir, "Where data is kept (./waggle-data)");
  auto* xray_udp = serve->add_option("--xray-udp", flags.xray_udp,
                                     "X-Ray daemon UDP address for segments (127.0.0.1:2000)");
  auto* xray_tcp = serve->add_option("--xray-tcp", flags.xray_tcp,
                                     "X-Ray API and sampling address, TCP (127.0.0.1:2000)");
  auto* http =
      serve->add_option("--http", flags.http, "Health and metrics address (127.0.0.1:8080)");
  auto* region =
      serve->add_option("--region", flags.region, "Region in ARNs when a request names none");
  auto* account =
      serve->add_option("--account-id", flags.account_id, "12-digit account id in ARNs");
  auto* log_level = serve->add_option("--log-level", flags.log_level, "debug, info, warn or error");
  auto* udp_dur =
      serve->add_option("--udp-durability", flags.udp_durability,
                        "buffered (survives a crash of waggle) or sync (fsync every batch)");
  auto* block_reads = serve->add_option(
      "--block-reads", flags.block_reads,
      "mmap (scans read uncompressed chunks in place) or pread (every read copied and checked)");
  auto* api_threads =
      serve->add_option("--api-threads", flags.api_threads, "Threads answering the X-Ray API (4)");
  auto* creds =
      serve->add_option("--aws-credentials", credentials,
                        "ACCESS_KEY_ID:SECRET[:ENVIRONMENT],... SigV4 keys the X-Ray API requires");

  auto* otlp_http =
      serve->add_option("--otlp-http", flags.otlp_http,
                        "OTLP/HTTP and Honeycomb Events API address (127.0.0.1:4318)");
  auto* otlp_grpc =
      serve->add_option("--otlp-grpc", flags.otlp_grpc, "OTLP/gRPC address (127.0.0.1:4317)");
  std::string api_keys;
  auto* keys = serve->add_option("--api-keys", api_keys,
                                 "KEY=ENVIRONMENT,... x-honeycomb-team keys OTLP and events need");
  auto* retention = serve->add_option("--retention-hours", flags.retention_hours,
                                      "Remove spans older than this (720; 0 keeps them)");
  auto* max_disk = serve->add_option("--max-disk-bytes", flags.max_disk_bytes,
                                     "Cap on the store's blocks; the oldest go first (0: none)");
  auto* head_rows = serve->add_option("--head-max-rows", flags.head_max_rows,
                                      "Spans held in memory before a block is written (1048576)");
  auto* max_body = serve->add_option("--otlp-max-body-bytes", flags.otlp_max_body_bytes,
                                     "Largest OTLP or events body after decompression (64 MiB)");

  DemoOptions demo_options;
  CLI::App* demo =
      app.add_subcommand("demo", "Send live sample traffic (X-Ray and OTLP) to a running server");
  demo->add_option("--xray-udp", demo_options.xray_udp,
                   "Where X-Ray segments go, UDP (127.0.0.1:2000)");
  demo->add_option("--otlp-http", demo_options.otlp_http,
                   "Where OTLP/HTTP spans go (127.0.0.1:4318)");
  demo->add_option("--rate", demo_options.rate, "Traces per second (20)");
  demo->add_option("--duration", demo_options.duration_seconds,
                   "Seconds to send for; 0 sends until Ctrl-C (0)");
  demo->add_option("--seed", demo_options.seed, "Workload seed; 0 takes one from the clock (0)");
  demo->add_option("--api-key", demo_options.api_key,
                   "x-honeycomb-team key for OTLP, when the server has --api-keys");

  std::string inspect_dir;
  CLI::App* inspect = app.add_subcommand(
      "inspect", "Show what a data dir holds: blocks, spans, bytes per column, compression");
  inspect->add_option("DATA_DIR", inspect_dir, "The data dir (./waggle-data)")
      ->default_val("./waggle-data");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (demo->parsed()) return RunDemo(demo_options);
  if (inspect->parsed()) {
    auto report = InspectDataDir(inspect_dir);
    if (!report.ok()) return Fail(report.status().message());
    std::fputs(report->c_str(), stdout);
    return 0;
  }
  if (serve->parsed()) {
    sigset_t stop_signals = BlockStopSignals();
    ServerConfig config;
    if (!config_file.empty()) {
      if (Status s = ApplyYamlFile(config_file, &config); !s.ok()) return Fail(s.message());
    }
    if (Status s = ApplyEnvironment(&config); !s.ok()) return Fail(s.message());
    if (*data_dir) config.data_dir = flags.data_dir;
    if (*xray_udp) config.xray_udp = flags.xray_udp;
    if (*xray_tcp) config.xray_tcp = flags.xray_tcp;
    if (*http) config.http = flags.http;
    if (*region) config.region = flags.region;
    if (*account) config.account_id = flags.account_id;
    if (*log_level) config.log_level = flags.log_level;
    if (*udp_dur) config.udp_durability = flags.udp_durability;
    if (*block_reads) config.block_reads = flags.block_reads;
    if (*api_threads) config.api_threads = flags.api_threads;
    if (*otlp_http) config.otlp_http = flags.otlp_http;
    if (*otlp_grpc) config.otlp_grpc = flags.otlp_grpc;
    if (*max_body) config.otlp_max_body_bytes = flags.otlp_max_body_bytes;
    if (*retention) config.retention_hours = flags.retention_hours;
    if (*max_disk) config.max_disk_bytes = flags.max_disk_bytes;
    if (*head_rows) config.head_max_rows = flags.head_max_rows;
    if (*keys) {
      auto parsed = ParseApiKeyList(api_keys);
      if (!parsed.ok()) return Fail("--api-keys: " + parsed.status().message());
      config.api_keys = std::move(*parsed);
    }
    if (*creds) {
      auto parsed = ParseCredentialList(credentials);
      if (!parsed.ok()) return Fail("--aws-credentials: " + parsed.status().message());
      config.aws_credentials = std::move(*parsed);
    }
    auto server = Server::Start(config);
    if (!server.ok()) return Fail(server.status().message());
    int sig = 0;
    sigwait(&stop_signals, &sig);
    (*server)->Stop();
    return 0;
  }
  return 0;
}

}  // namespace waggle::server
