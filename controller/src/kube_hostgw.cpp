// The production wiring of the daemon: netlink route table and change
// monitor, the API client and node watcher, signals. Everything here is thin;
// the logic lives in Daemon / Reconciler and is tested there.

#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstring>

#include "common/log.hpp"
#include "controller/api_node_source.hpp"
#include "controller/capabilities.hpp"
#include "controller/daemon.hpp"
#include "k8s-client/api_client.hpp"
#include "k8s-client/backoff.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_watcher.hpp"
#include "kube-hostgw/version.hpp"
#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_overlay_table.hpp"
#include "routing/netlink_route_table.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

int run_kube_hostgw(const Options& options) {
  log::set_verbosity(options.verbosity);
  KHG_LOG(info) << "Starting kube-hostgw" << kv("version", kVersion) << kv("node", options.node_name)
                << kv("pid", getpid());
  // The image's binary carries NET_ADMIN as a permitted-only file capability
  // (controller/capabilities.hpp): make it effective before the first netlink change.
  NetAdminResult net_admin = raise_net_admin();
  if (net_admin.state == NetAdminState::raised) {
    KHG_LOG(info) << "CAP_NET_ADMIN raised from the permitted set" << kv("uid", getuid());
  } else if (net_admin.state != NetAdminState::effective && !options.dry_run) {
    KHG_LOG(warning) << "CAP_NET_ADMIN is not effective; route changes will fail"
                     << kv("state", to_string(net_admin.state)) << kv("detail", net_admin.message);
  }
  asio::io_context io(1);

  // The API server configuration first, before any netlink socket is opened: one
  // that can never work (a missing, unreadable or invalid kubeconfig, none at all
  // outside a pod) ends the process here, having touched nothing.
  const k8s::ConfigOptions config_options{options.kubeconfig, options.context};
  std::optional<std::unique_ptr<k8s::ApiClient>> client = make_api_client_at_start(io.get_executor(), config_options);
  if (!client) return 1;

  std::unique_ptr<routing::NetlinkRouteTable> table;
  std::unique_ptr<routing::NetlinkChangeMonitor> monitor;
  // Also with --cross-subnet=skip: a device left by an earlier vxlan run is deleted.
  std::unique_ptr<routing::NetlinkOverlayTable> overlay;
  try {
    table = std::make_unique<routing::NetlinkRouteTable>(io.get_executor());
    overlay = std::make_unique<routing::NetlinkOverlayTable>(io.get_executor());
    routing::NetlinkChangeMonitorOptions monitor_options;
    monitor_options.protocol = options.route_protocol;
    monitor_options.table = options.route_table;
    if (options.cross_subnet == CrossSubnet::vxlan) monitor_options.overlay_device = routing::kVxlanDeviceName;
    monitor = std::make_unique<routing::NetlinkChangeMonitor>(io.get_executor(), monitor_options);
    monitor->ignore_port(table->port_id());
    monitor->ignore_port(overlay->port_id());
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
  k8s::NodeWatcherOptions watcher_options;
  watcher_options.backoff.max = options.api_backoff_max;
  watcher_options.backoff.initial = std::min(watcher_options.backoff.initial, options.api_backoff_max);
  ApiNodeSource api(io.get_executor(), config_options, registry, watcher_options, std::move(*client));

  std::unique_ptr<Daemon> daemon;
  try {
    daemon = std::make_unique<Daemon>(io.get_executor(), options, DaemonParts{table.get(), monitor.get(), &api, &api, overlay.get()},
                                      registry);
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
