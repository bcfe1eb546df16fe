#include "net/grpc_server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

namespace waggle::net {

struct GrpcServer::Impl {
  Handler handler;
  HostPort address;
  Counters counters;
  std::unique_ptr<grpc::CallbackGenericService> service;
  std::unique_ptr<grpc::Server> server;
};

namespace {

// One call: read the single request message, answer it, finish.
class UnaryReactor : public grpc::ServerGenericBidiReactor {
 public:
  UnaryReactor(grpc::GenericCallbackServerContext* context, GrpcServer::Impl* impl)
      : context_(context), impl_(impl) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    impl_->counters.calls.fetch_add(1, std::memory_order_relaxed);
    if (!ok) {
      Fail(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request message");
      return;
    }
    std::vector<grpc::Slice> slices;
    std::string message;
    if (!request_.Dump(&slices).ok()) {
      Fail(grpc::StatusCode::INTERNAL, "could not read the request message");
      return;
    }
    if (slices.size() == 1) {
      call_.message =
          std::string_view(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size());
    } else {
      message.reserve(request_.Length());
      for (const grpc::Slice& s : slices) {
        message.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      call_.message = message;
    }
    call_.method = context_->method();
    for (const auto& [k, v] : context_->client_metadata()) {
      call_.metadata.emplace_back(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
    }
    GrpcReply reply = impl_->handler(call_);
    if (reply.code != 0) {
      Fail(static_cast<grpc::StatusCode>(reply.code), reply.message);
      return;
    }
    grpc::Slice slice(reply.body);
    response_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  void Fail(grpc::StatusCode code, const std::string& message) {
    impl_->counters.failed_calls.fetch_add(1, std::memory_order_relaxed);
    Finish(grpc::Status(code, message));
  }

  grpc::GenericCallbackServerContext* context_;
  GrpcServer::Impl* impl_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  GrpcCall call_;
};

class Service : public grpc::CallbackGenericService {
 public:
  explicit Service(GrpcServer::Impl* impl) : impl_(impl) {}
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    return new UnaryReactor(context, impl_);
  }

 private:
  GrpcServer::Impl* impl_;
};

}  // namespace

std::string_view GrpcCall::Metadata(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return v;
  }
  return {};
}

Status GrpcServerOptions::Validate() const {
  if (max_message_bytes == 0) return Status::InvalidArgument("max message size is 0");
  return ParseHostPort(address).status();
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(const GrpcServerOptions& options,
                                                      Handler handler) {
  WAGGLE_RETURN_IF_ERROR(options.Validate());
  WAGGLE_ASSIGN_OR_RETURN(HostPort address, ParseHostPort(options.address));
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->service = std::make_unique<Service>(impl.get());
  grpc::ServerBuilder builder;
  int port = 0;
  const std::string host =
      address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host;
  builder.AddListeningPort(host + ":" + std::to_string(address.port),
                           grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  // Do not let a second process bind the same port (gRPC sets SO_REUSEPORT by default).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterCallbackGenericService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || port == 0) {
    return Status::IOError("cannot listen on " + options.address + " (in use or not available)");
  }
  address.port = static_cast<uint16_t>(port);
  impl->address = address;
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Stop(); }

void GrpcServer::Stop() {
  if (!impl_->server) return;
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  impl_->server->Wait();
  impl_->server.reset();
}

const HostPort& GrpcServer::local_address() const { return impl_->address; }
const GrpcServer::Counters& GrpcServer::counters() const { return impl_->counters; }

}  // namespace waggle::net
