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
#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "gzip_decoder.hpp"
#include "k8s-client/exec_credential.hpp"
#include "k8s-client/log.hpp"
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

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::shared_ptr<ssl::context> make_tls_context(const ClusterConfig& config, const std::string& cert_pem,
                                               const std::string& key_pem, std::string& error) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  ERR_clear_error();
  if (config.insecure_skip_tls_verify) {
    context->set_verify_mode(ssl::verify_none);
  } else {
    context->set_verify_mode(ssl::verify_peer);
    if (config.ca_pem.empty()) {
      context->set_default_verify_paths(ec);
      if (ec) {
        error = "cannot load the system's CA certificates: " + ec.message();
        return nullptr;
      }
    } else {
      context->add_certificate_authority(asio::buffer(config.ca_pem), ec);
      if (ec) {
        error = "certificate authority of " + config.source + " is not a valid PEM certificate: " + openssl_errors();
        return nullptr;
      }
    }
  }
  if (!cert_pem.empty()) {
    context->use_certificate_chain(asio::buffer(cert_pem), ec);
    if (ec) {
      error = "client certificate is not a valid PEM certificate: " + openssl_errors();
      return nullptr;
    }
    context->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec) {
      error = "client key is not a valid PEM private key (or does not match the certificate): " + openssl_errors();
      return nullptr;
    }
  }
  return context;
}

std::optional<std::string> read_token_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = std::string(std::strerror(errno));
    return std::nullopt;
  }
  std::ostringstream out;
  out << in.rdbuf();
  std::string token = out.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    error = "file is empty";
    return std::nullopt;
  }
  return token;
}

struct Connection {
  Connection(const asio::any_io_executor& executor, std::shared_ptr<ssl::context> tls)
      : context(std::move(tls)), stream(executor, *context) {}
  std::shared_ptr<ssl::context> context;
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::uint64_t generation = 0;
};

}  // namespace

struct ApiClient::Impl {
  Impl(asio::any_io_executor ex, ClusterConfig cfg, ApiClientOptions opts)
      : executor(std::move(ex)), config(std::move(cfg)), options(opts) {
    std::string error;
    tls = make_tls_context(config, config.client_cert_pem, config.client_key_pem, error);
    if (!tls) throw ConfigError(config.source + ": " + error);
    if (config.insecure_skip_tls_verify)
      KHG_LOG(warning) << "TLS verification of the API server is off (insecure-skip-tls-verify: true)"
                       << log::kv("server", config.server);
    token = config.token;
    if (!config.token_file.empty()) {
      auto read = read_token_file(config.token_file, error);
      if (read) {
        token = std::move(*read);
        token_read_at = std::chrono::steady_clock::now();
      } else {
        KHG_LOG(warning) << "Cannot read the token file" << log::kv("file", config.token_file)
                         << log::kv("error", error);
      }
    }
    bool v6 = config.host.find(':') != std::string::npos;
    host_header = (v6 ? "[" + config.host + "]" : config.host);
    if (config.port != "443") host_header += ":" + config.port;
    endpoint = (v6 ? "[" + config.host + "]" : config.host) + ":" + config.port;
  }

  asio::any_io_executor executor;
  ClusterConfig config;
  ApiClientOptions options;
  ApiStats stats;
  std::shared_ptr<ssl::context> tls;
  std::uint64_t tls_generation = 0;
  std::unique_ptr<Connection> idle;
  std::string host_header;
  std::string endpoint;

  // Credentials.
  std::string token;
  std::chrono::steady_clock::time_point token_read_at{};
  std::optional<ExecCredential> exec_credential;
  bool exec_running = false;

  void reload_token_file(bool forced) {
    if (config.token_file.empty()) return;
    auto now = std::chrono::steady_clock::now();
    if (!forced && now - token_read_at < options.token_reload_interval) return;
    token_read_at = now;
    std::string error;
    auto read = read_token_file(config.token_file, error);
    ++stats.token_reloads;
    if (!read) {
      // Keep the old token: a rotation in progress may leave the file briefly unreadable.
      KHG_LOG(warning) << "Cannot re-read the token file; keeping the previous token"
                       << log::kv("file", config.token_file) << log::kv("error", error);
      return;
    }
    if (*read != token) KHG_LOG(info) << "Token file changed; using the new token" << log::kv("file", config.token_file);
    token = std::move(*read);
  }

  bool exec_credential_valid() const {
    if (!exec_credential) return false;
    if (!exec_credential->expiration) return true;
    // Renew a little before expiry so a request never carries a stale credential.
    return std::chrono::system_clock::now() + std::chrono::seconds(10) < *exec_credential->expiration;
  }

  // Makes sure the credentials are current; "" or an error message.
  asio::awaitable<std::string> prepare_credentials(bool after_401) {
    if (config.exec) {
      while (exec_running) {
        asio::steady_timer wait(executor, std::chrono::milliseconds(10));
        co_await wait.async_wait(asio::use_awaitable);
      }
      if (after_401) exec_credential.reset();
      if (!exec_credential_valid()) {
        exec_running = true;
        ++stats.exec_plugin_runs;
        KHG_LOG(info) << "Running the exec credential plugin" << log::kv("command", config.exec->command)
                      << log::kv("reason", after_401 ? "401 Unauthorized" : exec_credential ? "expired" : "no credential yet");
        ExecCredentialResult result;
        try {
          result = co_await run_exec_plugin(*config.exec, exec_info_json(*config.exec, config), options.exec_timeout);
        } catch (...) {
          exec_running = false;
          throw;
        }
        exec_running = false;
        if (!result.credential) co_return result.error;
        bool cert_changed = !exec_credential || exec_credential->client_certificate_pem !=
                                                    result.credential->client_certificate_pem ||
                            exec_credential->client_key_pem != result.credential->client_key_pem;
        exec_credential = std::move(result.credential);
        if (cert_changed && !exec_credential->client_certificate_pem.empty()) {
          std::string error;
          auto context = make_tls_context(config, exec_credential->client_certificate_pem,
                                          exec_credential->client_key_pem, error);
          if (!context) {
            exec_credential.reset();
            co_return config.exec->where + ": " + error;
          }
          tls = std::move(context);
          ++tls_generation;
          idle.reset();
        }
      }
      co_return std::string();
    }
    reload_token_file(after_401);
    co_return std::string();
  }

  std::string authorization() const {
    if (config.exec && exec_credential && !exec_credential->token.empty()) return "Bearer " + exec_credential->token;
    if (!token.empty()) return "Bearer " + token;
    return {};
  }

  std::string credential_description() const {
    if (config.exec) return "the exec plugin's credential (" + config.exec->command + ")";
    if (!config.token_file.empty()) return "the token from " + config.token_file;
    if (!config.token.empty()) return "the token from " + config.source;
    if (!config.client_cert_pem.empty()) return "the client certificate from " + config.source;
    return "no credentials (" + config.source + " has none)";
  }

  void record(int status, std::chrono::steady_clock::duration latency) {
    ++stats.requests_by_code[status];
    double seconds = std::chrono::duration<double>(latency).count();
    for (std::size_t i = 0; i < ApiStats::kLatencyBuckets.size(); ++i)
      if (seconds <= ApiStats::kLatencyBuckets[i]) ++stats.latency_buckets[i];
    ++stats.latency_count;
    stats.latency_sum_seconds += seconds;
  }

  static bool timed_out(const boost::system::error_code& ec) { return ec == beast::error::timeout; }

  // Opens a TLS connection; nullptr and `response.error` set on failure.
  asio::awaitable<std::unique_ptr<Connection>> connect(ApiResponse& response, const std::string& what) {
    auto connection = std::make_unique<Connection>(executor, tls);
    connection->generation = tls_generation;
    tcp::resolver resolver(executor);
    asio::steady_timer deadline(executor, options.connect_timeout);
    auto resolved = co_await (resolver.async_resolve(config.host, config.port, asio::as_tuple(asio::use_awaitable)) ||
                              deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (resolved.index() == 1) {
      response.error = ApiErrc::timeout;
      response.error_message = what + ": resolving " + config.host + " took longer than " +
                               std::to_string(options.connect_timeout.count()) + " ms";
      co_return nullptr;
    }
    auto [resolve_ec, endpoints] = std::get<0>(resolved);
    if (resolve_ec) {
      response.error = ApiErrc::connect_failed;
      response.error_message = what + ": cannot resolve " + config.host + ": " + resolve_ec.message();
      co_return nullptr;
    }
    auto& tcp_stream = beast::get_lowest_layer(connection->stream);
    tcp_stream.expires_after(options.connect_timeout);
    auto [connect_ec, ignored_endpoint] = co_await tcp_stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (connect_ec) {
      response.error = timed_out(connect_ec) ? ApiErrc::timeout : ApiErrc::connect_failed;
      response.error_message = what + ": connect to " + endpoint + ": " +
                               (timed_out(connect_ec) ? "no answer within " + std::to_string(options.connect_timeout.count()) + " ms"
                                                      : connect_ec.message());
      co_return nullptr;
    }
    ++stats.connections_opened;
    tcp_stream.socket().set_option(tcp::no_delay(true));
    const std::string& name = config.verify_name();
    // SNI only for names: RFC 6066 forbids IP literals in server_name.
    if (!is_ip_literal(name) && !SSL_set_tlsext_host_name(connection->stream.native_handle(), name.c_str())) {
      response.error = ApiErrc::tls_failed;
      response.error_message = what + ": cannot set TLS server name " + name + ": " + openssl_errors();
      co_return nullptr;
    }
    if (!config.insecure_skip_tls_verify) {
      // OpenSSL checks the name during chain verification, so a mismatch is
      // reported precisely (X509_V_ERR_HOSTNAME_MISMATCH / IP_ADDRESS_MISMATCH);
      // host_name_verification checks it again (DNS names and IP SANs).
      X509_VERIFY_PARAM* param = SSL_get0_param(connection->stream.native_handle());
      if (is_ip_literal(name))
        X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
      else
        X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
      connection->stream.set_verify_callback(ssl::host_name_verification(name));
    }
    tcp_stream.expires_after(options.connect_timeout);
    auto [handshake_ec] =
        co_await connection->stream.async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (handshake_ec) {
      response.error = timed_out(handshake_ec) ? ApiErrc::timeout : ApiErrc::tls_failed;
      std::string detail = handshake_ec.message();
      long verify = SSL_get_verify_result(connection->stream.native_handle());
      if (verify != X509_V_OK) {
        detail = std::string("server certificate rejected: ") + X509_verify_cert_error_string(verify);
        if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
          detail += " (it is not valid for \"" + name + "\"; set tls-server-name if the server is reached by another name)";
        else
          detail += " (is the certificate authority of " + config.source + " the one that signed the server's certificate?)";
      } else if (timed_out(handshake_ec)) {
        detail = "no TLS handshake within " + std::to_string(options.connect_timeout.count()) + " ms";
      }
      response.error_message = what + ": TLS handshake with " + endpoint + " failed: " + detail;
      co_return nullptr;
    }
    co_return connection;
  }

  // One HTTP exchange. `sink` receives decoded body bytes of a 200 when streaming.
  asio::awaitable<ApiResponse> perform(http::verb method, const std::string& target, const std::string& content_type,
                                       const std::string& body, std::chrono::milliseconds read_timeout,
                                       const std::function<bool(std::string_view)>* sink) {
    const std::string what = std::string(http::to_string(method)) + " " + target;
    ApiResponse response;
    for (int attempt = 0;; ++attempt) {
      response = ApiResponse{};
      bool retry_on_401 = attempt == 0 && (config.exec || !config.token_file.empty());
      std::string credential_error = co_await prepare_credentials(attempt > 0);
      if (!credential_error.empty()) {
        response.error = ApiErrc::credentials_unavailable;
        response.error_message = what + ": " + credential_error;
        ++stats.requests_by_code[0];
        co_return response;
      }

      // A reused keep-alive connection may have been closed by the server
      // meanwhile; then the request is sent once more on a new one.
      std::unique_ptr<Connection> connection;
      bool reused = false;
      if (!sink && idle && idle->generation == tls_generation) {
        connection = std::move(idle);
        reused = true;
      }
      idle.reset();
      if (!connection) {
        connection = co_await connect(response, what);
        if (!connection) {
          ++stats.requests_by_code[0];
          co_return response;
        }
      }

      http::request<http::string_body> request{method, config.base_path + target, 11};
      request.set(http::field::host, host_header);
      request.set(http::field::user_agent, ApiClient::user_agent());
      request.set(http::field::accept, "application/json");
      request.set(http::field::accept_encoding, "gzip");
      std::string auth = authorization();
      if (!auth.empty()) request.set(http::field::authorization, auth);
      if (!content_type.empty()) request.set(http::field::content_type, content_type);
      request.body() = body;
      request.keep_alive(true);
      request.prepare_payload();

      auto started = std::chrono::steady_clock::now();
      auto& tcp_stream = beast::get_lowest_layer(connection->stream);
      tcp_stream.expires_after(options.request_timeout);
      auto [write_ec, written] = co_await http::async_write(connection->stream, request, asio::as_tuple(asio::use_awaitable));
      (void)written;
      http::response_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);  // limits are applied to the decoded body below
      boost::system::error_code read_ec;
      if (!write_ec) {
        tcp_stream.expires_after(options.request_timeout);
        auto [ec, n] = co_await http::async_read_header(connection->stream, connection->buffer, parser,
                                                        asio::as_tuple(asio::use_awaitable));
        (void)n;
        read_ec = ec;
      }
      boost::system::error_code failed = write_ec ? write_ec : read_ec;
      if (failed) {
        if (reused && !timed_out(failed) && failed != asio::error::operation_aborted) {
          --attempt;  // not an answer from the server: the idle connection was stale
          continue;
        }
        ++stats.requests_by_code[0];
        response.error = timed_out(failed) ? ApiErrc::timeout : ApiErrc::connection_lost;
        response.error_message = what + ": " + (write_ec ? "sending the request" : "reading the response header") +
                                 " from " + endpoint + ": " +
                                 (timed_out(failed) ? "no answer within " + std::to_string(options.request_timeout.count()) + " ms"
                                                    : failed.message());
        co_return response;
      }
      record(parser.get().result_int(), std::chrono::steady_clock::now() - started);
      response.status = static_cast<int>(parser.get().result_int());
      if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end()) {
        try {
          long seconds = std::stol(std::string(it->value()));
          if (seconds >= 0) response.retry_after = std::chrono::seconds(std::min(seconds, 3600L));
        } catch (...) {
          // An HTTP-date Retry-After is not used by kube-apiserver; ignore it.
        }
      }
      bool gzipped = false;
      if (auto it = parser.get().find(http::field::content_encoding); it != parser.get().end())
        gzipped = beast::iequals(it->value(), "gzip");

      bool streaming = sink && response.status == 200;
      std::chrono::milliseconds step_timeout = streaming ? read_timeout : options.request_timeout;
      std::size_t limit = streaming ? std::numeric_limits<std::size_t>::max() : options.max_body_bytes;
      detail::GzipDecoder decoder;
      std::string decoded;
      // An ordinary body is kept in pieces and joined once at the end with an
      // exact allocation: appending to one string would double its capacity
      // and, while reallocating, hold up to three times the body (a 4 MiB LIST
      // page would briefly cost 12 MiB).
      std::vector<std::string> pieces;
      std::string piece;
      constexpr std::size_t kPieceBytes = 256 * 1024;
      std::size_t total = 0;
      char buffer[65536];
      bool body_ok = true;
      while (!parser.is_done()) {
        parser.get().body().data = buffer;
        parser.get().body().size = sizeof buffer;
        tcp_stream.expires_after(step_timeout);
        // read_some: hand each piece to the consumer as soon as it arrives.
        auto [ec, n] = co_await http::async_read_some(connection->stream, connection->buffer, parser,
                                                 asio::as_tuple(asio::use_awaitable));
        (void)n;
        std::size_t got = sizeof buffer - parser.get().body().size;
        if (got > 0) {
          std::string_view raw(buffer, got);
          std::string_view chunk = raw;
          if (gzipped) {
            decoded.clear();
            if (!decoder.decode(raw, decoded, limit)) {
              response.error = decoder.too_large() ? ApiErrc::response_too_large : ApiErrc::bad_response;
              response.error_message = what + ": " + decoder.error();
              body_ok = false;
              break;
            }
            chunk = decoded;
          }
          total += chunk.size();
          if (total > limit) {
            response.error = ApiErrc::response_too_large;
            response.error_message = what + ": response body is larger than " + std::to_string(limit) + " bytes";
            body_ok = false;
            break;
          }
          if (streaming) {
            if (!(*sink)(chunk)) {
              body_ok = false;  // the consumer stopped; the connection is dropped
              break;
            }
          } else {
            if (piece.capacity() < kPieceBytes) piece.reserve(kPieceBytes);
            piece.append(chunk);
            if (piece.size() >= kPieceBytes - sizeof buffer) pieces.push_back(std::move(piece)), piece = {};
          }
        }
        if (ec == http::error::need_buffer) continue;
        if (ec) {
          response.error = timed_out(ec) ? ApiErrc::timeout : ApiErrc::connection_lost;
          response.error_message =
              what + ": " + (timed_out(ec) ? "no data for " + std::to_string(step_timeout.count()) + " ms"
                                           : "reading the response body: " + ec.message());
          body_ok = false;
          break;
        }
      }
      if (!piece.empty()) pieces.push_back(std::move(piece));
      if (!streaming) {
        response.body.reserve(total);
        for (std::string& p : pieces) {
          response.body.append(p);
          std::string().swap(p);
        }
      }
      if (body_ok && parser.is_done() && parser.keep_alive() && !streaming) idle = std::move(connection);
      if (!body_ok) co_return response;
      // The connection is dropped here otherwise; no TLS close_notify is sent,
      // which the API server treats like any closed client connection.

      if (response.status == 401 && retry_on_401) {
        KHG_LOG(info) << "API server answered 401; refreshing credentials and retrying once"
                      << log::kv("request", what);
        continue;
      }
      response.error = error_for_status(response.status);
      if (response.error) {
        ApiStatus status = parse_status(response.body);
        std::string message = what + ": " + std::to_string(response.status) + " " +
                              std::string(http::obsolete_reason(static_cast<http::status>(response.status)));
        if (!status.message.empty()) message += ": " + status.message;
        if (response.status == 401) message += " (the server rejected " + credential_description() + ")";
        if (response.status == 403)
          message += " (the identity needs RBAC permission for this; see manifests/ for the ClusterRole)";
        response.error_message = std::move(message);
      }
      co_return response;
    }
  }
};

ApiClient::ApiClient(asio::any_io_executor executor, ClusterConfig config, ApiClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(config), options)) {}

ApiClient::~ApiClient() = default;

asio::awaitable<ApiResponse> ApiClient::get(std::string target) {
  co_return co_await impl_->perform(http::verb::get, target, {}, {}, impl_->options.request_timeout, nullptr);
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
  co_return co_await impl_->perform(verb, target, content_type, body, impl_->options.request_timeout, nullptr);
}

asio::awaitable<ApiResponse> ApiClient::get_stream(std::string target, std::chrono::milliseconds idle_timeout,
                                                   std::function<bool(std::string_view)> on_data) {
  co_return co_await impl_->perform(http::verb::get, target, {}, {}, idle_timeout, &on_data);
}

asio::awaitable<std::error_code> ApiClient::patch_node_status(std::string node_name, std::string patch_json) {
  std::string target = "/api/v1/nodes/";
  boost::urls::encode(node_name, boost::urls::pchars, {}, boost::urls::string_token::append_to(target));
  target += "/status";
  ApiResponse response =
      co_await impl_->perform(http::verb::patch, target, "application/merge-patch+json", patch_json,
                              impl_->options.request_timeout, nullptr);
  if (response.error)
    KHG_LOG(warning) << "Patching the node status failed" << log::kv("node", node_name)
                     << log::kv("error", response.error_message);
  co_return response.error;
}

const ApiStats& ApiClient::stats() const { return impl_->stats; }
const ClusterConfig& ApiClient::config() const { return impl_->config; }

}  // namespace hostgw::k8s
