#include "net/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace waggle::net {
namespace {

constexpr char kMethod[] = "/test.Echo/Call";

// One unary call through gRPC C++'s generic stub, optionally gzip-compressed.
grpc::Status Call(const std::string& address, const std::string& message, bool gzip,
                  std::string* reply) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  context.AddMetadata("x-honeycomb-team", "key");
  grpc::Slice slice(message);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::Status status;
  auto call = stub.PrepareUnaryCall(&context, kMethod, request, &cq);
  call->StartCall();
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  std::vector<grpc::Slice> slices;
  if (status.ok() && response.Dump(&slices).ok()) {
    for (const auto& s : slices) reply->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

TEST(GrpcServer, AnswersUnaryCallsAndHoldsInflatedMessagesToTheLimit) {
  std::atomic<int> handled{0};
  GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  options.max_message_bytes = 4096;
  auto server = GrpcServer::Start(options, [&](const GrpcCall& call) {
    ++handled;
    GrpcReply reply;
    reply.body = std::string(call.method) + "|" + std::string(call.Metadata("x-honeycomb-team")) +
                 "|" + std::to_string(call.message.size());
    return reply;
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string address = (*server)->local_address().ToString();

  std::string reply;
  grpc::Status s = Call(address, std::string(1000, 'a'), /*gzip=*/true, &reply);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reply, std::string(kMethod) + "|key|1000");

  // 1 MiB of zeros gzips to about 1 KiB: under the limit on the wire, far over it inflated.
  reply.clear();
  s = Call(address, std::string(1 << 20, '\0'), /*gzip=*/true, &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  s = Call(address, std::string(8192, 'b'), /*gzip=*/false, &reply);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(handled.load(), 1);
  EXPECT_EQ((*server)->counters().calls.load() >= 1, true);
  (*server)->Stop();
}

}  // namespace
}  // namespace waggle::net
