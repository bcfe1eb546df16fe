#include "net/udp_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace waggle::net {
namespace {

// Fills a sockaddr for `hp`; returns its length, or 0 when the host is not an IP literal.
socklen_t ToSockaddr(const HostPort& hp, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof(*ss));
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  if (::inet_pton(AF_INET, hp.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp.port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (::inet_pton(AF_INET6, hp.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp.port);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

// SIMDJSON-style parsers read a little past the end; keep that much slack after each buffer.
constexpr size_t kPadding = 64;

}  // namespace

Status UdpReceiverOptions::Validate() const {
  if (batch_size == 0 || batch_size > 1024)
    return Status::InvalidArgument("udp batch_size must be 1..1024");
  if (max_datagram_bytes < 512 || max_datagram_bytes > 65536) {
    return Status::InvalidArgument("udp max_datagram_bytes must be 512..65536");
  }
  return Status::Ok();
}

Result<std::unique_ptr<UdpReceiver>> UdpReceiver::Bind(const UdpReceiverOptions& options) {
  WAGGLE_RETURN_IF_ERROR(options.Validate());
  WAGGLE_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(options.address));
  sockaddr_storage ss;
  socklen_t len = ToSockaddr(hp, &ss);
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno("udp socket", errno);
  int want = options.receive_buffer_bytes;
  // SO_RCVBUFFORCE passes the sysctl cap when we are allowed to; else take what we get.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("bind udp " + hp.ToString(), err);
  }
  sockaddr_storage bound;
  socklen_t bound_len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  hp.port = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                             : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  int rcvbuf = 0;
  socklen_t optlen = sizeof(rcvbuf);
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen);
  int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("eventfd", err);
  }
  return std::unique_ptr<UdpReceiver>(new UdpReceiver(options, fd, wake, hp, rcvbuf));
}

UdpReceiver::UdpReceiver(const UdpReceiverOptions& options, int fd, int wake_fd, HostPort local,
                         int rcvbuf)
    : options_(options), fd_(fd), wake_fd_(wake_fd), local_(std::move(local)), rcvbuf_(rcvbuf) {}

UdpReceiver::~UdpReceiver() {
  Stop();
  ::close(fd_);
  ::close(wake_fd_);
}

void UdpReceiver::Start(BatchFn fn) {
  thread_ = std::thread([this, fn = std::move(fn)] { Run(fn); });
}

void UdpReceiver::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  thread_.join();
}

void UdpReceiver::Run(const BatchFn& fn) {
  const size_t n = options_.batch_size;
  // One byte more than the largest datagram we keep, so MSG_TRUNC tells us about bigger ones.
  const size_t slot = options_.max_datagram_bytes + 1 + kPadding;
  std::vector<char> buffer(n * slot);
  std::vector<mmsghdr> msgs(n);
  std::vector<iovec> iovs(n);
  std::vector<Datagram> batch;
  batch.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    iovs[i].iov_base = buffer.data() + i * slot;
    iovs[i].iov_len = options_.max_datagram_bytes + 1;
    std::memset(&msgs[i], 0, sizeof(mmsghdr));
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  std::chrono::steady_clock::time_point drain_until{};
  for (;;) {
    if (stopping_.load(std::memory_order_relaxed)) {
      // Drain what arrived before Stop(), but not forever under a sender that never pauses.
      auto now = std::chrono::steady_clock::now();
      if (drain_until == std::chrono::steady_clock::time_point{})
        drain_until = now + std::chrono::seconds(1);
      if (now > drain_until) return;
    }
    int got = ::recvmmsg(fd_, msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
          counters_.receive_errors.fetch_add(1, std::memory_order_relaxed);
        }
        if (fds[1].revents & POLLIN) return;  // Stop() and the socket is empty
        continue;
      }
      if (errno != EINTR) counters_.receive_errors.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    batch.clear();
    uint64_t bytes = 0, truncated = 0;
    for (int i = 0; i < got; ++i) {
      size_t len = msgs[i].msg_len;
      bool trunc = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > options_.max_datagram_bytes;
      if (trunc) {
        len = std::min(len, options_.max_datagram_bytes);
        ++truncated;
      }
      bytes += len;
      char* data = buffer.data() + static_cast<size_t>(i) * slot;
      std::memset(data + len, 0, kPadding);
      batch.push_back({std::string_view(data, len), trunc});
    }
    counters_.datagrams.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
    counters_.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (truncated) counters_.truncated.fetch_add(truncated, std::memory_order_relaxed);
    fn(batch);
  }
}

}  // namespace waggle::net
