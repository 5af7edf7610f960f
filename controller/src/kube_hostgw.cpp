// The production wiring of the daemon: netlink route table and change
// monitor, the API client and node watcher, signals. Everything here is thin;
// the logic lives in Daemon / Reconciler and is tested there.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstring>

#include "controller/daemon.hpp"
#include "k8s-client/api_client.hpp"
#include "k8s-client/backoff.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/log.hpp"
#include "k8s-client/node_watcher.hpp"
#include "kube-hostgw/version.hpp"
#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_route_table.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

namespace {

// The API side: loads the cluster configuration (retrying while it is not
// usable), then runs a NodeWatcher; also patches this node's status.
class ApiNodeSource final : public NodeSource, public NodeStatusWriter {
 public:
  ApiNodeSource(asio::any_io_executor executor, k8s::ConfigOptions config, MetricsRegistry& registry)
      : executor_(std::move(executor)), config_(std::move(config)) {
    registry.add_collector([this, &registry] { collect(registry); });
  }

  asio::awaitable<void> run(std::function<void(const k8s::NodeEvent&)> sink) override {
    k8s::Backoff backoff({std::chrono::milliseconds(1000), std::chrono::milliseconds(30000),
                          std::chrono::milliseconds(120000)});
    while (!client_) {
      std::optional<std::chrono::milliseconds> retry_in;
      try {
        k8s::ClusterConfig config = k8s::load_cluster_config(config_);
        KHG_LOG(info) << "API server configuration" << kv("config", config.describe());
        client_ = std::make_unique<k8s::ApiClient>(executor_, std::move(config));
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
    watcher_ = std::make_unique<k8s::NodeWatcher>(*client_, k8s::NodeWatcherOptions{}, std::move(sink));
    co_await watcher_->run();
  }

  asio::awaitable<std::error_code> patch_node_status(std::string node_name, std::string patch_json) override {
    if (!client_) co_return std::make_error_code(std::errc::not_connected);
    co_return co_await client_->patch_node_status(std::move(node_name), std::move(patch_json));
  }

 private:
  void collect(MetricsRegistry& registry) {
    if (client_) {
      const k8s::ApiStats& stats = client_->stats();
      for (const auto& [code, count] : stats.requests_by_code) {
        registry
            .counter("kube_hostgw_api_requests_total", "Requests to the API server, by HTTP status (0: no response).",
                     {{"code", std::to_string(code)}})
            .set_total(static_cast<double>(count));
      }
      std::vector<double> bounds(k8s::ApiStats::kLatencyBuckets.begin(), k8s::ApiStats::kLatencyBuckets.end());
      registry
          .histogram("kube_hostgw_api_request_duration_seconds",
                     "API server request latency, from sending the request to the response header.", bounds)
          .assign(std::vector<std::uint64_t>(stats.latency_buckets.begin(), stats.latency_buckets.end()),
                  stats.latency_count, stats.latency_sum_seconds);
    }
    if (watcher_) {
      const k8s::WatchStats& stats = watcher_->stats();
      auto mirror = [&](const char* name, const char* help, std::uint64_t value) {
        registry.counter(name, help).set_total(static_cast<double>(value));
      };
      mirror("kube_hostgw_node_lists_total", "Complete LISTs of the nodes.", stats.lists);
      mirror("kube_hostgw_node_relists_total", "LISTs after the first one (watch expired with 410, or errors).",
             stats.relists);
      mirror("kube_hostgw_watch_restarts_total", "WATCH requests after the first one.", stats.watch_restarts);
      mirror("kube_hostgw_watch_events_total", "ADDED/MODIFIED/DELETED node events received.", stats.events);
      mirror("kube_hostgw_watch_bookmarks_total", "BOOKMARK events received.", stats.bookmarks);
      mirror("kube_hostgw_watch_errors_total", "Failed LIST pages, WATCH requests and broken streams.", stats.errors);
      mirror("kube_hostgw_malformed_nodes_total", "Node objects skipped because they could not be parsed.",
             stats.malformed_objects);
    }
  }

  asio::any_io_executor executor_;
  k8s::ConfigOptions config_;
  std::unique_ptr<k8s::ApiClient> client_;
  std::unique_ptr<k8s::NodeWatcher> watcher_;
};

}  // namespace

int run_kube_hostgw(const Options& options) {
  log::set_verbosity(options.verbosity);
  asio::io_context io(1);

  std::unique_ptr<routing::NetlinkRouteTable> table;
  std::unique_ptr<routing::NetlinkChangeMonitor> monitor;
  try {
    table = std::make_unique<routing::NetlinkRouteTable>(io.get_executor());
    routing::NetlinkChangeMonitorOptions monitor_options;
    monitor_options.protocol = options.route_protocol;
    monitor_options.table = options.route_table;
    monitor = std::make_unique<routing::NetlinkChangeMonitor>(io.get_executor(), monitor_options);
    monitor->ignore_port(table->port_id());
  } catch (const std::exception& error) {
    KHG_LOG(error) << "Cannot open the netlink sockets" << kv("error", error.what())
                   << kv("hint", "kube-hostgw needs CAP_NET_ADMIN in the host network namespace");
    return 1;
  }

  MetricsRegistry registry;
  registry.add_collector([&registry, &monitor] {
    const auto& counters = monitor->counters();
    registry.counter("kube_hostgw_kernel_events_total", "Netlink route/link/address events read.")
        .set_total(static_cast<double>(counters.messages));
    registry.counter("kube_hostgw_kernel_relevant_events_total", "Kernel events that asked for a reconcile pass.")
        .set_total(static_cast<double>(counters.relevant));
    registry.counter("kube_hostgw_netlink_overruns_total", "Kernel events lost (ENOBUFS); each forces a full pass.")
        .set_total(static_cast<double>(counters.overruns));
  });
  ApiNodeSource api(io.get_executor(), k8s::ConfigOptions{options.kubeconfig, options.context}, registry);

  std::unique_ptr<Daemon> daemon;
  try {
    daemon = std::make_unique<Daemon>(io.get_executor(), options,
                                      DaemonParts{table.get(), monitor.get(), &api, &api}, registry);
  } catch (const std::exception& error) {
    KHG_LOG(error) << "Cannot start" << kv("error", error.what());
    return 1;
  }

  bool stopping = false;
  auto stop_requested_at = std::chrono::steady_clock::now();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    KHG_LOG(info) << "Shutting down; routes stay in place" << kv("signal", sigabbrev_np(signal));
    stopping = true;
    stop_requested_at = std::chrono::steady_clock::now();
    daemon->stop();
  });

  KHG_LOG(info) << "kube-hostgw " << kv("version", kVersion);
  daemon->start();
  // Runs until every task has ended after a signal; a task slow to notice the
  // cancellation is cut off after 900 ms (nothing it holds must be cleaned up:
  // routes stay, the kernel closes sockets).
  while (!io.stopped()) {
    io.run_for(std::chrono::milliseconds(100));
    if (stopping && std::chrono::steady_clock::now() - stop_requested_at > std::chrono::milliseconds(900)) {
      KHG_LOG(warning) << "Some tasks did not end in time; exiting anyway";
      break;
    }
  }
  signals.cancel();
  KHG_LOG(info) << "Stopped";
  return 0;
}

}  // namespace hostgw::controller
