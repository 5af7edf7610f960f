#include "k8s-client/api_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <limits>

#include "common/log.hpp"
#include "credentials.hpp"
#include "gzip_decoder.hpp"
#include "k8s-client/node_json.hpp"
#include "kube-hostgw/version.hpp"

namespace hostgw::k8s {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

// --- error category ---

namespace {

class ApiCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "k8s-api"; }
  std::string message(int value) const override {
    switch (static_cast<ApiErrc>(value)) {
      case ApiErrc::connect_failed: return "cannot connect to the API server";
      case ApiErrc::tls_failed: return "TLS handshake with the API server failed";
      case ApiErrc::timeout: return "API request timed out";
      case ApiErrc::connection_lost: return "connection to the API server lost";
      case ApiErrc::credentials_unavailable: return "no credentials for the API server";
      case ApiErrc::unauthorized: return "401 Unauthorized";
      case ApiErrc::forbidden: return "403 Forbidden";
      case ApiErrc::not_found: return "404 Not Found";
      case ApiErrc::conflict: return "409 Conflict";
      case ApiErrc::gone: return "410 Gone";
      case ApiErrc::too_many_requests: return "429 Too Many Requests";
      case ApiErrc::server_error: return "API server error (5xx)";
      case ApiErrc::unexpected_status: return "unexpected HTTP status";
      case ApiErrc::response_too_large: return "API response too large";
      case ApiErrc::bad_response: return "undecodable API response";
    }
    return "unknown API client error";
  }
};

}  // namespace

const std::error_category& api_category() {
  static const ApiCategory category;
  return category;
}

std::error_code make_error_code(ApiErrc errc) { return {static_cast<int>(errc), api_category()}; }

std::error_code error_for_status(int status) {
  if (status >= 200 && status < 300) return {};
  switch (status) {
    case 401: return ApiErrc::unauthorized;
    case 403: return ApiErrc::forbidden;
    case 404: return ApiErrc::not_found;
    case 409: return ApiErrc::conflict;
    case 410: return ApiErrc::gone;
    case 429: return ApiErrc::too_many_requests;
    default: return status >= 500 && status < 600 ? ApiErrc::server_error : ApiErrc::unexpected_status;
  }
}

std::string ApiClient::user_agent() {
#if defined(__x86_64__)
  const char* arch = "amd64";
#elif defined(__aarch64__)
  const char* arch = "arm64";
#elif defined(__arm__)
  const char* arch = "arm";
#elif defined(__i386__)
  const char* arch = "386";
#elif defined(__powerpc64__)
  const char* arch = "ppc64le";
#elif defined(__s390x__)
  const char* arch = "s390x";
#elif defined(__riscv)
  const char* arch = "riscv64";
#else
  const char* arch = "unknown";
#endif
  return std::string("kube-hostgw/") + kVersion + " (linux/" + arch + ")";
}

// --- the client ---

namespace {

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool timed_out(const boost::system::error_code& ec) {
  return ec == beast::error::timeout;
}

std::string milliseconds_text(std::chrono::milliseconds value) {
  return std::to_string(value.count()) + " ms";
}

struct Connection {
  Connection(const asio::any_io_executor& executor, std::shared_ptr<ssl::context> tls, std::uint64_t tls_generation)
      : context(std::move(tls)), stream(executor, *context), generation(tls_generation) {}
  std::shared_ptr<ssl::context> context;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::uint64_t generation = 0;
};

// The connection buffer's room while a body is read: one TLS record's
// plaintext (16 KiB) with room to spare for bytes not yet parsed.
constexpr std::size_t kReadBufferBytes = 32 * 1024;

using Request = http::request<http::string_body>;
using Parser = http::response_parser<http::buffer_body>;
using Sink = std::function<bool(std::string_view)>;

// Status, Retry-After (seconds form) and whether the body is gzipped, from a response header.
bool read_header_fields(const Parser& parser, ApiResponse& response) {
  const auto& header = parser.get();
  response.status = static_cast<int>(header.result_int());
  if (auto it = header.find(http::field::retry_after); it != header.end()) {
    try {
      long seconds = std::stol(std::string(it->value()));
      if (seconds >= 0) response.retry_after = std::chrono::seconds(std::min(seconds, 3600L));
    } catch (...) {
      // An HTTP-date Retry-After is not used by kube-apiserver; ignore it.
    }
  }
  auto it = header.find(http::field::content_encoding);
  return it != header.end() && beast::iequals(it->value(), "gzip");
}

// The decoded body of an ordinary (buffered) response. Kept in pieces and
// joined once at the end with an exact allocation: appending to one string
// would double its capacity and, while reallocating, hold up to three times
// the body (a 4 MiB LIST page would briefly cost 12 MiB).
class BufferedBody {
 public:
  static constexpr std::size_t kPieceBytes = 256 * 1024;

  // `slack`: the most one append adds (a piece is closed before it could grow past kPieceBytes).
  explicit BufferedBody(std::size_t slack) : slack_(slack) {}

  void append(std::string_view chunk) {
    if (piece_.capacity() < kPieceBytes) piece_.reserve(kPieceBytes);
    piece_.append(chunk);
    total_ += chunk.size();
    if (piece_.size() >= kPieceBytes - slack_) pieces_.push_back(std::move(piece_)), piece_ = {};
  }

  std::string take() {
    if (!piece_.empty()) pieces_.push_back(std::move(piece_));
    std::string out;
    out.reserve(total_);
    for (std::string& piece : pieces_) {
      out.append(piece);
      std::string().swap(piece);
    }
    return out;
  }

 private:
  std::size_t slack_;
  std::vector<std::string> pieces_;
  std::string piece_;
  std::size_t total_ = 0;
};

// Where a request's 200 body goes: into ApiResponse::body (no sink), or to a
// sink as it arrives, either as an ordinary response (a LIST page parsed as it
// streams) or as a long-lived stream (a WATCH).
struct Delivery {
  const Sink* sink = nullptr;
  // A WATCH (with a sink): a connection of its own (never the idle one, never
  // kept), `stream_timeout` between bytes instead of request_timeout, no size limit.
  bool long_lived = false;
  std::chrono::milliseconds stream_timeout{0};
};

// How a body is read: to a sink or into memory, and its bounds.
struct BodyReading {
  const Sink* sink = nullptr;  // to the sink when set
  bool gzipped = false;
  std::chrono::milliseconds step_timeout{0};  // longest gap between reads
  std::size_t limit = 0;                      // decoded bytes
};

}  // namespace

struct ApiClient::Impl {
  Impl(asio::any_io_executor ex, ClusterConfig cfg, ApiClientOptions opts)
      : executor(std::move(ex)), config(std::move(cfg)), options(opts), credentials(executor, config, options, stats) {
    bool v6 = config.host.find(':') != std::string::npos;
    host_header = (v6 ? "[" + config.host + "]" : config.host);
    if (config.port != "443") host_header += ":" + config.port;
    endpoint = (v6 ? "[" + config.host + "]" : config.host) + ":" + config.port;
  }

  asio::any_io_executor executor;
  ClusterConfig config;
  ApiClientOptions options;
  ApiStats stats;
  detail::Credentials credentials;
  std::unique_ptr<Connection> idle;  // kept alive after an ordinary response
  std::string host_header;
  std::string endpoint;

  void record(int status, std::chrono::steady_clock::duration latency) {
    ++stats.requests_by_code[status];
    double seconds = std::chrono::duration<double>(latency).count();
    for (std::size_t i = 0; i < ApiStats::kLatencyBuckets.size(); ++i)
      if (seconds <= ApiStats::kLatencyBuckets[i]) ++stats.latency_buckets[i];
    ++stats.latency_count;
    stats.latency_sum_seconds += seconds;
  }

  // Resolve and TCP connect within connect_timeout; false and `response.error` set on failure.
  asio::awaitable<bool> connect_tcp(Connection& connection, ApiResponse& response, const std::string& what) {
    tcp::resolver resolver(executor);
    asio::steady_timer deadline(executor, options.connect_timeout);
    auto resolved = co_await (resolver.async_resolve(config.host, config.port, asio::as_tuple(asio::use_awaitable)) ||
                              deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (resolved.index() == 1) {
      response.error = ApiErrc::timeout;
      response.error_message =
          what + ": resolving " + config.host + " took longer than " + milliseconds_text(options.connect_timeout);
      co_return false;
    }
    auto [resolve_ec, endpoints] = std::get<0>(resolved);
    if (resolve_ec) {
      response.error = ApiErrc::connect_failed;
      response.error_message = what + ": cannot resolve " + config.host + ": " + resolve_ec.message();
      co_return false;
    }
    auto& tcp_stream = beast::get_lowest_layer(connection.stream);
    tcp_stream.expires_after(options.connect_timeout);
    auto [connect_ec, ignored_endpoint] =
        co_await tcp_stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (connect_ec) {
      response.error = timed_out(connect_ec) ? ApiErrc::timeout : ApiErrc::connect_failed;
      response.error_message = what + ": connect to " + endpoint + ": " +
                               (timed_out(connect_ec) ? "no answer within " + milliseconds_text(options.connect_timeout)
                                                      : connect_ec.message());
      co_return false;
    }
    ++stats.connections_opened;
    tcp_stream.socket().set_option(tcp::no_delay(true));
    co_return true;
  }

  // SNI and the name the server certificate must carry; false and `response.error` set on failure.
  bool prepare_tls(Connection& connection, ApiResponse& response, const std::string& what) {
    const std::string& name = config.verify_name();
    // SNI only for names: RFC 6066 forbids IP literals in server_name.
    if (!is_ip_literal(name) && !SSL_set_tlsext_host_name(connection.stream.native_handle(), name.c_str())) {
      response.error = ApiErrc::tls_failed;
      response.error_message = what + ": cannot set TLS server name " + name + ": " + detail::openssl_errors();
      return false;
    }
    if (config.insecure_skip_tls_verify) return true;
    // OpenSSL checks the name during chain verification, so a mismatch is
    // reported precisely (X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH);
    // host_name_verification checks it again (DNS names and IP SANs).
    X509_VERIFY_PARAM* param = SSL_get0_param(connection.stream.native_handle());
    if (is_ip_literal(name))
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    else
      X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    connection.stream.set_verify_callback(ssl::host_name_verification(name));
    return true;
  }

  // Why a handshake failed, as precisely as OpenSSL says.
  std::string handshake_failure(Connection& connection, const boost::system::error_code& ec) const {
    long verify = SSL_get_verify_result(connection.stream.native_handle());
    if (verify == X509_V_OK)
      return timed_out(ec) ? "no TLS handshake within " + milliseconds_text(options.connect_timeout) : ec.message();
    std::string detail = std::string("server certificate rejected: ") + X509_verify_cert_error_string(verify);
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
      return detail + " (it is not valid for \"" + config.verify_name() +
             "\"; set tls-server-name if the server is reached by another name)";
    return detail + " (is the certificate authority of " + config.source +
           " the one that signed the server's certificate?)";
  }

  // Opens a TLS connection; nullptr and `response.error` set on failure.
  asio::awaitable<std::unique_ptr<Connection>> connect(ApiResponse& response, const std::string& what) {
    auto connection = std::make_unique<Connection>(executor, credentials.tls(), credentials.generation());
    if (!co_await connect_tcp(*connection, response, what)) co_return nullptr;
    if (!prepare_tls(*connection, response, what)) co_return nullptr;
    beast::get_lowest_layer(connection->stream).expires_after(options.connect_timeout);
    auto [handshake_ec] =
        co_await connection->stream.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (handshake_ec) {
      response.error = timed_out(handshake_ec) ? ApiErrc::timeout : ApiErrc::tls_failed;
      response.error_message =
          what + ": TLS handshake with " + endpoint + " failed: " + handshake_failure(*connection, handshake_ec);
      co_return nullptr;
    }
    co_return connection;
  }

  // The idle keep-alive connection if it may serve this request (`reused` set), else a new one.
  asio::awaitable<std::unique_ptr<Connection>> take_connection(ApiResponse& response, const std::string& what,
                                                               bool long_lived, bool& reused) {
    std::unique_ptr<Connection> connection = std::move(idle);
    reused = connection && !long_lived && connection->generation == credentials.generation();
    if (reused) co_return connection;
    co_return co_await connect(response, what);
  }

  Request build_request(http::verb method, const std::string& target, const std::string& content_type,
                        const std::string& body) const {
    Request request{method, config.base_path + target, 11};
    request.set(http::field::host, host_header);
    request.set(http::field::user_agent, ApiClient::user_agent());
    request.set(http::field::accept, "application/json");
    request.set(http::field::accept_encoding, "gzip");
    if (std::string auth = credentials.authorization(); !auth.empty()) request.set(http::field::authorization, auth);
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    request.body() = body;
    request.keep_alive(true);
    request.prepare_payload();
    return request;
  }

  // Writes the request and reads the response header. Empty on success; else
  // the failure, with `write_failed` telling which step.
  asio::awaitable<boost::system::error_code> send(Connection& connection, Request& request, Parser& parser,
                                                  bool& write_failed) {
    auto& tcp_stream = beast::get_lowest_layer(connection.stream);
    tcp_stream.expires_after(options.request_timeout);
    auto [write_ec, written] =
        co_await http::async_write(connection.stream, request, asio::as_tuple(asio::use_awaitable));
    (void)written;
    write_failed = static_cast<bool>(write_ec);
    if (write_ec) co_return write_ec;
    tcp_stream.expires_after(options.request_timeout);
    auto [read_ec, n] = co_await http::async_read_header(connection.stream, connection.buffer, parser,
                                                         asio::as_tuple(asio::use_awaitable));
    (void)n;
    co_return read_ec;
  }

  // Hands decoded body bytes to the sink or `buffered`. False (and
  // `response.error` set, or the sink said stop) ends the reading.
  static bool deliver(std::string_view chunk, const BodyReading& reading, std::size_t& total, BufferedBody& buffered,
                      ApiResponse& response, const std::string& what) {
    total += chunk.size();
    if (total > reading.limit) {
      response.error = ApiErrc::response_too_large;
      response.error_message = what + ": response body is larger than " + std::to_string(reading.limit) + " bytes";
      return false;
    }
    if (reading.sink) return (*reading.sink)(chunk);  // false: the consumer stopped; the connection is dropped
    buffered.append(chunk);
    return true;
  }

  // Reads the body as it arrives, gunzipping if needed, into the sink or
  // `response.body`. True if the whole body was read.
  asio::awaitable<bool> read_body(Connection& connection, Parser& parser, const BodyReading& reading,
                                  ApiResponse& response, const std::string& what) {
    char buffer[65536];
    // Beast reads at most max(512, capacity - size) bytes per read_some into
    // the connection's buffer (http::detail::read_size): left at the few
    // hundred bytes the header needed, it handed over a 16 KiB TLS record in
    // 512-byte pieces, each one a trip through Beast, the TLS stream and the
    // event loop (a heartbeat took 17 of them). Room for a whole record.
    connection.buffer.reserve(kReadBufferBytes);
    detail::GzipDecoder decoder;
    std::string decoded;
    BufferedBody buffered(sizeof buffer);
    std::size_t total = 0;
    bool complete = true;
    while (complete && !parser.is_done()) {
      parser.get().body().data = buffer;
      parser.get().body().size = sizeof buffer;
      beast::get_lowest_layer(connection.stream).expires_after(reading.step_timeout);
      // read_some: hand each piece to the consumer as soon as it arrives.
      auto [ec, n] = co_await http::async_read_some(connection.stream, connection.buffer, parser,
                                                    asio::as_tuple(asio::use_awaitable));
      (void)n;
      std::string_view chunk(buffer, sizeof buffer - parser.get().body().size);
      if (!chunk.empty() && reading.gzipped) {
        decoded.clear();
        if (!decoder.decode(chunk, decoded, reading.limit)) {
          response.error = decoder.too_large() ? ApiErrc::response_too_large : ApiErrc::bad_response;
          response.error_message = what + ": " + decoder.error();
          complete = false;
          break;
        }
        chunk = decoded;
      }
      if (!chunk.empty() && !deliver(chunk, reading, total, buffered, response, what)) complete = false;
      if (!complete || ec == http::error::need_buffer) continue;
      if (ec) {
        response.error = timed_out(ec) ? ApiErrc::timeout : ApiErrc::connection_lost;
        response.error_message = what + ": " +
                                 (timed_out(ec) ? "no data for " + milliseconds_text(reading.step_timeout)
                                                : "reading the response body: " + ec.message());
        complete = false;
      }
    }
    if (!reading.sink) response.body = buffered.take();
    co_return complete;
  }

  // One HTTP exchange on a reused or new connection. A reused keep-alive
  // connection may have been closed by the server meanwhile; then the request
  // is sent once more on a new one. `response.error` is set for transport and
  // body failures only (not for a non-2xx status).
  asio::awaitable<ApiResponse> exchange(Request& request, const std::string& what, const Delivery& delivery) {
    for (;;) {
      ApiResponse response;
      bool reused = false;
      std::unique_ptr<Connection> connection =
          co_await take_connection(response, what, delivery.long_lived, reused);
      if (!connection) {
        ++stats.requests_by_code[0];
        co_return response;
      }
      Parser parser;
      parser.body_limit(boost::none);  // limits are applied to the decoded body
      const auto started = std::chrono::steady_clock::now();
      bool write_failed = false;
      if (boost::system::error_code failed = co_await send(*connection, request, parser, write_failed)) {
        if (reused && !timed_out(failed) && failed != asio::error::operation_aborted)
          continue;  // not an answer from the server: the idle connection was stale
        ++stats.requests_by_code[0];
        response.error = timed_out(failed) ? ApiErrc::timeout : ApiErrc::connection_lost;
        response.error_message =
            what + ": " + (write_failed ? "sending the request" : "reading the response header") + " from " + endpoint +
            ": " +
            (timed_out(failed) ? "no answer within " + milliseconds_text(options.request_timeout) : failed.message());
        co_return response;
      }
      record(parser.get().result_int(), std::chrono::steady_clock::now() - started);
      BodyReading reading;
      reading.gzipped = read_header_fields(parser, response);
      // Only a 200's body goes to the sink; any other is buffered (its Status is read).
      reading.sink = response.status == 200 ? delivery.sink : nullptr;
      const bool stream = reading.sink != nullptr && delivery.long_lived;
      reading.step_timeout = stream ? delivery.stream_timeout : options.request_timeout;
      reading.limit = stream ? std::numeric_limits<std::size_t>::max() : options.max_body_bytes;
      const bool complete = co_await read_body(*connection, parser, reading, response, what);
      // Otherwise the connection is dropped here; no TLS close_notify is sent,
      // which the API server treats like any closed client connection.
      if (complete && parser.keep_alive() && !stream) idle = std::move(connection);
      co_return response;
    }
  }

  // The error and its text for a non-2xx status.
  void describe_status(ApiResponse& response, const std::string& what) const {
    response.error = error_for_status(response.status);
    if (!response.error) return;
    ApiStatus status = parse_status(response.body);
    std::string message = what + ": " + std::to_string(response.status) + " " +
                          std::string(http::obsolete_reason(static_cast<http::status>(response.status)));
    if (!status.message.empty()) message += ": " + status.message;
    if (response.status == 401) message += " (the server rejected " + credentials.description() + ")";
    if (response.status == 403)
      message += " (the identity needs RBAC permission for this; see manifests/ for the ClusterRole)";
    response.error_message = std::move(message);
  }

  // A request with current credentials; a 401 is retried once after refreshing
  // them. The sink, if any, receives the decoded body of a 200 only: a 401
  // reaches no sink, so the retry never replays bytes a sink already took.
  asio::awaitable<ApiResponse> perform(http::verb method, const std::string& target, const std::string& content_type,
                                       const std::string& body, const Delivery& delivery) {
    const std::string what = std::string(http::to_string(method)) + " " + target;
    for (int attempt = 0;; ++attempt) {
      if (common::Result<> refreshed = co_await credentials.refresh(attempt > 0); !refreshed) {
        ++stats.requests_by_code[0];
        ApiResponse response;
        response.error = refreshed.error().code;
        response.error_message = what + ": " + refreshed.error().message;
        co_return response;
      }
      Request request = build_request(method, target, content_type, body);
      ApiResponse response = co_await exchange(request, what, delivery);
      if (response.error) co_return response;
      if (response.status == 401 && attempt == 0 && credentials.refreshable()) {
        KHG_LOG(info) << "API server answered 401; refreshing credentials and retrying once"
                      << log::kv("request", what);
        continue;
      }
      describe_status(response, what);
      co_return response;
    }
  }
};

ApiClient::ApiClient(asio::any_io_executor executor, ClusterConfig config, ApiClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(config), options)) {}

ApiClient::~ApiClient() = default;

asio::awaitable<ApiResponse> ApiClient::get(std::string target) {
  co_return co_await impl_->perform(http::verb::get, target, {}, {}, Delivery{});
}

asio::awaitable<ApiResponse> ApiClient::get(std::string target, std::function<bool(std::string_view)> on_body) {
  Delivery delivery;
  delivery.sink = &on_body;
  co_return co_await impl_->perform(http::verb::get, target, {}, {}, delivery);
}

asio::awaitable<ApiResponse> ApiClient::request(std::string method, std::string target, std::string content_type,
                                                std::string body) {
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    ApiResponse response;
    response.error = ApiErrc::unexpected_status;
    response.error_message = "unknown HTTP method \"" + method + "\"";
    co_return response;
  }
  co_return co_await impl_->perform(verb, target, content_type, body, Delivery{});
}

asio::awaitable<ApiResponse> ApiClient::get_stream(std::string target, std::chrono::milliseconds idle_timeout,
                                                   std::function<bool(std::string_view)> on_data) {
  Delivery delivery;
  delivery.sink = &on_data;
  delivery.long_lived = true;
  delivery.stream_timeout = idle_timeout;
  co_return co_await impl_->perform(http::verb::get, target, {}, {}, delivery);
}

const ApiStats& ApiClient::stats() const {
  return impl_->stats;
}

}  // namespace hostgw::k8s
