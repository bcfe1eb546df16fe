#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "codec/xray/datagram.h"
#include "codec/xray/segment_parser.h"
#include "ingest/ingest_counters.h"
#include "net/udp_receiver.h"
#include "storage/trace_data.h"
#include "storage/writer.h"

namespace waggle::ingest {

// Takes X-Ray segment documents from PutTraceSegments. Thread-safe: each calling thread
// gets its own parser.
class XRayDocumentIngester {
 public:
  XRayDocumentIngester(storage::Writer* writer, IngestCounters* counters)
      : writer_(writer), counters_(counters) {}

  // Decodes every document, stores the good ones durably in one write, and lists the bad
  // ones in `rejected` (the good ones of the same call are kept). A non-OK status means the
  // store failed: nothing of this call may be assumed stored.
  Status Ingest(const std::vector<std::string_view>& documents, std::string_view environment,
                std::vector<codec::xray::SegmentError>* rejected);

 private:
  storage::Writer* writer_;
  IngestCounters* counters_;
};

// Derives spans again from stored X-Ray documents, so a store may keep the documents alone
// (see storage::DocumentDecoder). Thread-safe: each calling thread gets its own parser.
class XRayDocumentDecoder : public storage::DocumentDecoder {
 public:
  Status DecodeSpans(const model::Document& document,
                     std::vector<model::Span>* spans) const override;
};

struct XRayUdpOptions {
  net::UdpReceiverOptions udp;
  std::string environment = "default";
  storage::Durability durability = storage::Durability::kBuffered;
};

// The X-Ray daemon's UDP side: datagrams in, spans stored. A datagram counts as accepted once
// its document is in the write-ahead log. Nothing is logged per datagram: rejections are
// counted by reason. Two threads form a pipeline: the receive thread splits and parses a
// batch while the store thread writes the one before (a few batches may wait between them;
// when they are full, the receive thread waits and the socket buffer absorbs the burst).
// Start()/Stop() from one controlling thread.
class XRayUdpReceiver {
 public:
  ~XRayUdpReceiver();
  static Result<std::unique_ptr<XRayUdpReceiver>> Bind(const XRayUdpOptions& options,
                                                       storage::Writer* writer,
                                                       IngestCounters* counters);
  // The same over a socket bound earlier (options.udp is then ignored), so a server can claim
  // its ports before it opens its store.
  static std::unique_ptr<XRayUdpReceiver> Create(const XRayUdpOptions& options,
                                                 std::unique_ptr<net::UdpReceiver> receiver,
                                                 storage::Writer* writer, IngestCounters* counters);
  void Start();
  // Stores what the socket holds (a bounded drain, see net::UdpReceiver::Stop) and stops.
  void Stop();
  const net::HostPort& local_address() const { return receiver_->local_address(); }
  const net::UdpReceiver& receiver() const { return *receiver_; }

 private:
  XRayUdpReceiver(const XRayUdpOptions& options, std::unique_ptr<net::UdpReceiver> receiver,
                  storage::Writer* writer, IngestCounters* counters);
  void OnBatch(std::span<const net::Datagram> batch);
  void StoreLoop();

  static constexpr size_t kPipelineDepth = 4;

  const XRayUdpOptions options_;
  std::unique_ptr<net::UdpReceiver> receiver_;
  storage::Writer* writer_;
  IngestCounters* counters_;
  // Used only on the receive thread.
  codec::xray::DatagramSplitter splitter_;
  codec::xray::SegmentParser parser_;

  Mutex mu_;
  CondVar changed_;
  std::deque<model::SpanBatch> parsed_ GUARDED_BY(mu_);  // waiting for the store thread
  std::vector<model::SpanBatch> spare_ GUARDED_BY(mu_);  // emptied, kept for their capacity
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread store_thread_;
};

}  // namespace waggle::ingest
