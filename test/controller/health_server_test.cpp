#include "controller/health_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "http_get.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;

class HealthServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HealthHandlers handlers;
    handlers.unhealthy = [this]() -> std::optional<std::string> { return problem_; };
    handlers.ready = [this] { return ready_; };
    handlers.metrics = [] { return std::string("kube_hostgw_nodes 3\n"); };
    server_ = std::make_unique<HealthServer>(io_.get_executor(), BindAddress{routing::IpAddress::parse("127.0.0.1"), 0},
                                             std::move(handlers));
    asio::co_spawn(io_, server_->run(), asio::detached);
  }

  testing::HttpResult get(std::string target, std::string method = "GET") {
    auto future =
        asio::co_spawn(io_, testing::http_get(server_->port(), std::move(target), std::move(method)), asio::use_future);
    io_.restart();
    while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
      io_.run_one_for(std::chrono::milliseconds(10));
    return future.get();
  }

  asio::io_context io_;
  std::unique_ptr<HealthServer> server_;
  std::optional<std::string> problem_;
  bool ready_ = false;
};

TEST_F(HealthServerTest, HealthzReadyzMetrics) {
  ASSERT_NE(server_->port(), 0);
  auto healthz = get("/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok\n");

  auto readyz = get("/readyz");
  EXPECT_EQ(readyz.status, 503);
  EXPECT_NE(readyz.body.find("not ready"), std::string::npos);
  ready_ = true;
  EXPECT_EQ(get("/readyz").status, 200);

  auto metrics = get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body, "kube_hostgw_nodes 3\n");
  EXPECT_NE(metrics.headers.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos)
      << metrics.headers;
}

TEST_F(HealthServerTest, UnhealthySaysWhy) {
  problem_ = "stuck";
  auto healthz = get("/healthz");
  EXPECT_EQ(healthz.status, 500);
  EXPECT_EQ(healthz.body, "unhealthy: stuck\n");
}

TEST_F(HealthServerTest, UnknownPathsAndMethods) {
  EXPECT_EQ(get("/nope").status, 404);
  auto post = get("/healthz", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_NE(post.headers.find("Allow: GET, HEAD"), std::string::npos);
  auto head = get("/metrics", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(get("/healthz?verbose=1").status, 200);
}

TEST_F(HealthServerTest, GarbageGets400) {
  auto future = asio::co_spawn(
      io_,
      [port = server_->port()]() -> asio::awaitable<std::string> {
        auto executor = co_await asio::this_coro::executor;
        asio::ip::tcp::socket socket(executor);
        co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
        std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
        co_await asio::async_write(socket, asio::buffer(garbage), asio::use_awaitable);
        std::string response;
        char chunk[1024];
        while (true) {
          auto [error, n] = co_await socket.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
          response.append(chunk, n);
          if (error) break;
        }
        co_return response;
      },
      asio::use_future);
  io_.restart();
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
    io_.run_one_for(std::chrono::milliseconds(10));
  EXPECT_EQ(future.get().substr(0, 12), "HTTP/1.1 400");
}

TEST_F(HealthServerTest, BindFailureNamesTheAddress) {
  try {
    HealthServer second(io_.get_executor(), BindAddress{routing::IpAddress::parse("127.0.0.1"), server_->port()}, {});
    FAIL() << "second bind succeeded";
  } catch (const std::system_error& error) {
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
        << error.what();
  }
}

TEST_F(HealthServerTest, StopEndsTheServer) {
  server_->stop();
  io_.restart();
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(io_.stopped());  // nothing left to run: the accept loop ended
}

}  // namespace
}  // namespace hostgw::controller
