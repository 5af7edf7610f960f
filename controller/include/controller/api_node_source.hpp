#pragma once

// ApiNodeSource: the daemon's NodeSource and NodeStatusWriter over the real
// API client. run() loads the cluster configuration (retrying with backoff
// while it is not usable: no service account yet, unreadable kubeconfig), then
// runs a k8s::NodeWatcher until cancelled. Mirrors the client's and watcher's
// stats into the metrics registry at every scrape.

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "controller/daemon.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_watcher.hpp"

namespace hostgw::controller {

class ApiNodeSource final : public NodeSource, public NodeStatusWriter {
 public:
  ApiNodeSource(boost::asio::any_io_executor executor, k8s::ConfigOptions config, MetricsRegistry& registry,
                k8s::NodeWatcherOptions watcher_options = {});
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
