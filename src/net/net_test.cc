#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/mutex.h"
#include "net/address.h"
#include "net/http_server.h"
#include "net/udp_receiver.h"

namespace waggle::net {
namespace {

TEST(HostPort, ParsesTheForms) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:2000")->ToString(), "127.0.0.1:2000");
  EXPECT_EQ(ParseHostPort(":2000")->host, "127.0.0.1");
  EXPECT_EQ(ParseHostPort("localhost:0")->port, 0);
  EXPECT_EQ(ParseHostPort("[::1]:80")->host, "::1");
  EXPECT_FALSE(ParseHostPort("2000").ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:99999").ok());
  EXPECT_FALSE(ParseHostPort("example.com:80").ok());
  EXPECT_TRUE(IsLoopback("127.0.0.2"));
  EXPECT_FALSE(IsLoopback("0.0.0.0"));
}

void SendUdp(uint16_t port, const std::string& payload) {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::close(fd);
}

TEST(UdpReceiver, DeliversEveryDatagramAndFlagsOversizedOnes) {
  UdpReceiverOptions options;
  options.address = "127.0.0.1:0";
  options.max_datagram_bytes = 1024;
  auto rx = UdpReceiver::Bind(options);
  ASSERT_TRUE(rx.ok()) << rx.status().ToString();
  Mutex mu;
  std::vector<std::string> got;
  int truncated = 0;
  (*rx)->Start([&](std::span<const Datagram> batch) {
    MutexLock lock(&mu);
    for (const Datagram& d : batch) {
      got.emplace_back(d.data);
      truncated += d.truncated;
    }
  });
  const uint16_t port = (*rx)->local_address().port;
  for (int i = 0; i < 100; ++i) SendUdp(port, "datagram " + std::to_string(i));
  SendUdp(port, std::string(2000, 'x'));
  for (int i = 0; i < 200 && (*rx)->counters().datagrams.load() < 101; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*rx)->Stop();
  MutexLock lock(&mu);
  ASSERT_EQ(got.size(), 101u);
  EXPECT_EQ(got[0], "datagram 0");
  EXPECT_EQ(truncated, 1);
  EXPECT_EQ((*rx)->counters().truncated.load(), 1u);
}

TEST(UdpReceiver, ReportsAPortInUse) {
  auto first = UdpReceiver::Bind({"127.0.0.1:0"});
  ASSERT_TRUE(first.ok());
  auto second = UdpReceiver::Bind({(*first)->local_address().ToString()});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("Address already in use"), std::string::npos);
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

void Send(int fd, const std::string& s) {
  EXPECT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

// Reads until the server closes the connection or `seconds` pass.
std::string ReadUntilClosed(int fd, int seconds) {
  timeval tv{seconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// A raw HTTP exchange over one connection.
std::string Exchange(uint16_t port, const std::string& request) {
  int fd = Connect(port);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  std::string out = ReadUntilClosed(fd, 10);
  ::close(fd);
  return out;
}

TEST(HttpServer, ServesKeepAliveRequestsAndRejectsBadOnes) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_body_bytes = 100;
  auto server = HttpServer::Bind(options, [](const HttpRequest& r) {
    HttpResponse res;
    res.body = r.method + " " + r.path + " " + r.body + " " + std::string(r.Header("x-test"));
    return res;
  });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  const uint16_t port = (*server)->local_address().port;

  std::string two =
      Exchange(port,
               "POST /a HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\nContent-Length: 3\r\n\r\nabc"
               "POST /b?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\nhi\r\n0\r\n\r\n");
  EXPECT_NE(two.find("POST /a abc yes"), std::string::npos) << two;
  EXPECT_NE(two.find("POST /b hi "), std::string::npos) << two;

  std::string big = Exchange(
      port, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + std::string(500, 'x'));
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  std::string bad = Exchange(port, "NONSENSE\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400", 0), 0u) << bad;
  EXPECT_EQ((*server)->counters().too_large.load(), 1u);
  (*server)->Stop();
}

}  // namespace
}  // namespace waggle::net

namespace waggle::net {
namespace {

TEST(HttpServer, ClosesConnectionsOverTheLimitAndAnswersRefusalsInTheGivenForm) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_body_bytes = 10;
  options.max_connections = 1;
  options.error_response = [](int status, std::string message) {
    HttpResponse r;
    r.status = status;
    r.body = "{\"error\":\"" + message + "\"}";
    return r;
  };
  auto server = HttpServer::Bind(options, [](const HttpRequest&) { return HttpResponse{}; });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  const uint16_t port = (*server)->local_address().port;
  // An idle connection holds the only place.
  int idle = Connect(port);
  for (int i = 0; i < 100 && (*server)->counters().refused_connections.load() == 0; ++i) {
    std::string refused = Exchange(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(refused, "");
  }
  EXPECT_GE((*server)->counters().refused_connections.load(), 1u);
  ::close(idle);
  // With the place free again, a too-large body is refused in the server's error form.
  std::string big;
  for (int i = 0; i < 100; ++i) {
    big = Exchange(
        port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n" + std::string(50, 'x'));
    if (!big.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big;
  EXPECT_NE(big.find("{\"error\":\"request body larger than 10 bytes\"}"), std::string::npos)
      << big;
  (*server)->Stop();
}

}  // namespace
}  // namespace waggle::net

namespace waggle::net {
namespace {

// A server whose bodies must come within 1 s, 150 bytes of them at once; it answers
// "got N abcxyz": the body's size, first three and last three bytes.
std::unique_ptr<HttpServer> BodyServer() {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.idle_timeout_seconds = 1;
  options.max_body_bytes_in_flight = 150;
  auto server = HttpServer::Bind(options, [](const HttpRequest& r) {
    HttpResponse res;
    res.body = "got " + std::to_string(r.body.size()) + " " + r.body.substr(0, 3) +
               r.body.substr(r.body.size() - std::min<size_t>(3, r.body.size()));
    return res;
  });
  EXPECT_TRUE(server.ok());
  (*server)->Start();
  return std::move(*server);
}

// Whether `port` serves a 100-byte body within 2 s: a place freed by a connection that closed
// is given back just after the close, so a client may see a 503 first.
bool ServedSoon(uint16_t port) {
  const std::string full =
      "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'q');
  std::string answer;
  for (int i = 0; i < 100 && answer.find("got 100 qqqqqq") == std::string::npos; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    answer = Exchange(port, full);
  }
  return answer.find("got 100 qqqqqq") != std::string::npos;
}

TEST(HttpServer, ReadsABodyThatArrivesInPiecesAndCutsOffOneTooSlow) {
  std::unique_ptr<HttpServer> server = BodyServer();
  const uint16_t port = server->local_address().port;

  // Header and the body's start in one write, the rest in two more, then a pipelined request.
  int fd = Connect(port);
  Send(fd, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc" + std::string(37, 'm'));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Send(fd, std::string(30, 'm'));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Send(fd, std::string(27, 'm') + "xyz" +
               "POST /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 6\r\n\r\n"
               "123456");
  const std::string answers = ReadUntilClosed(fd, 5);
  ::close(fd);
  EXPECT_NE(answers.find("got 100 abcxyz"), std::string::npos) << answers;
  EXPECT_NE(answers.find("got 6 123456"), std::string::npos) << answers;

  // A body that stops coming holds its place until the deadline, then the connection closes
  // and the place is free again.
  int slow = Connect(port);
  const auto start = std::chrono::steady_clock::now();
  Send(slow, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string refused = Exchange(
      port, "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'q'));
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_EQ(ReadUntilClosed(slow, 5), "");
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 0.9);
  EXPECT_LT(waited, 4.0);
  ::close(slow);
  EXPECT_TRUE(ServedSoon(port));
  server->Stop();
}

TEST(HttpServer, ABodyCutShortOrTricklingPastItsDeadlineFreesItsPlace) {
  std::unique_ptr<HttpServer> server = BodyServer();
  const uint16_t port = server->local_address().port;

  // The client goes away mid-body.
  int gone = Connect(port);
  Send(gone, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::close(gone);
  EXPECT_TRUE(ServedSoon(port));

  // A body that keeps coming a byte at a time, but too slowly, is cut off at the deadline.
  int trickle = Connect(port);
  const auto start = std::chrono::steady_clock::now();
  Send(trickle, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  bool cut = false;
  for (int i = 0; i < 60 && !cut; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cut = ::send(trickle, "x", 1, MSG_NOSIGNAL) != 1;
    char c;
    cut = cut || ::recv(trickle, &c, 1, MSG_DONTWAIT) == 0;
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(cut);
  EXPECT_LT(waited, 2.5);
  ::close(trickle);
  EXPECT_TRUE(ServedSoon(port));

  // Expect: 100-continue, then the body.
  int polite = Connect(port);
  Send(polite,
       "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
       "Content-Length: 5\r\n\r\n");
  char buf[64];
  const ssize_t n = ::recv(polite, buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 100", 0), 0u);
  Send(polite, "hello");
  EXPECT_NE(ReadUntilClosed(polite, 5).find("got 5"), std::string::npos);
  ::close(polite);
  server->Stop();
}

// A body of several MiB, past the step in which a direct read grows its string, arriving in
// writes that do not line up with the steps: every byte lands where it belongs.
TEST(HttpServer, ReadsABodyLargerThanOneGrowthStep) {
  HttpServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_body_bytes_in_flight = 8 << 20;
  auto server = HttpServer::Bind(options, [](const HttpRequest& r) {
    uint64_t sum = 0;
    for (size_t i = 0; i < r.body.size(); ++i) sum += static_cast<uint8_t>(r.body[i]) * (i + 1);
    HttpResponse res;
    res.body = "got " + std::to_string(r.body.size()) + " sum " + std::to_string(sum);
    return res;
  });
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  std::string body((5 << 20) / 2 + 7, '\0');
  uint64_t sum = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
    sum += static_cast<uint8_t>(body[i]) * (i + 1);
  }
  int fd = Connect((*server)->local_address().port);
  const std::string head =
      "POST /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  // The header with the body's first bytes, then pieces of 700 KiB and the rest.
  Send(fd, head + body.substr(0, 1000));
  for (size_t at = 1000; at < body.size(); at += 700 << 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Send(fd, body.substr(at, 700 << 10));
  }
  const std::string answer = ReadUntilClosed(fd, 5);
  ::close(fd);
  EXPECT_NE(answer.find("got " + std::to_string(body.size()) + " sum " + std::to_string(sum)),
            std::string::npos)
      << answer.substr(0, 200);
  (*server)->Stop();
}

}  // namespace
}  // namespace waggle::net
