#include "ingest/xray_ingest.h"

namespace waggle::ingest {

Status XRayDocumentIngester::Ingest(const std::vector<std::string_view>& documents,
                                    std::string_view environment,
                                    std::vector<codec::xray::SegmentError>* rejected) {
  thread_local codec::xray::SegmentParser parser;
  model::SpanBatch batch;
  for (std::string_view doc : documents) {
    codec::xray::SegmentError error;
    if (!parser.Parse(doc, environment, &batch, &error)) {
      counters_->api_rejected.Add(error.error_code);
      rejected->push_back(std::move(error));
    }
  }
  if (batch.empty()) return Status::Ok();
  Status s = writer_->Write(batch, storage::Durability::kSync);
  if (!s.ok()) {
    counters_->api_rejected.Add("store_error", batch.documents.size());
    return s;
  }
  counters_->api_segments_accepted.fetch_add(batch.documents.size(), std::memory_order_relaxed);
  counters_->api_spans_accepted.fetch_add(batch.spans.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Result<std::unique_ptr<XRayUdpReceiver>> XRayUdpReceiver::Bind(const XRayUdpOptions& options,
                                                               storage::Writer* writer,
                                                               IngestCounters* counters) {
  WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<net::UdpReceiver> rx,
                          net::UdpReceiver::Bind(options.udp));
  return std::unique_ptr<XRayUdpReceiver>(
      new XRayUdpReceiver(options, std::move(rx), writer, counters));
}

XRayUdpReceiver::XRayUdpReceiver(const XRayUdpOptions& options,
                                 std::unique_ptr<net::UdpReceiver> receiver,
                                 storage::Writer* writer, IngestCounters* counters)
    : options_(options), receiver_(std::move(receiver)), writer_(writer), counters_(counters) {}

void XRayUdpReceiver::Start() {
  receiver_->Start([this](std::span<const net::Datagram> batch) { OnBatch(batch); });
}

void XRayUdpReceiver::Stop() { receiver_->Stop(); }

void XRayUdpReceiver::OnBatch(std::span<const net::Datagram> datagrams) {
  counters_->udp_datagrams.fetch_add(datagrams.size(), std::memory_order_relaxed);
  batch_.Clear();
  for (const net::Datagram& d : datagrams) {
    if (d.truncated) {
      counters_->udp_rejected.Add("truncated");
      continue;
    }
    std::string_view body;
    codec::xray::DatagramError err = splitter_.Split(d.data, &body);
    if (err != codec::xray::DatagramError::kNone) {
      counters_->udp_rejected.Add(codec::xray::DatagramErrorName(err));
      continue;
    }
    codec::xray::SegmentError error;
    if (!parser_.Parse(body, options_.environment, &batch_, &error)) {
      counters_->udp_rejected.Add(error.error_code);
    }
  }
  if (batch_.empty()) return;
  if (!writer_->Write(batch_, options_.durability).ok()) {
    // There is no one to answer on UDP: the loss is counted.
    counters_->udp_rejected.Add("store_error", batch_.documents.size());
    return;
  }
  counters_->udp_segments_accepted.fetch_add(batch_.documents.size(), std::memory_order_relaxed);
  counters_->udp_spans_accepted.fetch_add(batch_.spans.size(), std::memory_order_relaxed);
}

}  // namespace waggle::ingest
