#pragma once

// A minimal HTTP/1.1 GET for tests, as a coroutine on the test's io_context.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>

namespace hostgw::testing {

struct HttpResult {
  int status = 0;
  std::string headers;
  std::string body;
};

inline boost::asio::awaitable<HttpResult> http_get(std::uint16_t port, std::string target, std::string method = "GET") {
  namespace asio = boost::asio;
  auto executor = co_await asio::this_coro::executor;
  asio::ip::tcp::socket socket(executor);
  co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
  std::string response;
  char chunk[4096];
  while (true) {
    auto [error, n] = co_await socket.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    response.append(chunk, n);
    if (error) break;
  }
  HttpResult result;
  if (response.size() > 12) result.status = std::stoi(response.substr(9, 3));
  auto split = response.find("\r\n\r\n");
  if (split != std::string::npos) {
    result.headers = response.substr(0, split);
    result.body = response.substr(split + 4);
  }
  co_return result;
}

}  // namespace hostgw::testing
