#pragma once

#include <string>

#include "ingest/ingest_counters.h"
#include "ingest/otlp_ingest.h"
#include "net/grpc_server.h"
#include "net/http_server.h"
#include "net/udp_receiver.h"
#include "server/xray_api.h"
#include "storage/columnar/engine.h"

namespace waggle::server {

struct MetricsSources {
  const ingest::IngestCounters* ingest;
  const net::UdpReceiver* udp;
  const net::HttpServer* xray_http;
  const XRayApi::Counters* xray_api;
  const storage::columnar::Engine* store;
  const ingest::OtlpCounters* otlp;
  const net::HttpServer* otlp_http;
  const net::GrpcServer* otlp_grpc;
};

// The Prometheus text exposition of the server's counters (GET /metrics).
std::string RenderMetrics(const MetricsSources& s);

}  // namespace waggle::server
