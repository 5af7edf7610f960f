#include "https_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace hostgw::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

class HttpsClient::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)) {
    context_.add_certificate_authority(net::buffer(options_.ca_pem));
    context_.set_verify_mode(ssl::verify_peer);
    if (!options_.client_cert_pem.empty()) {
      context_.use_certificate_chain(net::buffer(options_.client_cert_pem));
      context_.use_private_key(net::buffer(options_.client_key_pem), ssl::context::pem);
    }
  }

  // Runs `op` on the io_context for at most `timeout`; on timeout closes the connection and throws.
  template <typename Awaitable>
  auto run(Awaitable op, std::chrono::milliseconds timeout) {
    auto future = net::co_spawn(io_, std::move(op), net::use_future);
    io_.restart();
    io_.run_for(timeout);
    if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      close();
      io_.restart();
      io_.run();
      throw std::runtime_error("https client: timed out after " + std::to_string(timeout.count()) + " ms");
    }
    return future.get();
  }

  net::awaitable<void> connect() {
    stream_.emplace(io_, context_);
    tcp::endpoint endpoint(net::ip::make_address(options_.host), options_.port);
    co_await beast::get_lowest_layer(*stream_).async_connect(endpoint, net::use_awaitable);
    SSL_set1_host(stream_->native_handle(), options_.host.c_str());
    co_await stream_->async_handshake(ssl::stream_base::client, net::use_awaitable);
  }

  http::request<http::string_body> make_request(const std::string& method, const std::string& target,
                                                const std::string& body, const std::string& content_type,
                                                const std::map<std::string, std::string>& headers) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, options_.host + ":" + std::to_string(options_.port));
    req.set(http::field::user_agent, "fake-apiserver-test/1.0");
    req.set(http::field::accept, "application/json");
    if (!options_.token.empty()) req.set(http::field::authorization, "Bearer " + options_.token);
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.set(http::field::content_type, content_type.empty() ? "application/json" : content_type);
      req.body() = body;
      req.prepare_payload();
    }
    return req;
  }

  static HttpResponse convert(const http::response<http::string_body>& res) {
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = res.body();
    return out;
  }

  HttpResponse request(const std::string& method, const std::string& target, const std::string& body,
                       const std::string& content_type, const std::map<std::string, std::string>& headers) {
    auto req = make_request(method, target, body, content_type, headers);
    return run(
        [this, req]() -> net::awaitable<HttpResponse> {
          if (!stream_ || !beast::get_lowest_layer(*stream_).socket().is_open()) co_await connect();
          co_await http::async_write(*stream_, req, net::use_awaitable);
          http::response_parser<http::string_body> parser;
          parser.body_limit(1ULL << 32);
          co_await http::async_read(*stream_, buffer_, parser, net::use_awaitable);
          auto res = parser.release();
          if (!res.keep_alive()) close();
          co_return convert(res);
        }(),
        options_.timeout);
  }

  int start_watch(const std::string& target) {
    auto req = make_request("GET", target, {}, {}, {});
    watch_parser_.emplace();
    watch_parser_->body_limit(1ULL << 32);
    consumed_ = 0;
    ended_ = clean_ = false;
    return run(
        [this, req]() -> net::awaitable<int> {
          if (!stream_ || !beast::get_lowest_layer(*stream_).socket().is_open()) co_await connect();
          co_await http::async_write(*stream_, req, net::use_awaitable);
          co_await http::async_read_header(*stream_, buffer_, *watch_parser_, net::use_awaitable);
          co_return static_cast<int>(watch_parser_->get().result_int());
        }(),
        options_.timeout);
  }

  std::optional<std::string> next_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::string& body = watch_parser_->get().body();
      auto newline = body.find('\n', consumed_);
      if (newline != std::string::npos) {
        std::string line = body.substr(consumed_, newline - consumed_);
        consumed_ = newline + 1;
        // string_body appends at the end, so the consumed front can go (keeps memory flat).
        if (consumed_ > 1024 * 1024) {
          body.erase(0, consumed_);
          consumed_ = 0;
        }
        return line;
      }
      if (ended_) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      bool progressed = false;
      try {
        progressed = run(
            [this]() -> net::awaitable<bool> {
              auto [ec, n] = co_await http::async_read_some(*stream_, buffer_, *watch_parser_,
                                                            net::as_tuple(net::use_awaitable));
              (void)n;
              if (ec) {
                ended_ = true;
                clean_ = watch_parser_->is_done();
                co_return false;
              }
              if (watch_parser_->is_done()) {
                ended_ = true;
                clean_ = true;
              }
              co_return true;
            }(),
            left);
      } catch (const std::runtime_error&) {
        // timed out: the connection was closed by run(); the stream is over for us.
        ended_ = true;
        return std::nullopt;
      }
      (void)progressed;
    }
  }

  void close() {
    if (stream_) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(*stream_).socket().close(ignored);
    }
  }

  ClientOptions options_;
  net::io_context io_;
  ssl::context context_{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> watch_parser_;
  std::size_t consumed_ = 0;
  bool ended_ = false, clean_ = false;
};

HttpsClient::HttpsClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpsClient::~HttpsClient() = default;

HttpResponse HttpsClient::request(const std::string& method, const std::string& target, const std::string& body,
                                  const std::string& content_type, const std::map<std::string, std::string>& headers) {
  return impl_->request(method, target, body, content_type, headers);
}
int HttpsClient::start_watch(const std::string& target) { return impl_->start_watch(target); }
std::optional<std::string> HttpsClient::next_line(std::chrono::milliseconds timeout) {
  return impl_->next_line(timeout);
}
bool HttpsClient::ended() const { return impl_->ended_; }
bool HttpsClient::ended_cleanly() const { return impl_->clean_; }
void HttpsClient::close() { impl_->close(); }

}  // namespace hostgw::testing
