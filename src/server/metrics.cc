#include "server/metrics.h"

#include <fmt/core.h>

namespace waggle::server {
namespace {

void Counter(std::string* out, std::string_view name, std::string_view help, uint64_t value) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
}

void Gauge(std::string* out, std::string_view name, std::string_view help, uint64_t value) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
}

void Rejections(std::string* out, std::string_view name, std::string_view help,
                const ingest::RejectionCounters& c) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
  for (std::string_view reason : ingest::RejectionCounters::kReasons) {
    *out += fmt::format("{}{{reason=\"{}\"}} {}\n", name, reason, c.Get(reason));
  }
}

}  // namespace

std::string RenderMetrics(const MetricsSources& s) {
  std::string out;
  const auto& in = *s.ingest;
  Counter(&out, "waggle_xray_udp_datagrams_total", "X-Ray UDP datagrams received",
          s.udp->counters().datagrams.load());
  Counter(&out, "waggle_xray_udp_bytes_total", "X-Ray UDP bytes received",
          s.udp->counters().bytes.load());
  Gauge(&out, "waggle_xray_udp_receive_buffer_bytes",
        "the X-Ray UDP socket's receive buffer as the kernel granted it",
        static_cast<uint64_t>(s.udp->effective_receive_buffer()));
  Counter(&out, "waggle_xray_udp_segments_accepted_total", "X-Ray documents from UDP stored",
          in.udp_segments_accepted.load());
  Counter(&out, "waggle_xray_udp_spans_accepted_total", "spans from UDP stored",
          in.udp_spans_accepted.load());
  Rejections(&out, "waggle_xray_udp_rejected_total", "X-Ray UDP datagrams dropped, by reason",
             in.udp_rejected);
  Counter(&out, "waggle_xray_api_segments_accepted_total", "documents from PutTraceSegments stored",
          in.api_segments_accepted.load());
  Counter(&out, "waggle_xray_api_spans_accepted_total", "spans from PutTraceSegments stored",
          in.api_spans_accepted.load());
  Counter(&out, "waggle_xray_text_repairs_total",
          "lone surrogate escapes and bytes that were not UTF-8 in segment documents, stored as "
          "U+FFFD (their documents kept)",
          in.text_repairs.load());
  Rejections(&out, "waggle_xray_api_rejected_total",
             "documents PutTraceSegments listed as unprocessed, by reason", in.api_rejected);
  Counter(&out, "waggle_xray_api_requests_total", "X-Ray API requests",
          s.xray_api->requests.load());
  Counter(&out, "waggle_xray_api_client_errors_total", "X-Ray API 4xx answers",
          s.xray_api->client_errors.load());
  Counter(&out, "waggle_xray_api_server_errors_total", "X-Ray API 5xx answers",
          s.xray_api->server_errors.load());
  Counter(&out, "waggle_xray_api_auth_failures_total", "X-Ray API requests refused with 403",
          s.xray_api->auth_failures.load());
  const auto& tcp = s.xray_http->counters();
  Counter(&out, "waggle_xray_tcp_malformed_http_total",
          "unparsable HTTP requests on the X-Ray port", tcp.bad_requests.load());
  Counter(&out, "waggle_xray_tcp_too_large_total",
          "requests on the X-Ray port refused for their body or header size", tcp.too_large.load());
  Counter(&out, "waggle_xray_tcp_refused_connections_total",
          "connections to the X-Ray port closed at once: over the connection limit",
          tcp.refused_connections.load());
  Counter(&out, "waggle_xray_tcp_accept_errors_total",
          "failed accepts on the X-Ray port (e.g. out of file descriptors)",
          tcp.accept_errors.load());
  auto st = s.store->stats();
  Gauge(&out, "waggle_store_traces",
        "traces in the store (a trace stored across blocks counts once per block)", st.traces);
  Gauge(&out, "waggle_store_head_spans", "spans in the head, not yet in a block", st.head_rows);
  Gauge(&out, "waggle_store_blocks", "blocks on disk", st.blocks);
  Gauge(&out, "waggle_store_block_spans", "spans in blocks", st.block_rows);
  Gauge(&out, "waggle_store_block_bytes", "bytes of blocks on disk", st.block_bytes);
  Counter(&out, "waggle_store_flushes_total", "heads written as blocks", st.flushes);
  Counter(&out, "waggle_store_compactions_total", "block merges", st.compactions);
  Counter(&out, "waggle_store_blocks_retired_total", "blocks removed by retention or the disk cap",
          st.blocks_retired);
  Gauge(&out, "waggle_store_corrupt_blocks",
        "blocks that failed to open at start (damaged ones set aside)", st.corrupt_blocks);
  Counter(&out, "waggle_store_wal_bytes_total", "bytes appended to the write-ahead log",
          st.wal_bytes);
  Gauge(&out, "waggle_store_wal_records_replayed", "WAL records replayed into the head at start",
        st.recovery.records);
  Gauge(&out, "waggle_store_wal_corrupt_regions", "damaged WAL stretches skipped at start",
        st.recovery.corrupt_regions);
  Gauge(&out, "waggle_store_wal_corrupt_bytes", "bytes in damaged WAL stretches skipped at start",
        st.recovery.corrupt_bytes);
  Gauge(&out, "waggle_store_wal_truncated_bytes", "bytes of a torn WAL tail cut at start",
        st.recovery.truncated_bytes);
  Counter(&out, "waggle_xray_api_unreadable_traces_total",
          "traces left out of summaries because the store could not read them",
          s.xray_api->unreadable_traces.load());
  const auto& o = *s.otlp;
  Counter(&out, "waggle_otlp_spans_accepted_total", "OTLP spans stored", o.spans_accepted.load());
  Counter(&out, "waggle_otlp_spans_rejected_total",
          "OTLP spans refused one by one (partial success)", o.spans_rejected.load());
  Counter(&out, "waggle_otlp_log_records_accepted_total", "OTLP log records stored",
          o.log_records_accepted.load());
  Counter(&out, "waggle_otlp_log_records_rejected_total",
          "OTLP log records refused one by one (partial success)", o.log_records_rejected.load());
  Counter(&out, "waggle_honeycomb_events_accepted_total", "Events API events stored",
          o.events_accepted.load());
  Counter(&out, "waggle_honeycomb_events_rejected_total", "Events API events refused",
          o.events_rejected.load());
  Counter(&out, "waggle_otlp_requests_malformed_total",
          "OTLP and events requests refused whole: undecodable body or unsupported type",
          o.requests_malformed.load());
  Counter(&out, "waggle_otlp_requests_unauthenticated_total",
          "OTLP and events requests with a missing or unknown API key",
          o.requests_unauthenticated.load());
  Counter(&out, "waggle_otlp_requests_too_large_total",
          "OTLP and events requests over the body size limit after decompression",
          o.requests_too_large.load() + s.otlp_http->counters().too_large.load());
  Counter(&out, "waggle_otlp_requests_shed_total",
          "OTLP and events requests refused while over the memory budget (503, retried)",
          o.requests_shed.load() + s.otlp_http->counters().shed.load());
  Counter(&out, "waggle_otlp_text_repairs_total",
          "bytes of OTLP and events strings that were not UTF-8, or JSON escapes of lone "
          "surrogates, stored as U+FFFD (their records kept)",
          o.text_repairs.load());
  Counter(&out, "waggle_otlp_store_errors_total", "OTLP and events writes the store refused",
          o.store_errors.load());
  Counter(&out, "waggle_otlp_http_requests_total", "requests on the OTLP/HTTP port",
          s.otlp_http->counters().requests.load());
  Counter(&out, "waggle_otlp_grpc_calls_total", "calls on the OTLP/gRPC port",
          s.otlp_grpc->counters().calls.load());
  Counter(&out, "waggle_otlp_grpc_failed_calls_total", "OTLP/gRPC calls answered with an error",
          s.otlp_grpc->counters().failed_calls.load());
  return out;
}

}  // namespace waggle::server
