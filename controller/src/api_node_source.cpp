#include "controller/api_node_source.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log.hpp"
#include "k8s-client/api_client.hpp"
#include "k8s-client/backoff.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

std::unique_ptr<k8s::ApiClient> make_api_client(asio::any_io_executor executor, const k8s::ConfigOptions& config) {
  k8s::ClusterConfig cluster = k8s::load_cluster_config(config);
  KHG_LOG(info) << "API server configuration" << kv("config", cluster.describe());
  return std::make_unique<k8s::ApiClient>(std::move(executor), std::move(cluster));
}

std::optional<std::unique_ptr<k8s::ApiClient>> make_api_client_at_start(asio::any_io_executor executor,
                                                                         const k8s::ConfigOptions& config) {
  const char* const kExiting = "Cannot load the API server configuration; exiting";
  try {
    return make_api_client(std::move(executor), config);
  } catch (const k8s::ConfigError& error) {
    // run() logs the error and the retry delay on its first attempt.
    if (error.may_heal()) return nullptr;
    KHG_LOG(error) << kExiting << kv("error", error.what())
                   << kv("hint", error.hint().empty() ? std::string("fix the configuration it names, or pass a "
                                                                    "working kubeconfig with --kubeconfig")
                                                      : error.hint());
  } catch (const std::exception& error) {
    KHG_LOG(error) << kExiting << kv("error", error.what());
  }
  return std::nullopt;
}

ApiNodeSource::ApiNodeSource(asio::any_io_executor executor, k8s::ConfigOptions config, MetricsRegistry& registry,
                             k8s::NodeWatcherOptions watcher_options, std::unique_ptr<k8s::ApiClient> client)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      watcher_options_(std::move(watcher_options)),
      client_(std::move(client)) {
  registry.add_collector([this, &registry] { collect(registry); });
}

ApiNodeSource::~ApiNodeSource() = default;

asio::awaitable<void> ApiNodeSource::run(std::function<void(const k8s::NodeEvent&)> sink) {
  k8s::Backoff backoff(
      {std::chrono::milliseconds(1000), std::chrono::milliseconds(30000), std::chrono::milliseconds(120000)});
  while (!client_) {
    std::optional<std::chrono::milliseconds> retry_in;
    try {
      client_ = make_api_client(executor_, config_);
    } catch (const std::exception& error) {
      retry_in = backoff.next_delay(k8s::Backoff::Clock::now());
      KHG_LOG(error) << "Cannot load the API server configuration" << kv("error", error.what())
                     << kv("retry_in_ms", retry_in->count());
    }
    if (retry_in) {
      asio::steady_timer timer(executor_, *retry_in);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }
  watcher_ = std::make_unique<k8s::NodeWatcher>(*client_, watcher_options_, std::move(sink));
  co_await watcher_->run();
}

asio::awaitable<std::error_code> ApiNodeSource::patch_node_status(std::string node_name, std::string patch_json) {
  if (!client_) co_return std::make_error_code(std::errc::not_connected);
  // Node names are DNS subdomains; anything else would need escaping and cannot be a real node.
  bool plain = !node_name.empty() && std::all_of(node_name.begin(), node_name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
  if (!plain) co_return std::make_error_code(std::errc::invalid_argument);
  // A strategic merge patch merges status.conditions by type (like flannel's);
  // a JSON merge patch would replace the kubelet's conditions with this one.
  k8s::ApiResponse response =
      co_await client_->request("PATCH", "/api/v1/nodes/" + node_name + "/status",
                                "application/strategic-merge-patch+json", std::move(patch_json));
  if (response.error) {
    KHG_LOG(warning) << "Patching the node status failed" << kv("node", node_name)
                     << kv("error", response.error_message);
  }
  co_return response.error;
}

void ApiNodeSource::collect(MetricsRegistry& registry) {
  if (client_) mirror_api_stats(registry, client_->stats());
  if (watcher_) mirror_watch_stats(registry, watcher_->stats());
}

}  // namespace hostgw::controller
