#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "net/http.h"

// AWS Signature Version 4 (spec/xray.md §5.2), for requests from the AWS CLI and SDKs.
namespace waggle::net::sigv4 {

// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
struct Authorization {
  std::string access_key_id;
  std::string date;  // yyyymmdd
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  std::string signature;  // 64 hex digits
};

// Parses the header; InvalidArgument when it is not a SigV4 header.
Result<Authorization> ParseAuthorization(std::string_view header);

// The canonical request of spec §5.2 for `request`, covering `signed_headers`.
std::string CanonicalRequest(const HttpRequest& request,
                             const std::vector<std::string>& signed_headers);

// Returns the secret for an access key id, or nullopt for an unknown key.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

// The hex signature of `request` under the credential scope of `auth` (its date, region,
// service and signed headers), signed at `amz_date` (yyyymmddThhmmssZ) with `secret`.
std::string Signature(const HttpRequest& request, const Authorization& auth,
                      std::string_view amz_date, std::string_view secret);

struct Identity {
  std::string access_key_id;
  std::string region;
};

// Verifies a signed request. Unauthenticated when unsigned; PermissionDenied for an unknown
// key, a wrong signature, or an X-Amz-Date more than 15 minutes from `now_seconds`.
Result<Identity> Verify(const HttpRequest& request, std::string_view service,
                        const SecretLookup& lookup, int64_t now_seconds);

// Hex SHA-256 and HMAC-SHA256 helpers (exposed for tests).
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);

}  // namespace waggle::net::sigv4
