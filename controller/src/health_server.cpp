#include "controller/health_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>
#include <system_error>

#include "common/log.hpp"
#include "controller/metrics.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxRequestBytes = 16 * 1024;
}  // namespace

struct HealthServer::Impl : std::enable_shared_from_this<HealthServer::Impl> {
  Impl(asio::any_io_executor executor, HealthHandlers handlers) : acceptor(executor), handlers(std::move(handlers)) {}

  tcp::acceptor acceptor;
  HealthHandlers handlers;
  std::list<beast::tcp_stream*> sessions;
  bool stopped = false;

  http::response<http::string_body> respond(const http::request<http::string_body>& request) {
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    response.set(http::field::server, "kube-hostgw");
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    response.set(http::field::cache_control, "no-store");
    std::string_view target = request.target();
    target = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET, HEAD");
      response.body() = "method not allowed\n";
    } else if (target == "/healthz" || target == "/livez") {
      auto problem = handlers.unhealthy ? handlers.unhealthy() : std::nullopt;
      response.result(problem ? http::status::internal_server_error : http::status::ok);
      response.body() = problem ? "unhealthy: " + *problem + "\n" : "ok\n";
    } else if (target == "/readyz") {
      bool ready = handlers.ready && handlers.ready();
      response.result(ready ? http::status::ok : http::status::service_unavailable);
      response.body() = ready ? "ok\n" : "not ready: the first sync of routes has not completed\n";
    } else if (target == "/metrics") {
      response.result(http::status::ok);
      response.set(http::field::content_type, MetricsRegistry::kContentType);
      response.body() = handlers.metrics ? handlers.metrics() : std::string();
    } else {
      response.result(http::status::not_found);
      response.body() = "not found; try /healthz, /readyz or /metrics\n";
    }
    response.prepare_payload();
    if (request.method() == http::verb::head) response.body().clear();
    return response;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    auto registered = sessions.insert(sessions.end(), &stream);
    beast::flat_buffer buffer;
    while (!stopped) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxRequestBytes);
      parser.header_limit(kMaxRequestBytes);
      stream.expires_after(kRequestTimeout);
      auto [read_error, read_bytes] =
          co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (read_error) {
        // end_of_stream / timeout / a closed socket: the client is gone, nothing to answer.
        if (read_error != http::error::end_of_stream && read_error != beast::error::timeout &&
            read_error != asio::error::operation_aborted && read_error != asio::error::connection_reset) {
          KHG_VLOG(1) << "Health request refused" << log::kv("error", read_error.message());
          http::response<http::string_body> bad{http::status::bad_request, 11};
          bad.set(http::field::content_type, "text/plain; charset=utf-8");
          bad.body() = "bad request: " + read_error.message() + "\n";
          bad.keep_alive(false);
          bad.prepare_payload();
          stream.expires_after(kRequestTimeout);
          co_await http::async_write(stream, bad, asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      auto response = respond(parser.get());
      stream.expires_after(kRequestTimeout);
      auto [write_error, written] = co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
      if (write_error || !response.keep_alive()) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);  // the peer may be gone already
    sessions.erase(registered);
  }
};

HealthServer::HealthServer(asio::any_io_executor executor, const BindAddress& bind, HealthHandlers handlers)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(handlers))) {
  asio::ip::address address = bind.address.is_v4()
                                  ? asio::ip::address(asio::ip::make_address_v4(bind.address.to_string()))
                                  : asio::ip::address(asio::ip::make_address_v6(bind.address.to_string()));
  tcp::endpoint endpoint(address, bind.port);
  beast::error_code error;
  auto check = [&](const char* step) {
    if (error) throw std::system_error(error, std::string(step) + " " + bind.to_string() + " for /healthz");
  };
  impl_->acceptor.open(endpoint.protocol(), error);
  check("open");
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true), error);
  check("set SO_REUSEADDR on");
  impl_->acceptor.bind(endpoint, error);
  check("bind");
  impl_->acceptor.listen(asio::socket_base::max_listen_connections, error);
  check("listen on");
}

HealthServer::~HealthServer() {
  stop();
}

std::uint16_t HealthServer::port() const {
  beast::error_code error;
  auto endpoint = impl_->acceptor.local_endpoint(error);
  return error ? 0 : endpoint.port();
}

asio::awaitable<void> HealthServer::run() {
  auto impl = impl_;
  while (!impl->stopped) {
    auto [error, socket] = co_await impl->acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (impl->stopped) break;
    if (error) {
      if (error == asio::error::operation_aborted) break;
      // EMFILE and the like: log, breathe, continue.
      KHG_LOG(warning) << "Health server accept failed" << log::kv("error", error.message());
      asio::steady_timer pause(impl->acceptor.get_executor(), std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(impl->acceptor.get_executor(), impl->session(std::move(socket)), asio::detached);
  }
}

void HealthServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  beast::error_code ignored;
  impl_->acceptor.close(ignored);  // ends run()
  for (auto* stream : impl_->sessions) stream->socket().close(ignored);
}

}  // namespace hostgw::controller
