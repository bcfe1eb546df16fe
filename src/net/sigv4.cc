#include "net/sigv4.h"

#include "net/url.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "base/hex.h"

namespace waggle::net::sigv4 {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Trims and collapses runs of spaces, as the canonical header form requires.
std::string CanonicalValue(std::string_view v) {
  v = Trim(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k = PercentDecode(part.substr(0, eq), true);
    std::string v = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1), true);
    params.emplace_back(UriEncode(k, false), UriEncode(v, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// "20261121T053045Z" -> epoch seconds; false when malformed.
bool ParseAmzDate(std::string_view s, int64_t* out) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return false;
  std::tm tm{};
  std::string str(s);
  if (std::sscanf(str.c_str(), "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string out;
  hex::Append(&out, digest, sizeof(digest));
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

Result<Authorization> ParseAuthorization(std::string_view header) {
  constexpr std::string_view kAlgo = "AWS4-HMAC-SHA256";
  header = Trim(header);
  if (header.substr(0, kAlgo.size()) != kAlgo) {
    return Status::InvalidArgument("Authorization is not AWS4-HMAC-SHA256");
  }
  header.remove_prefix(kAlgo.size());
  Authorization auth;
  std::string credential, signed_headers;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view part = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "Credential")
      credential = value;
    else if (key == "SignedHeaders")
      signed_headers = value;
    else if (key == "Signature")
      auth.signature = value;
  }
  // Credential = AKID/yyyymmdd/region/service/aws4_request
  std::vector<std::string> scope;
  size_t start = 0;
  for (size_t i = 0; i <= credential.size(); ++i) {
    if (i == credential.size() || credential[i] == '/') {
      scope.push_back(credential.substr(start, i - start));
      start = i + 1;
    }
  }
  if (scope.size() != 5 || scope[4] != "aws4_request" || scope[0].empty() ||
      signed_headers.empty() || auth.signature.size() != 64) {
    return Status::InvalidArgument("malformed AWS4-HMAC-SHA256 Authorization header");
  }
  auth.access_key_id = scope[0];
  auth.date = scope[1];
  auth.region = scope[2];
  auth.service = scope[3];
  start = 0;
  for (size_t i = 0; i <= signed_headers.size(); ++i) {
    if (i == signed_headers.size() || signed_headers[i] == ';') {
      auth.signed_headers.push_back(signed_headers.substr(start, i - start));
      start = i + 1;
    }
  }
  return auth;
}

std::string CanonicalRequest(const HttpRequest& request,
                             const std::vector<std::string>& signed_headers) {
  std::string out = request.method + "\n";
  out += UriEncode(PercentDecode(request.path, false), true) + "\n";
  out += CanonicalQuery(request.query) + "\n";
  for (const std::string& name : signed_headers) {
    std::string joined;
    for (const auto& [k, v] : request.headers) {
      if (k != name) continue;
      if (!joined.empty()) joined += ',';
      joined += CanonicalValue(v);
    }
    out += name + ":" + joined + "\n";
  }
  out += "\n";
  for (size_t i = 0; i < signed_headers.size(); ++i) {
    if (i) out += ';';
    out += signed_headers[i];
  }
  out += "\n";
  std::string_view payload_hash = request.Header("x-amz-content-sha256");
  out += payload_hash.empty() ? Sha256Hex(request.body) : std::string(payload_hash);
  return out;
}

std::string Signature(const HttpRequest& request, const Authorization& auth,
                      std::string_view amz_date, std::string_view secret) {
  std::string scope = auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request";
  std::string to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                        Sha256Hex(CanonicalRequest(request, auth.signed_headers));
  std::string key = HmacSha256("AWS4" + std::string(secret), auth.date);
  key = HmacSha256(key, auth.region);
  key = HmacSha256(key, auth.service);
  key = HmacSha256(key, "aws4_request");
  std::string mac = HmacSha256(key, to_sign);
  std::string out;
  hex::Append(&out, reinterpret_cast<const uint8_t*>(mac.data()), mac.size());
  return out;
}

Result<Identity> Verify(const HttpRequest& request, std::string_view service,
                        const SecretLookup& lookup, int64_t now_seconds) {
  std::string_view header = request.Header("authorization");
  if (header.empty()) return Status::Unauthenticated("the request is not signed");
  auto parsed = ParseAuthorization(header);
  if (!parsed.ok()) return Status::PermissionDenied(parsed.status().message());
  const Authorization& auth = *parsed;
  if (auth.service != service) {
    return Status::PermissionDenied("credential scope names service '" + auth.service + "'");
  }
  std::optional<std::string> secret = lookup(auth.access_key_id);
  if (!secret) {
    return Status::PermissionDenied("The security token included in the request is invalid.");
  }
  std::string_view amz_date = request.Header("x-amz-date");
  int64_t signed_at = 0;
  if (!ParseAmzDate(amz_date, &signed_at) || amz_date.substr(0, 8) != auth.date) {
    return Status::PermissionDenied("X-Amz-Date is missing or does not match the credential scope");
  }
  if (signed_at < now_seconds - 15 * 60 || signed_at > now_seconds + 15 * 60) {
    return Status::PermissionDenied(
        "Signature expired: X-Amz-Date is more than 15 minutes from now");
  }
  // The signed-header list comes from the client: it must name each header once, in order,
  // and only headers the request has (no list that makes the canonical request huge).
  constexpr size_t kMaxSignedHeaders = 64;
  if (auth.signed_headers.size() > kMaxSignedHeaders ||
      !std::is_sorted(auth.signed_headers.begin(), auth.signed_headers.end()) ||
      std::adjacent_find(auth.signed_headers.begin(), auth.signed_headers.end()) !=
          auth.signed_headers.end() ||
      !std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(), "host")) {
    return Status::PermissionDenied("SignedHeaders must be sorted, unique and include host");
  }
  for (const std::string& name : auth.signed_headers) {
    if (request.Header(name).empty() && name != "host") {
      return Status::PermissionDenied("SignedHeaders names " + name + ", which the request lacks");
    }
  }
  // A payload hash header is only trusted when it is the body's hash.
  std::string_view claimed_hash = request.Header("x-amz-content-sha256");
  if (!claimed_hash.empty() && claimed_hash != Sha256Hex(request.body)) {
    return Status::PermissionDenied("X-Amz-Content-Sha256 does not match the body");
  }
  if (!ConstantTimeEquals(Signature(request, auth, amz_date, *secret), auth.signature)) {
    return Status::PermissionDenied(
        "The request signature we calculated does not match the signature you provided.");
  }
  return Identity{auth.access_key_id, auth.region};
}

}  // namespace waggle::net::sigv4
