#pragma once

// HealthServer: a tiny plain-HTTP/1.1 server on the daemon's io_context for
// /healthz (the loop is alive and not stuck), /readyz (the first full sync is
// applied) and /metrics (Prometheus text). Every read and write has a
// deadline. Beast stays inside health_server.cpp.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "controller/options.hpp"

namespace hostgw::controller {

struct HealthHandlers {
  // nullopt when healthy, else why not (answered with 500).
  std::function<std::optional<std::string>()> unhealthy;
  // true once ready (else 503).
  std::function<bool()> ready;
  // The /metrics body.
  std::function<std::string()> metrics;
};

class HealthServer {
 public:
  // Binds and listens at once. Throws std::system_error whose what() names
  // the address ("listen on 0.0.0.0:2401: Address already in use").
  HealthServer(boost::asio::any_io_executor executor, const BindAddress& bind, HealthHandlers handlers);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;

  // The bound port (useful with port 0).
  std::uint16_t port() const;

  // Accepts and serves connections until stop().
  boost::asio::awaitable<void> run();
  // Stops accepting and closes open connections.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace hostgw::controller
