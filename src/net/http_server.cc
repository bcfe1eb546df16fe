#include "net/http_server.h"

#include "base/ascii.h"

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/log.h"

namespace waggle::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

Status HttpServerOptions::Validate() const {
  if (threads < 1 || threads > 256) return Status::InvalidArgument("http threads must be 1..256");
  if (max_body_bytes == 0) return Status::InvalidArgument("http max_body_bytes must be > 0");
  return Status::Ok();
}

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  HostPort local;
  std::vector<std::thread> threads;
  Counters counters;
  std::atomic<int> in_flight{0};
  std::atomic<size_t> sessions{0};
  std::atomic<size_t> body_bytes_reserved{0};  // declared Content-Length of bodies being read
  std::atomic<bool> stopping{false};
  std::unique_ptr<asio::steady_timer> retry;

  void Accept();
  HttpResponse ErrorResponse(int status, std::string message) const {
    if (options.error_response) return options.error_response(status, std::move(message));
    return HttpResponse::Text(status, std::move(message));
  }
};

namespace {

constexpr size_t kBodyStep = 1 << 20;  // a direct body read commits memory this much at a time

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server)
      : stream_(std::move(socket)), body_timer_(stream_.get_executor()), server_(server) {
    server_->sessions.fetch_add(1);
  }
  ~Session() {
    ReleaseBody();
    server_->sessions.fetch_sub(1);
  }

  void Start() { ReadHeader(); }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->body_limit(server_->options.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::seconds(server_->options.idle_timeout_seconds);
    stream_.expires_at(deadline_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    // A declared body is read into memory as it arrives: reserve it against the server-wide
    // budget first, so slow senders of large bodies cannot hold memory beyond it.
    if (auto length = parser_->content_length(); length && *length > 0) {
      if (!ReserveBody(*length)) {
        server_->counters.shed.fetch_add(1, std::memory_order_relaxed);
        return SendError(503, "too many request bodies in flight; retry later");
      }
    }
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
      asio::async_write(stream_, asio::buffer(*cont),
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (auto length = parser_->content_length(); length && !parser_->chunked()) {
      return ReadBodyDirect(static_cast<size_t>(*length));
    }
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  // A body of declared length is read straight into the request's string: in reads as large
  // as the socket gives (not through the buffer, 64 KiB at a time), under one timer for the
  // whole body rather than one armed for every read. Its deadline is the header's. The string
  // is reserved at once (as beast's body reader did) but grown kBodyStep at a time as it fills,
  // so that a header alone commits no more memory than that, and each byte is zeroed once.
  void ReadBodyDirect(size_t length) {
    body_length_ = length;
    std::string& body = parser_->get().body();
    body.reserve(length);
    body_filled_ = std::min(buffer_.size(), length);
    body.assign(static_cast<const char*>(buffer_.data().data()), body_filled_);
    buffer_.consume(body_filled_);
    if (body_filled_ == length) return OnBody({});
    body_timed_out_ = false;
    body_timer_.expires_at(deadline_);
    body_timer_.async_wait(
        [self = shared_from_this(), generation = body_generation_](beast::error_code ec) {
          // Too slow: a pending read ends with operation_aborted; a read that has completed but
          // whose handler has not run yet sees body_timed_out_. The timer of a body that has
          // ended (its generation is past) does nothing.
          if (ec || generation != self->body_generation_) return;
          self->body_timed_out_ = true;
          self->stream_.socket().cancel();
        });
    ReadMoreBody();
  }

  void ReadMoreBody() {
    std::string& body = parser_->get().body();
    if (body_filled_ == body.size()) body.resize(std::min(body_length_, body.size() + kBodyStep));
    stream_.socket().async_read_some(
        asio::buffer(body.data() + body_filled_, body.size() - body_filled_),
        [self = shared_from_this()](beast::error_code ec, size_t n) {
          self->body_filled_ += n;
          if (!ec && self->body_timed_out_) ec = asio::error::operation_aborted;
          if (!ec && self->body_filled_ < self->body_length_) return self->ReadMoreBody();
          ++self->body_generation_;
          self->body_timer_.cancel();
          self->OnBody(ec);
        });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec == http::error::body_limit) {
      server_->counters.too_large.fetch_add(1, std::memory_order_relaxed);
      return SendError(413, "request body larger than " +
                                std::to_string(server_->options.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      server_->counters.too_large.fetch_add(1, std::memory_order_relaxed);
      return SendError(431, "request headers too large");
    }
    server_->counters.bad_requests.fetch_add(1, std::memory_order_relaxed);
    SendError(400, "malformed HTTP request: " + ec.message());
  }

  void SendError(int status, std::string message) {
    HttpResponse error = server_->ErrorResponse(status, std::move(message));
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(error.status));
    res->set(http::field::server, server_->options.server_name);
    if (!error.content_type.empty()) res->set(http::field::content_type, error.content_type);
    for (auto& [k, v] : error.headers) res->insert(k, v);
    if (status == 503) res->set(http::field::retry_after, "1");
    res->set(http::field::connection, "close");
    res->body() = std::move(error.body);
    res->prepare_payload();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      self->Close();
    });
  }

  bool ReserveBody(size_t bytes) {
    const size_t limit = server_->options.max_body_bytes_in_flight;
    size_t now = server_->body_bytes_reserved.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && now != 0 && now + bytes > limit) return false;
    } while (!server_->body_bytes_reserved.compare_exchange_weak(now, now + bytes,
                                                                 std::memory_order_relaxed));
    reserved_ = bytes;
    return true;
  }
  void ReleaseBody() {
    if (reserved_ != 0)
      server_->body_bytes_reserved.fetch_sub(reserved_, std::memory_order_relaxed);
    reserved_ = 0;
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    auto& req = parser_->get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    if (q != std::string::npos) request.query = request.target.substr(q + 1);
    request.headers.reserve(16);
    for (const auto& field : req) {
      request.headers.emplace_back(
          AsciiLower(std::string_view(field.name_string().data(), field.name_string().size())),
          std::string(field.value()));
    }
    request.body = std::move(req.body());
    beast::error_code ep_ec;
    auto ep = stream_.socket().remote_endpoint(ep_ec);
    if (!ep_ec) request.remote_address = ep.address().to_string();
    const bool keep_alive = req.keep_alive() && !server_->stopping.load();
    const unsigned version = req.version();

    server_->counters.requests.fetch_add(1, std::memory_order_relaxed);
    server_->in_flight.fetch_add(1);
    HttpResponse response;
    try {
      response = server_->handler(request);
    } catch (const std::exception& e) {
      log::Error("http handler for {} threw: {}", request.path, e.what());
      response = server_->ErrorResponse(500, "internal error");
    }
    server_->in_flight.fetch_sub(1);
    ReleaseBody();

    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(version);
    res->result(static_cast<unsigned>(response.status));
    res->set(http::field::server, server_->options.server_name);
    if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
    for (auto& [k, v] : response.headers) res->insert(k, v);
    res->body() = std::move(response.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->ReadHeader();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  asio::steady_timer body_timer_;                   // ReadBodyDirect's deadline
  std::chrono::steady_clock::time_point deadline_;  // for the request being read
  size_t body_length_ = 0;                          // the declared length being read
  size_t body_filled_ = 0;                          // of it, the bytes read so far
  bool body_timed_out_ = false;
  uint64_t body_generation_ = 0;  // bodies read directly that have ended
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpServer::Impl* server_;
  size_t reserved_ = 0;  // bytes of body_bytes_reserved this request holds
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping.load()) return;
      // Out of descriptors, say: retrying at once would spin. Try again shortly.
      counters.accept_errors.fetch_add(1, std::memory_order_relaxed);
      retry->expires_after(std::chrono::milliseconds(100));
      retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping.load()) Accept();
      });
      return;
    }
    if (sessions.load() >= options.max_connections) {
      counters.refused_connections.fetch_add(1, std::memory_order_relaxed);
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), this)->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Bind(const HttpServerOptions& options,
                                                     Handler handler) {
  WAGGLE_RETURN_IF_ERROR(options.Validate());
  WAGGLE_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(options.address));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->handler = std::move(handler);
  beast::error_code ec;
  auto address = asio::ip::make_address(hp.host, ec);
  if (ec) return Status::InvalidArgument("bad address " + options.address);
  tcp::endpoint endpoint(address, hp.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("bind tcp " + hp.ToString() + ": " + ec.message());
  auto local = impl->acceptor.local_endpoint(ec);
  if (ec) return Status::IOError("bind tcp " + hp.ToString() + ": " + ec.message());
  hp.port = local.port();
  impl->retry = std::make_unique<asio::steady_timer>(impl->ioc);
  impl->local = hp;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Start() {
  impl_->Accept();
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
}

void HttpServer::Stop() {
  if (impl_->threads.empty()) return;
  impl_->stopping.store(true);
  asio::post(impl_->ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->retry->cancel();
  });
  // Let handlers in flight finish (their responses go out), then stop the loop.
  for (int i = 0; i < 500 && impl_->in_flight.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

const HostPort& HttpServer::local_address() const { return impl_->local; }
const HttpServer::Counters& HttpServer::counters() const { return impl_->counters; }

}  // namespace waggle::net
