// Fuzzes SigV4 verification as the X-Ray API runs it on every request: the Authorization
// header, X-Amz-Date, the path, the query, the headers and the body all come from the client.
//
// The input is lines: Authorization, X-Amz-Date, path, query, a header value, then the body.
// Checks that a parsed header holds what Verify relies on, that Verify answers only OK,
// Unauthenticated or PermissionDenied, and that the same path, query, header and body signed
// properly verify, and stop verifying once the body changes.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "net/sigv4.h"

namespace waggle::net::sigv4 {
namespace {

constexpr int64_t kNow = 1795219200;  // 2026-11-21T00:00:00Z
constexpr std::string_view kAmzDate = "20261121T000000Z";

std::optional<std::string> Lookup(std::string_view access_key_id) {
  if (access_key_id == "AKIDFUZZ") return "fuzz-secret";
  return std::nullopt;
}

// The next line of `*in` (all of it when there is no newline).
std::string_view NextLine(std::string_view* in) {
  const size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

void Check(std::string_view input) {
  const std::string authorization(NextLine(&input));
  const std::string amz_date(NextLine(&input));
  HttpRequest request;
  request.method = "POST";
  request.path = NextLine(&input);
  request.query = NextLine(&input);
  request.target = request.path + (request.query.empty() ? "" : "?" + request.query);
  const std::string value(NextLine(&input));
  request.body = input;

  Result<Authorization> parsed = ParseAuthorization(authorization);
  if (parsed.ok() && (parsed->signature.size() != 64 || parsed->access_key_id.empty() ||
                      parsed->signed_headers.empty())) {
    std::abort();
  }

  // As the client sent it.
  HttpRequest sent = request;
  sent.headers = {{"authorization", authorization},
                  {"host", "localhost"},
                  {"x-amz-date", amz_date},
                  {"x-fuzz", value}};
  Result<Identity> id = Verify(sent, "xray", Lookup, kNow);
  if (id.ok()) {
    if (id->access_key_id != "AKIDFUZZ") std::abort();
  } else if (id.status().code() != Status::Code::kUnauthenticated &&
             id.status().code() != Status::Code::kPermissionDenied) {
    std::abort();
  }

  // Signed properly.
  Authorization auth;
  auth.access_key_id = "AKIDFUZZ";
  auth.date = "20261121";
  auth.region = "us-east-1";
  auth.service = "xray";
  auth.signed_headers = {"host", "x-amz-date"};
  HttpRequest good = request;
  good.headers = {{"host", "localhost"}, {"x-amz-date", std::string(kAmzDate)}};
  if (!value.empty()) {
    auth.signed_headers.push_back("x-fuzz");
    good.headers.emplace_back("x-fuzz", value);
  }
  auth.signature = Signature(good, auth, kAmzDate, "fuzz-secret");
  std::string header =
      "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20261121/us-east-1/xray/aws4_request, "
      "SignedHeaders=";
  for (size_t i = 0; i < auth.signed_headers.size(); ++i) {
    header += (i ? ";" : "") + auth.signed_headers[i];
  }
  header += ", Signature=" + auth.signature;
  good.headers.emplace_back("authorization", header);
  if (!Verify(good, "xray", Lookup, kNow).ok()) std::abort();
  good.body += 'x';
  if (Verify(good, "xray", Lookup, kNow).ok()) std::abort();
}

}  // namespace
}  // namespace waggle::net::sigv4

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  waggle::net::sigv4::Check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
