#pragma once

// ApiClient: HTTPS (HTTP/1.1 over TLS) to the Kubernetes API server.
//
// Owns one idle keep-alive connection (reused by consecutive requests such as
// LIST pages) and the credentials (src/credentials.hpp: the TLS context, a
// fixed token, a token file re-read about every minute and right after a 401,
// or an exec plugin run when its credential is missing, expired, or rejected
// with a 401). A request answered 401 is retried once with fresh credentials.
//
// Every network step has a deadline (connect, handshake, write, each read).
// Errors are values: ApiResponse carries an error_code and a message saying
// what failed where; nothing throws once constructed. Never logs secrets.
// Runs on the caller's executor (one thread); Beast stays in api_client.cpp.

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "k8s-client/config.hpp"

namespace hostgw::k8s {

enum class ApiErrc {
  connect_failed = 1,     // resolve or TCP connect
  tls_failed,             // handshake, certificate verification
  timeout,                // a deadline expired
  connection_lost,        // the connection broke mid-request or mid-stream
  credentials_unavailable,  // token file unreadable, exec plugin failed
  unauthorized,           // 401 after a credential refresh
  forbidden,              // 403
  not_found,              // 404
  conflict,               // 409
  gone,                   // 410 (expired resourceVersion / continue token)
  too_many_requests,      // 429
  server_error,           // 5xx
  unexpected_status,      // any other non-2xx
  response_too_large,     // body over max_body_bytes
  bad_response,           // undecodable (gzip) or unparsable body
};
const std::error_category& api_category();
std::error_code make_error_code(ApiErrc errc);
// The ApiErrc for an HTTP status (success codes map to no error).
std::error_code error_for_status(int status);

// Counters for /metrics. Latency is measured from sending the request to
// receiving the response header.
struct ApiStats {
  static constexpr std::array<double, 12> kLatencyBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                          0.5,   1,    2.5,   5,    10,  30};
  std::map<int, std::uint64_t> requests_by_code;  // HTTP status → count; 0 = no response
  // latency_buckets[i] counts requests with latency <= kLatencyBuckets[i]
  // (cumulative, as Prometheus histograms are); latency_count is the +Inf bucket.
  std::array<std::uint64_t, kLatencyBuckets.size()> latency_buckets{};
  std::uint64_t latency_count = 0;
  double latency_sum_seconds = 0;
  std::uint64_t token_reloads = 0;      // token file re-reads
  std::uint64_t exec_plugin_runs = 0;
  std::uint64_t connections_opened = 0;
};

struct ApiClientOptions {
  std::chrono::milliseconds connect_timeout{10000};  // resolve + TCP connect + TLS handshake, each
  std::chrono::milliseconds request_timeout{30000};  // write, and each read of an ordinary response
  std::chrono::milliseconds token_reload_interval{60000};
  std::chrono::milliseconds exec_timeout{60000};
  std::size_t max_body_bytes = 512 * 1024 * 1024;  // decoded body of an ordinary response
};

struct ApiResponse {
  std::error_code error;      // transport problem or non-2xx status
  std::string error_message;  // e.g. `GET /api/v1/nodes: connect to 127.0.0.1:6443: Connection refused`
  int status = 0;             // HTTP status; 0 when no response arrived
  std::string body;           // decoded body (with a body sink: only when status is not 200)
  std::optional<std::chrono::seconds> retry_after;  // Retry-After (seconds form)
  bool ok() const { return !error; }
};

class ApiClient {
 public:
  // Throws ConfigError when the TLS material in `config` cannot be loaded.
  ApiClient(boost::asio::any_io_executor executor, ClusterConfig config, ApiClientOptions options = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // GET of `target` ("/api/v1/nodes?limit=500"), relative to the server's base path.
  boost::asio::awaitable<ApiResponse> get(std::string target);

  // The same GET, but a 200's decoded body is handed to `on_body` as it
  // arrives instead of being buffered (a LIST page parsed as it streams). The
  // rest is get()'s: request_timeout for each read, max_body_bytes, the
  // keep-alive connection reused and kept. Any other status comes back
  // buffered in ApiResponse::body as get() has it. A 401 is retried once with
  // fresh credentials (no byte of it reaches `on_body`). `on_body` returns
  // false to stop reading: the connection is then closed, and the response
  // carries no error for that (the caller knows why it stopped).
  boost::asio::awaitable<ApiResponse> get(std::string target, std::function<bool(std::string_view)> on_body);

  // Any method; `content_type` and `body` for PATCH/PUT/POST.
  boost::asio::awaitable<ApiResponse> request(std::string method, std::string target, std::string content_type = {},
                                              std::string body = {});

  // Streaming GET (WATCH): on a 200, `on_data` receives the decoded body bytes as
  // they arrive, until the server ends the response (ok), no byte arrived for
  // `idle_timeout` (timeout), the connection breaks, or the coroutine is cancelled.
  // `on_data` returns false to stop reading (the connection is then closed).
  boost::asio::awaitable<ApiResponse> get_stream(std::string target, std::chrono::milliseconds idle_timeout,
                                                 std::function<bool(std::string_view)> on_data);

  const ApiStats& stats() const;
  // "kube-hostgw/<version> (linux/<arch>)"
  static std::string user_agent();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hostgw::k8s

template <>
struct std::is_error_code_enum<hostgw::k8s::ApiErrc> : std::true_type {};
