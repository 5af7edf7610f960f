#pragma once

// ApiNodeSource: the daemon's NodeSource and NodeStatusWriter over the real
// API client. Given a client (made at start-up with make_api_client), run()
// uses it; else run() loads the cluster configuration, retrying with backoff
// while it is not usable (inside a pod: the service account files not mounted
// yet). Then it runs a k8s::NodeWatcher until cancelled. Mirrors the client's
// and watcher's stats into the metrics registry at every scrape.

#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <optional>

#include "controller/daemon.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_watcher.hpp"

namespace hostgw::controller {

// Loads the cluster configuration, logs where it came from and builds the API
// client (which checks the TLS material). Throws k8s::ConfigError (may_heal()
// says whether retrying can help) or another std::exception.
std::unique_ptr<k8s::ApiClient> make_api_client(boost::asio::any_io_executor executor,
                                                const k8s::ConfigOptions& config);

// make_api_client at start-up, before anything is touched: the client; or
// nullptr when the configuration is not usable yet but may heal (inside a pod;
// ApiNodeSource::run retries it); or nullopt when it can never work, after
// logging the error with a hint: the caller exits with status 1.
std::optional<std::unique_ptr<k8s::ApiClient>> make_api_client_at_start(boost::asio::any_io_executor executor,
                                                                         const k8s::ConfigOptions& config);

class ApiNodeSource final : public NodeSource, public NodeStatusWriter {
 public:
  ApiNodeSource(boost::asio::any_io_executor executor, k8s::ConfigOptions config, MetricsRegistry& registry,
                k8s::NodeWatcherOptions watcher_options = {}, std::unique_ptr<k8s::ApiClient> client = nullptr);
  ~ApiNodeSource() override;

  boost::asio::awaitable<void> run(std::function<void(const k8s::NodeEvent&)> sink) override;
  // std::errc::not_connected until the configuration has been loaded.
  boost::asio::awaitable<std::error_code> patch_node_status(std::string node_name, std::string patch_json) override;

 private:
  void collect(MetricsRegistry& registry);

  boost::asio::any_io_executor executor_;
  k8s::ConfigOptions config_;
  k8s::NodeWatcherOptions watcher_options_;
  std::unique_ptr<k8s::ApiClient> client_;
  std::unique_ptr<k8s::NodeWatcher> watcher_;
};

}  // namespace hostgw::controller
