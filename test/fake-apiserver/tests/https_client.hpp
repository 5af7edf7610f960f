#pragma once

// A small blocking HTTPS client for the fake API server's tests: one TLS
// connection, requests with deadlines, and a watch reader that returns the
// stream's events line by line. Test support only.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace hostgw::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // as received (still gzipped if Content-Encoding: gzip)
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string ca_pem;
  std::string token;                       // Authorization: Bearer, if set
  std::string client_cert_pem, client_key_pem;  // client certificate, if set
  std::chrono::milliseconds timeout{5000};  // per call
};

class HttpsClient {
 public:
  explicit HttpsClient(ClientOptions options);
  ~HttpsClient();

  // Connects if needed; throws std::runtime_error on connection errors or timeouts.
  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::string& content_type = {}, const std::map<std::string, std::string>& headers = {});

  // Starts a watch (GET target); returns the response status (200 when the stream started).
  int start_watch(const std::string& target);
  // The next newline-terminated event line, or nullopt when the stream ended
  // (cleanly or not) or `timeout` passed. ended() tells which.
  std::optional<std::string> next_line(std::chrono::milliseconds timeout);
  bool ended() const;
  // True if the stream ended with a complete chunked body (not cut off).
  bool ended_cleanly() const;

  void close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hostgw::testing
