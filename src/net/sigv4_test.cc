#include "net/sigv4.h"

#include <gtest/gtest.h>

#include <sstream>

#include "base/testing/testdata.h"

namespace waggle::net::sigv4 {
namespace {

// The signed requests the AWS CLI sent, as captured in test/testdata (secret key "test").
std::vector<HttpRequest> CapturedCliRequests() {
  const std::string text = test_util::ReadTestdata("awscli-xray-requests.txt");
  std::vector<HttpRequest> out;
  const std::string start = "----- POST ";
  for (size_t at = text.find(start); at != std::string::npos; at = text.find(start, at)) {
    size_t line_end = text.find('\n', at);
    std::string first = text.substr(at + 6, line_end - at - 6);
    HttpRequest r;
    r.method = "POST";
    r.path = r.target = first.substr(5, first.find(' ', 5) - 5);
    size_t headers_end = text.find("\n\n", line_end);
    std::istringstream hs(text.substr(line_end + 1, headers_end - line_end - 1));
    std::string h;
    while (std::getline(hs, h)) {
      size_t colon = h.find(':');
      std::string name = h.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(c));
      r.headers.emplace_back(name, h.substr(colon + 2));
    }
    size_t body_end = text.find("\n----- (body", headers_end);
    r.body = text.substr(headers_end + 2, body_end - headers_end - 2);
    out.push_back(std::move(r));
    at = body_end;
  }
  return out;
}

int64_t AmzDateSeconds(const HttpRequest& r) {
  std::string d(r.Header("x-amz-date"));
  std::tm tm{};
  std::sscanf(d.c_str(), "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
              &tm.tm_min, &tm.tm_sec);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

SecretLookup TestKey() {
  return [](std::string_view akid) -> std::optional<std::string> {
    if (akid == "test") return "test";
    return std::nullopt;
  };
}

TEST(SigV4, VerifiesEverySignedRequestTheAwsCliSent) {
  auto requests = CapturedCliRequests();
  int signed_count = 0;
  for (const HttpRequest& r : requests) {
    if (r.Header("authorization").empty()) continue;
    ++signed_count;
    auto id = Verify(r, "xray", TestKey(), AmzDateSeconds(r));
    ASSERT_TRUE(id.ok()) << r.path << ": " << id.status().ToString();
    EXPECT_EQ(id->access_key_id, "test");
    EXPECT_EQ(id->region, "us-east-1");
  }
  EXPECT_GE(signed_count, 10);
}

TEST(SigV4, RejectsTamperedBodyWrongSecretAndStaleDate) {
  auto requests = CapturedCliRequests();
  ASSERT_FALSE(requests.empty());
  HttpRequest r = requests[0];
  const int64_t now = AmzDateSeconds(r);
  HttpRequest tampered = r;
  tampered.body += " ";
  EXPECT_EQ(Verify(tampered, "xray", TestKey(), now).status().code(),
            Status::Code::kPermissionDenied);
  auto wrong = [](std::string_view) -> std::optional<std::string> { return "other"; };
  EXPECT_EQ(Verify(r, "xray", wrong, now).status().code(), Status::Code::kPermissionDenied);
  auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_EQ(Verify(r, "xray", none, now).status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(Verify(r, "xray", TestKey(), now + 3600).status().code(),
            Status::Code::kPermissionDenied);
  HttpRequest unsigned_request;
  EXPECT_EQ(Verify(unsigned_request, "xray", TestKey(), now).status().code(),
            Status::Code::kUnauthenticated);
}

TEST(SigV4, ParsesTheAuthorizationHeader) {
  auto auth = ParseAuthorization(
      "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/xray/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date, "
      "Signature=0000000000000000000000000000000000000000000000000000000000000000");
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(auth->access_key_id, "AKID");
  EXPECT_EQ(auth->region, "eu-west-1");
  EXPECT_EQ(auth->signed_headers, (std::vector<std::string>{"content-type", "host", "x-amz-date"}));
  EXPECT_FALSE(ParseAuthorization("Bearer x").ok());
  EXPECT_FALSE(ParseAuthorization("AWS4-HMAC-SHA256 Credential=a/b").ok());
}

}  // namespace
}  // namespace waggle::net::sigv4

namespace waggle::net::sigv4 {
namespace {

HttpRequest WithHeader(HttpRequest r, const std::string& name, const std::string& value) {
  for (auto& [k, v] : r.headers) {
    if (k == name) {
      v = value;
      return r;
    }
  }
  r.headers.emplace_back(name, value);
  return r;
}

TEST(SigV4, RefusesSignedHeaderListsBuiltToAmplify) {
  auto requests = CapturedCliRequests();
  ASSERT_FALSE(requests.empty());
  const HttpRequest& r = requests[0];
  const int64_t now = AmzDateSeconds(r);
  std::string auth(r.Header("authorization"));
  auto with_list = [&](const std::string& list) {
    size_t a = auth.find("SignedHeaders=") + 14;
    size_t b = auth.find(',', a);
    return WithHeader(r, "authorization", auth.substr(0, a) + list + auth.substr(b));
  };
  for (const char* list : {"content-type;content-type;host;x-amz-date;x-amz-security-token",
                           "host;content-type;x-amz-date;x-amz-security-token",
                           "content-type;x-amz-date;x-amz-security-token",
                           "content-type;host;x-amz-date;x-amz-security-token;x-not-sent"}) {
    Status s = Verify(with_list(list), "xray", TestKey(), now).status();
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << list;
    EXPECT_EQ(s.message().find("signature we calculated"), std::string::npos) << list;
  }
  std::string huge;
  for (int i = 0; i < 100; ++i) huge += "a" + std::to_string(1000 + i) + ";";
  EXPECT_EQ(Verify(with_list(huge + "host"), "xray", TestKey(), now).status().code(),
            Status::Code::kPermissionDenied);
}

TEST(SigV4, APayloadHashHeaderMustBeTheBodysHash) {
  auto requests = CapturedCliRequests();
  const HttpRequest& r = requests[0];
  HttpRequest forged =
      WithHeader(r, "x-amz-content-sha256", std::string(64, 'a'));  // unsigned, so only checked
  Status s = Verify(forged, "xray", TestKey(), AmzDateSeconds(r)).status();
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(s.message().find("X-Amz-Content-Sha256"), std::string::npos);
  HttpRequest honest = WithHeader(r, "x-amz-content-sha256", Sha256Hex(r.body));
  EXPECT_TRUE(Verify(honest, "xray", TestKey(), AmzDateSeconds(r)).ok());
}

}  // namespace
}  // namespace waggle::net::sigv4
