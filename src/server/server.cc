#include "server/server.h"

#include <simdjson.h>

#include <atomic>
#include <cmath>

#include "base/clock.h"
#include "base/env.h"
#include "base/log.h"
#include "ingest/otlp_ingest.h"
#include "ingest/xray_ingest.h"
#include "net/grpc_server.h"
#include "net/http_server.h"
#include "sampling/sampling_service.h"
#include "server/metrics.h"
#include "server/otlp_api.h"
#include "server/xray_api.h"
#include "storage/columnar/engine.h"

namespace waggle::server {
namespace {

constexpr int kMetaFormat = 1;

// The data dir's small metadata file: its format version and creation time.
Result<double> LoadOrCreateMeta(const std::string& dir, Env* env) {
  const std::string path = dir + "/meta.json";
  if (env->FileExists(path)) {
    std::string text;
    WAGGLE_RETURN_IF_ERROR(env->ReadFile(path, &text));
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    int64_t format = 0;
    double created = 0;
    if (parser.parse(text).get(obj) != simdjson::SUCCESS ||
        obj["format"].get(format) != simdjson::SUCCESS ||
        obj["created_at"].get(created) != simdjson::SUCCESS) {
      return Status::Corruption(path + " is damaged");
    }
    if (format > kMetaFormat) {
      return Status::Unimplemented(dir + " was written by a newer waggle (data format " +
                                   std::to_string(format) + ")");
    }
    return created;
  }
  double now = std::floor(NanosToSeconds(Clock::Real()->NowNanos()));
  WAGGLE_RETURN_IF_ERROR(env->WriteFileAtomic(
      path, "{\"format\":" + std::to_string(kMetaFormat) +
                ",\"created_at\":" + std::to_string(static_cast<int64_t>(now)) + "}\n"));
  return now;
}

}  // namespace

struct Server::Parts {
  ServerConfig config;
  ingest::XRayDocumentDecoder decoder;  // outlive the store, which uses them
  ingest::OtlpSourceDecoder source_decoder;
  std::unique_ptr<storage::columnar::Engine> store;
  ingest::IngestCounters ingest_counters;
  std::unique_ptr<ingest::XRayDocumentIngester> ingester;
  std::unique_ptr<sampling::SamplingService> sampling;
  std::unique_ptr<XRayGroups> groups;
  std::unique_ptr<XRayApi> xray_api;
  std::unique_ptr<ingest::XRayUdpReceiver> udp;
  std::unique_ptr<net::HttpServer> xray_http;
  std::unique_ptr<net::HttpServer> http;
  ingest::OtlpCounters otlp_counters;
  std::unique_ptr<ingest::OtlpIngester> otlp_ingester;
  std::unique_ptr<OtlpApi> otlp_api_owned;
  // Set once the store is open; the gRPC server takes calls from the moment it binds.
  std::atomic<OtlpApi*> otlp_api{nullptr};
  std::unique_ptr<net::HttpServer> otlp_http;
  std::unique_ptr<net::GrpcServer> otlp_grpc;
  bool stopped = false;
};

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(const ServerConfig& config) {
  WAGGLE_RETURN_IF_ERROR(config.Validate());
  log::Level level = log::Level::kInfo;
  log::ParseLevel(config.log_level, &level);
  log::SetLevel(level);

  auto p = std::make_unique<Parts>();
  p->config = config;
  Parts* parts = p.get();

  // Claim every port first: a port in use is reported at once, before any data is read.
  auto udp_socket = net::UdpReceiver::Bind({config.xray_udp});
  if (!udp_socket.ok()) return udp_socket.status().Annotate("--xray-udp " + config.xray_udp);
  net::HttpServerOptions xray_options;
  xray_options.address = config.xray_tcp;
  xray_options.threads = config.api_threads;
  xray_options.error_response = &XRayApi::TransportError;
  auto xray_http = net::HttpServer::Bind(
      xray_options, [parts](const net::HttpRequest& r) { return parts->xray_api->Handle(r); });
  if (!xray_http.ok()) return xray_http.status().Annotate("--xray-tcp " + config.xray_tcp);
  p->xray_http = std::move(*xray_http);
  net::HttpServerOptions otlp_options;
  otlp_options.address = config.otlp_http;
  otlp_options.threads = config.api_threads;
  otlp_options.max_body_bytes = config.otlp_max_body_bytes;
  otlp_options.error_response = &OtlpApi::TransportError;
  otlp_options.max_body_bytes_in_flight = config.otlp_memory_budget_bytes;
  otlp_options.idle_timeout_seconds = 30;
  auto otlp_http = net::HttpServer::Bind(otlp_options, [parts](const net::HttpRequest& r) {
    return parts->otlp_api.load(std::memory_order_acquire)->Handle(r);
  });
  if (!otlp_http.ok()) return otlp_http.status().Annotate("--otlp-http " + config.otlp_http);
  p->otlp_http = std::move(*otlp_http);
  net::GrpcServerOptions grpc_options;
  grpc_options.address = config.otlp_grpc;
  grpc_options.max_message_bytes = config.otlp_max_body_bytes;
  auto otlp_grpc = net::GrpcServer::Start(grpc_options, [parts](const net::GrpcCall& call) {
    OtlpApi* api = parts->otlp_api.load(std::memory_order_acquire);
    if (api == nullptr) return net::GrpcReply{14, "waggle is starting; retry", {}};
    return api->HandleGrpc(call);
  });
  if (!otlp_grpc.ok()) return otlp_grpc.status().Annotate("--otlp-grpc " + config.otlp_grpc);
  p->otlp_grpc = std::move(*otlp_grpc);
  net::HttpServerOptions http_options;
  http_options.address = config.http;
  auto http = net::HttpServer::Bind(http_options, [parts](const net::HttpRequest& r) {
    if (r.path == "/healthz") return net::HttpResponse::Text(200, "ok\n");
    if (r.path == "/metrics") {
      net::HttpResponse res;
      res.content_type = "text/plain; version=0.0.4";
      res.body =
          RenderMetrics({&parts->ingest_counters, &parts->udp->receiver(), parts->xray_http.get(),
                         &parts->xray_api->counters(), parts->store.get(), &parts->otlp_counters,
                         parts->otlp_http.get(), parts->otlp_grpc.get()});
      return res;
    }
    return net::HttpResponse::Text(404, "not found\n");
  });
  if (!http.ok()) return http.status().Annotate("--http " + config.http);
  p->http = std::move(*http);

  Env* env = Env::Default();
  if (Status s = env->CreateDirs(config.data_dir); !s.ok()) {
    return s.Annotate("data dir " + config.data_dir + " is unusable");
  }
  storage::columnar::EngineOptions store_options;
  store_options.dir = config.data_dir;
  store_options.document_decoder = &p->decoder;
  store_options.source_decoder = &p->source_decoder;
  store_options.retention_ns = config.retention_hours * 3600 * kNanosPerSecond;
  store_options.max_disk_bytes = config.max_disk_bytes;
  store_options.head_max_rows = config.head_max_rows;
  store_options.map_blocks = config.block_reads == "mmap";
  auto store = storage::columnar::Engine::Open(store_options);
  if (!store.ok()) return store.status().Annotate("data dir " + config.data_dir + " is unusable");
  p->store = std::move(*store);
  // Read or written only under the store's lock on the data dir.
  auto created = LoadOrCreateMeta(config.data_dir, env);
  if (!created.ok()) return created.status().Annotate("data dir " + config.data_dir);
  const auto stats = p->store->stats();
  log::Info(
      "store open: {} blocks ({} spans, {} bytes), {} WAL records replayed, {} corrupt regions "
      "skipped, {} torn bytes cut, {} blocks that failed to open (damaged ones set aside)",
      stats.blocks, stats.block_rows, stats.block_bytes, stats.recovery.records,
      stats.recovery.corrupt_regions, stats.recovery.truncated_bytes, stats.corrupt_blocks);

  p->ingester = std::make_unique<ingest::XRayDocumentIngester>(p->store.get(), &p->ingest_counters);
  sampling::SamplingOptions sampling_options;
  sampling_options.region = config.region;
  sampling_options.account_id = config.account_id;
  sampling_options.default_rule_modified_at = *created;
  p->sampling = std::make_unique<sampling::SamplingService>(sampling_options);
  // Sampling rules made with the API are kept in the data dir.
  const std::string rules_path = config.data_dir + "/xray-sampling-rules.json";
  if (env->FileExists(rules_path)) {
    std::string text;
    WAGGLE_RETURN_IF_ERROR(env->ReadFile(rules_path, &text));
    auto rules = XRayApi::ParseSamplingRules(text);
    if (!rules.ok()) return rules.status().Annotate(rules_path);
    if (Status s = p->sampling->Restore(std::move(*rules)); !s.ok()) return s.Annotate(rules_path);
  }
  p->sampling->SetSave([env, rules_path](const std::vector<sampling::SamplingRuleRecord>& rules) {
    return env->WriteFileAtomic(rules_path, XRayApi::RenderSamplingRules(rules));
  });
  auto groups = XRayGroups::Open(env, config.data_dir, config.region, config.account_id);
  if (!groups.ok()) return groups.status().Annotate("data dir " + config.data_dir);
  p->groups = std::move(*groups);
  p->xray_api = std::make_unique<XRayApi>(
      XRayApi::Options{config.region, config.account_id, config.aws_credentials}, p->store.get(),
      p->ingester.get(), p->sampling.get(), p->groups.get(), Clock::Real());
  ingest::OtlpIngestOptions otlp_ingest_options;
  for (const ApiKey& k : config.api_keys) otlp_ingest_options.api_keys[k.key] = k.environment;
  otlp_ingest_options.memory_budget_bytes = config.otlp_memory_budget_bytes;
  p->otlp_ingester = std::make_unique<ingest::OtlpIngester>(otlp_ingest_options, p->store.get(),
                                                            &p->otlp_counters);
  p->otlp_api_owned = std::make_unique<OtlpApi>(OtlpApi::Options{config.otlp_max_body_bytes},
                                                p->otlp_ingester.get());
  p->otlp_api.store(p->otlp_api_owned.get(), std::memory_order_release);
  ingest::XRayUdpOptions udp_options;
  udp_options.durability =
      config.udp_durability == "sync" ? storage::Durability::kSync : storage::Durability::kBuffered;
  p->udp = ingest::XRayUdpReceiver::Create(udp_options, std::move(*udp_socket), p->store.get(),
                                           &p->ingest_counters);

  p->udp->Start();
  p->xray_http->Start();
  p->otlp_http->Start();
  p->http->Start();
  log::Info(
      "waggle serving: xray udp {}, xray api {}, otlp http {}, otlp grpc {}, http {}, data dir {}",
      p->udp->local_address().ToString(), p->xray_http->local_address().ToString(),
      p->otlp_http->local_address().ToString(), p->otlp_grpc->local_address().ToString(),
      p->http->local_address().ToString(), config.data_dir);
  // A small receive buffer (an unprivileged process is held to net.core.rmem_max) drops
  // datagrams under bursts: say so once, at the start.
  const int rcvbuf = p->udp->receiver().effective_receive_buffer();
  if (rcvbuf < (8 << 20)) {
    log::Warn(
        "the X-Ray UDP receive buffer is only {} bytes; raise net.core.rmem_max to absorb "
        "bursts without loss",
        rcvbuf);
  }
  return std::unique_ptr<Server>(new Server(std::move(p)));
}

void Server::Stop() {
  if (!parts_ || parts_->stopped) return;
  parts_->stopped = true;
  parts_->http->Stop();
  parts_->udp->Stop();        // drains the socket into the store
  parts_->xray_http->Stop();  // lets requests in flight finish
  parts_->otlp_http->Stop();
  parts_->otlp_grpc->Stop();
  log::Info("waggle stopped");
}

std::string Server::xray_udp_address() const { return parts_->udp->local_address().ToString(); }
std::string Server::xray_tcp_address() const {
  return parts_->xray_http->local_address().ToString();
}
std::string Server::http_address() const { return parts_->http->local_address().ToString(); }
std::string Server::otlp_http_address() const {
  return parts_->otlp_http->local_address().ToString();
}
std::string Server::otlp_grpc_address() const {
  return parts_->otlp_grpc->local_address().ToString();
}

}  // namespace waggle::server
