#include "ingest/xray_ingest.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/mutex.h"

namespace waggle::ingest {
namespace {

// Records what it is asked to write; fails on demand.
class RecordingWriter : public storage::Writer {
 public:
  Status Write(const model::SpanBatch& batch, storage::Durability d) override {
    MutexLock lock(&mu_);
    if (fail_) return Status::IOError("disk full");
    for (const auto& doc : batch.documents) documents_.push_back(doc.json);
    durability_ = d;
    return Status::Ok();
  }
  std::vector<std::string> documents() {
    MutexLock lock(&mu_);
    return documents_;
  }
  Mutex mu_;
  bool fail_ GUARDED_BY(mu_) = false;
  std::vector<std::string> documents_ GUARDED_BY(mu_);
  storage::Durability durability_ GUARDED_BY(mu_) = storage::Durability::kBuffered;
};

constexpr const char* kGood =
    R"({"id":"70de5b6f19ff9a0a","name":"a","start_time":1478293361.2,"end_time":1478293361.3,)"
    R"("trace_id":"1-581cf771-a006649127e371903a2de979"})";

TEST(XRayDocumentIngester, KeepsTheGoodDocumentsOfAMixedCall) {
  RecordingWriter writer;
  IngestCounters counters;
  XRayDocumentIngester ingester(&writer, &counters);
  std::vector<codec::xray::SegmentError> rejected;
  ASSERT_TRUE(ingester.Ingest({kGood, "{", R"({"id":"1"})"}, "default", &rejected).ok());
  EXPECT_EQ(writer.documents(), std::vector<std::string>{kGood});
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0].error_code, "InvalidSegment");
  EXPECT_EQ(rejected[1].id, "1");
  EXPECT_EQ(counters.api_segments_accepted.load(), 1u);
  EXPECT_EQ(counters.api_rejected.Get("InvalidSegment"), 1u);
  MutexLock lock(&writer.mu_);
  EXPECT_EQ(writer.durability_, storage::Durability::kSync);
}

TEST(XRayDocumentIngester, ReportsAStoreFailure) {
  RecordingWriter writer;
  {
    MutexLock lock(&writer.mu_);
    writer.fail_ = true;
  }
  IngestCounters counters;
  XRayDocumentIngester ingester(&writer, &counters);
  std::vector<codec::xray::SegmentError> rejected;
  EXPECT_EQ(ingester.Ingest({kGood}, "default", &rejected).code(), Status::Code::kIOError);
  EXPECT_EQ(counters.api_rejected.Get("store_error"), 1u);
}

TEST(XRayUdpReceiver, StoresGoodDatagramsAndCountsBadOnesByReason) {
  RecordingWriter writer;
  IngestCounters counters;
  XRayUdpOptions options;
  options.udp.address = "127.0.0.1:0";
  auto rx = XRayUdpReceiver::Bind(options, &writer, &counters);
  ASSERT_TRUE(rx.ok()) << rx.status().ToString();
  (*rx)->Start();
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((*rx)->local_address().port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto send = [&](const std::string& d) {
    ::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  };
  send(std::string("{\"format\": \"json\", \"version\": 1}\n") + kGood);
  send("{\"format\":\"json\",\"version\":1}\nnot json");
  send("no header at all");
  send("{\"format\":\"json\",\"version\":2}\n{}");
  send(std::string("{\"format\":\"json\",\"version\":1}\n") + kGood);
  ::close(fd);
  for (int i = 0; i < 200 && counters.udp_datagrams.load() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*rx)->Stop();
  EXPECT_EQ(writer.documents().size(), 2u);
  EXPECT_EQ(counters.udp_segments_accepted.load(), 2u);
  EXPECT_EQ(counters.udp_rejected.Get("InvalidSegment"), 1u);
  EXPECT_EQ(counters.udp_rejected.Get("missing_newline"), 1u);
  EXPECT_EQ(counters.udp_rejected.Get("bad_header"), 1u);
}

}  // namespace
}  // namespace waggle::ingest
