#pragma once

// Daemon: wires the reconciler to its collaborators and runs them on one
// io_context: the node source (list+watch), the kernel change monitor, the
// periodic resync, the health/metrics server, subnet.env and the node's
// NetworkUnavailable condition. Collaborators come in by interface so tests
// run the whole daemon in-process with a FakeRouteTable and a fake node source.
// stop() ends everything promptly and leaves routes in place.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "controller/forwarding_check.hpp"
#include "controller/health_server.hpp"
#include "controller/masquerade_target.hpp"
#include "controller/metrics.hpp"
#include "controller/options.hpp"
#include "controller/reconciler.hpp"
#include "k8s-client/node_info.hpp"
#include "netfilter/nft_change_monitor.hpp"
#include "routing/overlay_table.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

// The Node list+watch (k8s::NodeWatcher in production).
class NodeSource {
 public:
  virtual ~NodeSource() = default;
  // Delivers events to `sink` until cancelled; retries on its own.
  virtual boost::asio::awaitable<void> run(std::function<void(const k8s::NodeEvent&)> sink) = 0;
};

// Writes this node's status (ApiNodeSource::patch_node_status in production: a strategic
// merge patch of nodes/status, so the kubelet's other conditions stay).
class NodeStatusWriter {
 public:
  virtual ~NodeStatusWriter() = default;
  // A strategic merge patch of /api/v1/nodes/NAME/status.
  virtual boost::asio::awaitable<std::error_code> patch_node_status(std::string node_name, std::string patch_json) = 0;
};

struct DaemonParts {
  routing::RouteTable* route_table = nullptr;        // required
  routing::ChangeMonitor* change_monitor = nullptr;  // optional
  NodeSource* nodes = nullptr;                       // required
  NodeStatusWriter* status_writer = nullptr;         // required for --set-node-network-available
  routing::OverlayTable* overlay_table = nullptr;    // optional: without it --cross-subnet=vxlan acts as skip
  netfilter::MasqueradeTable* masquerade = nullptr;  // optional: without it no masquerade target
  // optional: someone else's changes to our nftables table ask for a full pass
  netfilter::NftChangeMonitor* nft_monitor = nullptr;
  // Where the forwarding sysctls are read (tests: a folder of their own).
  std::string sysctl_net_root = "/proc/sys/net";
  // The route table has nexthop objects (probed at start): --nexthop-objects=auto
  // uses them, and off cleans ours up.
  bool nexthops_supported = false;
};

// The NetworkUnavailable=False patch, with `now` as RFC 3339 time.
std::string network_available_patch(std::string_view now_rfc3339);
// "2026-11-27T01:02:03Z"
std::string rfc3339_now();

class Daemon {
 public:
  // Throws std::system_error if the health server cannot listen, and
  // std::invalid_argument if a required part is missing.
  Daemon(boost::asio::any_io_executor executor, const Options& options, DaemonParts parts, MetricsRegistry& registry);
  ~Daemon();

  // Starts every task; returns at once. Call stop() to end them.
  void start();
  // Ends every task promptly; routes stay in place. Idempotent.
  void stop();

  bool ready() const { return reconciler_.ready(); }
  const Reconciler& reconciler() const { return reconciler_; }
  Reconciler& reconciler() { return reconciler_; }
  // The health server's port (0 if disabled).
  std::uint16_t health_port() const { return health_ ? health_->port() : 0; }
  bool network_available_patched() const { return network_available_patched_; }
  std::size_t subnet_file_writes() const { return subnet_file_writes_; }

 private:
  void on_pass(const PassReport& report);
  void write_subnet_file(const PassReport& report);
  void check_forwarding(const PassReport& report);
  boost::asio::awaitable<void> patch_network_available();
  boost::asio::awaitable<void> watch_nftables();
  void spawn(boost::asio::awaitable<void> task, const char* name);

  boost::asio::any_io_executor executor_;
  Options options_;
  DaemonParts parts_;
  std::unique_ptr<routing::RouteTable> dry_run_table_;
  std::unique_ptr<routing::OverlayTable> dry_run_overlay_;
  std::unique_ptr<netfilter::MasqueradeTable> dry_run_masquerade_;
  ControllerMetrics metrics_;
  Reconciler reconciler_;
  std::unique_ptr<HealthServer> health_;
  std::vector<std::unique_ptr<boost::asio::cancellation_signal>> cancels_;
  bool started_ = false;
  bool stopped_ = false;
  bool network_available_patched_ = false;
  bool network_patch_started_ = false;
  // When free heap pages were last given back (on_pass); empty before the first sync.
  std::optional<std::chrono::steady_clock::time_point> last_trim_;
  std::size_t subnet_file_writes_ = 0;
  std::string subnet_state_;  // last logged subnet.env problem or content
  ForwardingCheck forwarding_;
};

// Production: builds the netlink route table and change monitor, the API
// client and node watcher, runs until SIGTERM/SIGINT. Returns the exit code.
int run_kube_hostgw(const Options& options);

}  // namespace hostgw::controller
