#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Plain HTTP request/response values, so handlers never see Boost.Beast.
namespace waggle::net {

struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // path and query as sent
  std::string path;                                          // target without the query
  std::string query;                                         // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, in order
  std::string body;
  std::string remote_address;

  // The first header named `name` (lowercase), or empty.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static HttpResponse Text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
  }
};

}  // namespace waggle::net
