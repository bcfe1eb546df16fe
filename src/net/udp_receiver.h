#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "net/address.h"

namespace waggle::net {

struct UdpReceiverOptions {
  std::string address = "127.0.0.1:2000";
  int receive_buffer_bytes = 32 << 20;  // SO_RCVBUF asked for (the kernel may cap it)
  size_t batch_size = 64;               // datagrams per recvmmsg call
  size_t max_datagram_bytes = 64 * 1024;

  Status Validate() const;
};

struct Datagram {
  std::string_view data;   // valid only during the callback
  bool truncated = false;  // larger than max_datagram_bytes: cut short by the kernel
};

// Receives datagrams on one socket with recvmmsg and hands them over in batches, on its own
// thread. Start()/Stop() from one controlling thread; counters may be read from any thread.
class UdpReceiver {
 public:
  using BatchFn = std::function<void(std::span<const Datagram>)>;

  struct Counters {
    std::atomic<uint64_t> datagrams{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> truncated{0};
    std::atomic<uint64_t> receive_errors{0};
  };

  // Binds now, so a port in use is reported before anything starts.
  static Result<std::unique_ptr<UdpReceiver>> Bind(const UdpReceiverOptions& options);
  ~UdpReceiver();

  // Starts the receive thread; `fn` runs on it for every batch.
  void Start(BatchFn fn);
  // Wakes the thread, lets it hand over what the socket holds at that moment (a bounded
  // drain: at most one more second of traffic), and joins it.
  void Stop();

  const HostPort& local_address() const { return local_; }
  const Counters& counters() const { return counters_; }
  int effective_receive_buffer() const { return rcvbuf_; }

 private:
  UdpReceiver(const UdpReceiverOptions& options, int fd, int wake_fd, HostPort local, int rcvbuf);
  void Run(const BatchFn& fn);

  const UdpReceiverOptions options_;
  const int fd_;
  const int wake_fd_;  // an eventfd that Stop() signals
  const HostPort local_;
  const int rcvbuf_;
  std::atomic<bool> stopping_{false};
  Counters counters_;
  std::thread thread_;
};

}  // namespace waggle::net
