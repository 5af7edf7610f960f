// The production wiring of the daemon: netlink route table and change
// monitor, the API client and node watcher, signals. Everything here is thin;
// the logic lives in Daemon / Reconciler and is tested there.

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstring>

#include "common/log.hpp"
#include "controller/api_node_source.hpp"
#include "controller/capabilities.hpp"
#include "controller/daemon.hpp"
#include "controller/event_loop.hpp"
#include "k8s-client/config.hpp"
#include "k8s-client/node_watcher.hpp"
#include "kube-hostgw/version.hpp"
#include "netfilter/nft_change_monitor.hpp"
#include "netfilter/nft_masquerade_table.hpp"
#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_overlay_table.hpp"
#include "routing/netlink_route_table.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

namespace {

// A task slow to notice the cancellation is cut off this long after a signal.
constexpr auto kShutdownCutOff = std::chrono::milliseconds(900);

// Everything the loop's handlers run on. Declared after the EventLoop and
// before its PendingFirst guard: handlers go first, then these, then the loop.
struct Parts {
  std::unique_ptr<routing::NetlinkRouteTable> table;
  std::unique_ptr<routing::NetlinkChangeMonitor> monitor;
  // Also with --cross-subnet=skip: a device left by an earlier vxlan run is deleted.
  std::unique_ptr<routing::NetlinkOverlayTable> overlay;
  // Also without --masquerade: a table left by an earlier run is deleted.
  std::unique_ptr<netfilter::NftMasqueradeTable> masquerade;
  std::unique_ptr<netfilter::NftChangeMonitor> nft_monitor;
  MetricsRegistry registry;
  std::unique_ptr<ApiNodeSource> api;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<asio::signal_set> signals;
  bool nexthops_supported = false;  // probe_nexthops()
};

// --nexthop-objects: does this kernel have them? `on` without them fails the start.
bool probe_nexthops(const Options& options, Parts& parts) {
  const std::error_code probe = routing::probe_nexthop_objects();
  parts.nexthops_supported = !probe;
  if (std::string problem = nexthop_objects_problem(options.nexthop_objects, probe); !problem.empty()) {
    KHG_LOG(error) << "Cannot start" << kv("error", problem);
    return false;
  }
  if (probe && options.nexthop_objects == NexthopObjects::automatic) {
    KHG_LOG(info) << "No nexthop objects in this kernel; plain gateway routes" << kv("error", probe.message());
  }
  return true;
}

bool open_netlink(EventLoop& loop, const Options& options, Parts& parts) {
  if (!probe_nexthops(options, parts)) return false;
  try {
    parts.table = std::make_unique<routing::NetlinkRouteTable>(loop.get_executor());
    parts.overlay = std::make_unique<routing::NetlinkOverlayTable>(loop.get_executor());
    routing::NetlinkChangeMonitorOptions monitor_options;
    monitor_options.protocol = options.route_protocol;
    monitor_options.table = options.route_table;
    if (options.cross_subnet == CrossSubnet::vxlan) monitor_options.overlay_device = routing::kVxlanDeviceName;
    monitor_options.adoption = {options.adopt_protocols, options.route_table, options.cluster_cidrs};
    monitor_options.nexthops = nexthop_objects_used(options.nexthop_objects, parts.nexthops_supported);
    parts.monitor = std::make_unique<routing::NetlinkChangeMonitor>(loop.get_executor(), monitor_options);
    parts.monitor->ignore_port(parts.table->port_id());
    parts.monitor->ignore_port(parts.overlay->port_id());
  } catch (const std::exception& error) {
    KHG_LOG(error) << "Cannot open the netlink sockets" << kv("error", error.what())
                   << kv("hint", "kube-hostgw needs CAP_NET_ADMIN in the host network namespace");
    return false;
  }
  const auto* monitor = parts.monitor.get();
  parts.registry.add_collector([&registry = parts.registry, monitor] {
    const auto& counters = monitor->counters();
    mirror_kernel_monitor(registry, counters.messages, counters.relevant, counters.overruns);
  });
  return true;
}

bool open_nftables(EventLoop& loop, const Options& options, Parts& parts) {
  try {
    parts.masquerade = std::make_unique<netfilter::NftMasqueradeTable>();
  } catch (const std::exception& error) {
    if (options.masquerade) {
      KHG_LOG(error) << "Cannot use nftables" << kv("error", error.what())
                     << kv("hint", "--masquerade needs libnftables and CAP_NET_ADMIN");
      return false;
    }
    KHG_LOG(warning) << "Cannot use nftables; a masquerade table left by an earlier run stays"
                     << kv("error", error.what());
    return true;
  }
  try {
    parts.nft_monitor = std::make_unique<netfilter::NftChangeMonitor>(loop.get_executor());
  } catch (const std::exception& error) {
    // The resync still repairs the table; only the immediate repair is lost.
    KHG_LOG(warning) << "Cannot watch nftables events; hand changes to the masquerade table are repaired at the resync"
                     << kv("error", error.what());
  }
  return true;
}

bool make_daemon(EventLoop& loop, const Options& options, Parts& parts, std::unique_ptr<k8s::ApiClient> client) {
  k8s::NodeWatcherOptions watcher_options;
  watcher_options.backoff.max = options.api_backoff_max;
  watcher_options.backoff.initial = std::min(watcher_options.backoff.initial, options.api_backoff_max);
  watcher_options.limits.annotation_keys = options.address_annotations;
  parts.api = std::make_unique<ApiNodeSource>(loop.get_executor(),
                                              k8s::ConfigOptions{options.kubeconfig, options.context},
                                              parts.registry, watcher_options, std::move(client));
  try {
    DaemonParts daemon_parts{parts.table.get(),   parts.monitor.get(),    parts.api.get(),        parts.api.get(),
                             parts.overlay.get(), parts.masquerade.get(), parts.nft_monitor.get()};
    daemon_parts.nexthops_supported = parts.nexthops_supported;
    parts.daemon = std::make_unique<Daemon>(loop.get_executor(), options, daemon_parts, parts.registry);
  } catch (const std::exception& error) {
    KHG_LOG(error) << "Cannot start" << kv("error", error.what());
    return false;
  }
  return true;
}


// The image's binary carries NET_ADMIN as a permitted-only file capability
// (controller/capabilities.hpp): made effective before the first netlink change.
void raise_capability(const Options& options) {
  NetAdminResult net_admin = raise_net_admin();
  if (net_admin.state == NetAdminState::raised) {
    KHG_LOG(info) << "CAP_NET_ADMIN raised from the permitted set" << kv("uid", getuid());
  } else if (net_admin.state != NetAdminState::effective && !options.dry_run) {
    KHG_LOG(warning) << "CAP_NET_ADMIN is not effective; route changes will fail"
                     << kv("state", to_string(net_admin.state)) << kv("detail", net_admin.message);
  }
}

// glibc's allocator, set for a long-lived daemon whose big allocations (LIST
// pages, the first node list) are transient: one arena (the event loop is the
// only thread that allocates much; the resolver's helper thread would
// otherwise get its own 64 MiB-reserved arena), and fixed mmap/trim
// thresholds, because the default ones grow after the first big free and then
// keep later page buffers on the heap, where freeing them returns nothing.
void tune_allocator() {
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
}

}  // namespace

int run_kube_hostgw(const Options& options) {
  tune_allocator();
  log::set_verbosity(options.verbosity);
  KHG_LOG(info) << "Starting kube-hostgw" << kv("version", kVersion) << kv("node", options.node_name)
                << kv("pid", getpid());
  raise_capability(options);
  EventLoop loop;
  Parts parts;
  // Whatever path leaves this function: pending handlers (a request cut off
  // mid-way) are destroyed while `parts` still exist.
  EventLoop::PendingFirst pending_first(loop);
  // The API server configuration first, before any netlink socket is opened: one
  // that can never work (a missing, unreadable or invalid kubeconfig, none at all
  // outside a pod) ends the process here, having touched nothing.
  std::optional<std::unique_ptr<k8s::ApiClient>> client =
      make_api_client_at_start(loop.get_executor(), k8s::ConfigOptions{options.kubeconfig, options.context});
  if (!client) return 1;
  if (!open_netlink(loop, options, parts) || !open_nftables(loop, options, parts) ||
      !make_daemon(loop, options, parts, std::move(*client)))
    return 1;

  std::optional<EventLoop::Clock::time_point> stop_requested;
  parts.signals = std::make_unique<asio::signal_set>(loop, SIGINT, SIGTERM);
  parts.signals->async_wait([&](const boost::system::error_code& error, int signal) {
    if (error) return;
    KHG_LOG(info) << "Shutting down; routes stay in place" << kv("signal", sigabbrev_np(signal));
    stop_requested = EventLoop::Clock::now();
    parts.daemon->stop();
  });

  parts.daemon->start();
  // Runs until every task has ended after a signal; a task slow to notice the
  // cancellation is cut off (nothing it holds must be cleaned up: routes stay,
  // the kernel closes sockets).
  if (loop.run_until_done([&] { return stop_requested; }, kShutdownCutOff) == EventLoop::Ended::cut_off)
    KHG_LOG(warning) << "Some tasks did not end in time; exiting anyway";
  parts.daemon->stop();  // idempotent: every task's cancellation is emitted before the loop's handlers go
  parts.signals->cancel();
  KHG_LOG(info) << "Stopped";
  return 0;
}

}  // namespace hostgw::controller
