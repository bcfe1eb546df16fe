#include "ingest/xray_ingest.h"

namespace waggle::ingest {

Status XRayDocumentIngester::Ingest(const std::vector<std::string_view>& documents,
                                    std::string_view environment,
                                    std::vector<codec::xray::SegmentError>* rejected) {
  thread_local codec::xray::SegmentParser parser;
  model::SpanBatch batch;
  uint64_t text_repairs = 0;
  for (std::string_view doc : documents) {
    codec::xray::SegmentError error;
    if (!parser.Parse(doc, environment, &batch, &error, &text_repairs)) {
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
  counters_->text_repairs.fetch_add(text_repairs, std::memory_order_relaxed);
  counters_->api_spans_accepted.fetch_add(batch.spans.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status XRayDocumentDecoder::DecodeSpans(const model::Document& document,
                                        std::vector<model::Span>* spans) const {
  thread_local codec::xray::SegmentParser parser;
  thread_local model::SpanBatch batch;
  batch.Clear();
  codec::xray::SegmentError error;
  if (!parser.Parse(document.json, document.environment, &batch, &error)) {
    return Status::Corruption("document " + document.id.ToHex() +
                              " no longer parses: " + error.message);
  }
  for (model::Span& s : batch.spans) spans->push_back(std::move(s));
  return Status::Ok();
}

Result<std::unique_ptr<XRayUdpReceiver>> XRayUdpReceiver::Bind(const XRayUdpOptions& options,
                                                               storage::Writer* writer,
                                                               IngestCounters* counters) {
  WAGGLE_ASSIGN_OR_RETURN(std::unique_ptr<net::UdpReceiver> rx,
                          net::UdpReceiver::Bind(options.udp));
  return Create(options, std::move(rx), writer, counters);
}

std::unique_ptr<XRayUdpReceiver> XRayUdpReceiver::Create(const XRayUdpOptions& options,
                                                         std::unique_ptr<net::UdpReceiver> receiver,
                                                         storage::Writer* writer,
                                                         IngestCounters* counters) {
  return std::unique_ptr<XRayUdpReceiver>(
      new XRayUdpReceiver(options, std::move(receiver), writer, counters));
}

XRayUdpReceiver::XRayUdpReceiver(const XRayUdpOptions& options,
                                 std::unique_ptr<net::UdpReceiver> receiver,
                                 storage::Writer* writer, IngestCounters* counters)
    : options_(options), receiver_(std::move(receiver)), writer_(writer), counters_(counters) {}

XRayUdpReceiver::~XRayUdpReceiver() { Stop(); }

void XRayUdpReceiver::Start() {
  store_thread_ = std::thread([this] { StoreLoop(); });
  receiver_->Start([this](std::span<const net::Datagram> batch) { OnBatch(batch); });
}

void XRayUdpReceiver::Stop() {
  if (!store_thread_.joinable()) return;
  receiver_->Stop();  // no more OnBatch calls after this
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    changed_.SignalAll();
  }
  store_thread_.join();
}

void XRayUdpReceiver::OnBatch(std::span<const net::Datagram> datagrams) {
  counters_->udp_datagrams.fetch_add(datagrams.size(), std::memory_order_relaxed);
  model::SpanBatch batch;
  {
    MutexLock lock(&mu_);
    if (!spare_.empty()) {
      batch = std::move(spare_.back());
      spare_.pop_back();
    }
  }
  uint64_t text_repairs = 0;
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
    if (!parser_.Parse(body, options_.environment, &batch, &error, &text_repairs)) {
      counters_->udp_rejected.Add(error.error_code);
    }
  }
  counters_->text_repairs.fetch_add(text_repairs, std::memory_order_relaxed);
  if (batch.empty()) return;
  MutexLock lock(&mu_);
  while (parsed_.size() >= kPipelineDepth) changed_.Wait(&mu_);
  parsed_.push_back(std::move(batch));
  changed_.SignalAll();
}

void XRayUdpReceiver::StoreLoop() {
  for (;;) {
    model::SpanBatch batch;
    {
      MutexLock lock(&mu_);
      while (parsed_.empty() && !stopping_) changed_.Wait(&mu_);
      if (parsed_.empty()) return;  // stopping, and everything parsed is stored
      batch = std::move(parsed_.front());
      parsed_.pop_front();
      changed_.SignalAll();
    }
    if (!writer_->Write(batch, options_.durability).ok()) {
      // There is no one to answer on UDP: the loss is counted.
      counters_->udp_rejected.Add("store_error", batch.documents.size());
    } else {
      counters_->udp_segments_accepted.fetch_add(batch.documents.size(), std::memory_order_relaxed);
      counters_->udp_spans_accepted.fetch_add(batch.spans.size(), std::memory_order_relaxed);
    }
    batch.Clear();
    MutexLock lock(&mu_);
    if (spare_.size() < kPipelineDepth) spare_.push_back(std::move(batch));
  }
}

}  // namespace waggle::ingest
