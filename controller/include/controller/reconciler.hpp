#pragma once

// Reconciler: says when the Engine runs. Owns the ClusterView (and the
// PodCidrIndex that follows it); borrows a RouteTable (and an OverlayTable).
//
// Triggers (watch events, kernel change notices, the periodic resync, retry
// deadlines) only mark work as pending; the run() loop does one full pass for
// any number of triggers that arrived while it was pending or running. An
// isolated single-node change or owned-route deletion is an incremental step
// of the Engine instead (no dump, only that node's keys) whenever the Engine
// can plan it; everything else falls back to a full pass. Passes start at
// most every min_pass_interval; a refused change or an unreadable kernel is
// retried at the deadline the Engine reports. It never runs a pass (and so
// never deletes) before the first complete node list has arrived, and it
// never touches the kernel on shutdown.
//
// One io_context, one thread: every method must be called from it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/cluster_view.hpp"
#include "controller/engine.hpp"
#include "controller/metrics.hpp"
#include "controller/pod_cidr_index.hpp"
#include "k8s-client/node_info.hpp"
#include "routing/overlay_table.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

struct ReconcilerOptions {
  std::string node_name;
  DesiredRoutesOptions routes;
  // A full pass at least this often, even without any trigger.
  std::chrono::milliseconds resync_period{60000};
  // Triggered full passes start at most this often: a burst of triggers (a
  // relist, kernel changes) right after a pass waits for the rest of the
  // interval and is handled by one pass. An isolated trigger starts at once.
  std::chrono::milliseconds min_pass_interval{200};
  // Incremental steps (a node's change, our routes' kernel events: no dump)
  // run at once, up to this many per min_pass_interval. More is a burst (a
  // flood of node changes, another agent fighting over our routes): the rest
  // waits for one full pass at the end of the interval.
  unsigned steps_per_interval = 10;
  // Backoff of a refused route change (and of a pass that could not read the
  // kernel's state): initial, doubling per failure, capped.
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  // --cross-subnet=vxlan (routes.cross_subnet): the device's VNI and UDP port.
  std::uint32_t vxlan_vni = kDefaultVxlanVni;
  std::uint16_t vxlan_port = kDefaultVxlanPort;
  // The pod network: own-podCIDR routes, masquerade, the CNI conflist's content.
  PodNetworkOptions pod_network;
  std::string cni_conf_dir;  // empty: no CNI target
  bool dry_run = false;      // the CNI target never writes
  // --nexthop-objects resolved at start (EngineOptions).
  bool nexthops_supported = false;
  bool use_nexthops = false;
};

// What a completed pass saw, for the daemon (subnet.env, node condition).
struct PassReport {
  bool first_sync = false;              // the first pass after the first complete node list
  const k8s::NodeInfo* self = nullptr;  // this node in the view, if present
  const std::vector<routing::ConnectedNetwork>* connected = nullptr;
  std::size_t changes_ok = 0;
  std::size_t changes_failed = 0;
};

class Reconciler {
 public:
  using Clock = std::chrono::steady_clock;

  // `overlay` (optional) is the VXLAN device's table: without it no device is
  // managed and options.routes.cross_subnet is treated as skip. `masquerade`
  // (optional): nftables, for the masquerade target.
  Reconciler(boost::asio::any_io_executor executor, routing::RouteTable& table, ReconcilerOptions options,
             ControllerMetrics& metrics, routing::OverlayTable* overlay = nullptr,
             netfilter::MasqueradeTable* masquerade = nullptr);

  // Feeds a watch event into the view; requests a pass only if it can change
  // a route (a heartbeat costs nothing).
  void on_node_event(const k8s::NodeEvent& event);
  // Feeds a kernel change notice; requests a pass if it is relevant.
  void on_kernel_change(const routing::ChangeNotice& notice);
  // Marks a pass as pending (coalesced). `source` labels the trigger metric.
  void request_pass(std::string_view source);

  // The pass loop; returns after stop().
  boost::asio::awaitable<void> run();
  // Forwards the monitor's notices to on_kernel_change() until cancelled or stopped.
  boost::asio::awaitable<void> watch_kernel(routing::ChangeMonitor& monitor);
  // Ends run() after the current pass (if any). Routes stay as they are.
  void stop();

  // Called after every completed pass.
  void set_pass_observer(std::function<void(const PassReport&)> observer) { observer_ = std::move(observer); }

  bool ready() const { return ready_; }
  // Full passes run so far.
  std::size_t passes() const { return passes_; }
  // Incremental steps run so far (each one apply batch, no dump).
  std::size_t incremental_steps() const { return incremental_steps_; }
  // Since when the current pass runs, if one does (for /healthz).
  std::optional<Clock::time_point> pass_started() const { return pass_started_; }
  const ClusterView& view() const { return view_; }
  // Changes waiting for a retry after the kernel refused them.
  std::size_t backlog() const { return engine_.backlog(); }

 private:
  boost::asio::awaitable<void> pass();
  // Plans and applies the queued work; falls back to a full pass (pending_) when it cannot.
  boost::asio::awaitable<void> incremental_step();
  void want_full_pass();
  // Queues node `name` (or owned-route events) for an incremental step.
  void request_node_step(const std::string& name);
  void request_route_step(const std::vector<routing::OwnedRouteEvent>& events);
  bool step_wanted() const { return !dirty_nodes_.empty() || !route_events_.empty(); }
  void pass_failed(const Engine::PassResult& result);
  // kube_hostgw_node_event_apply_seconds, for a step or pass that changed something.
  // True (and counted) if a step may start now, within the step budget.
  bool take_step(Clock::time_point now);
  void observe_event_apply(std::optional<Clock::time_point> arrival, bool changed);
  void pass_done(const Engine::PassResult& result, Clock::time_point started);

  boost::asio::steady_timer wake_;
  const ReconcilerOptions options_;
  ControllerMetrics& metrics_;
  ClusterView view_;
  PodCidrIndex pod_cidrs_;
  Engine engine_;
  std::function<void(const PassReport&)> observer_;

  bool pending_ = false;
  bool stopped_ = false;
  bool ready_ = false;
  std::size_t passes_ = 0;
  std::size_t incremental_steps_ = 0;
  std::optional<Clock::time_point> pass_started_;
  Clock::time_point next_resync_{};
  std::optional<Clock::time_point> last_pass_start_;
  // The step budget's window (steps_per_interval per min_pass_interval), and
  // the end of the window a burst waits for.
  Clock::time_point step_window_start_{};
  unsigned steps_in_window_ = 0;
  std::optional<Clock::time_point> burst_until_;
  std::optional<Clock::time_point> next_retry_;
  unsigned pass_failures_in_row_ = 0;
  std::set<std::string> dirty_nodes_;
  // The earliest arrival (NodeEvent::received) of the node events the next
  // step or pass applies: kube_hostgw_node_event_apply_seconds is measured
  // from there to the end of the step or pass that changed something.
  std::optional<Clock::time_point> first_event_arrival_;
  std::vector<routing::OwnedRouteEvent> route_events_;
};

}  // namespace hostgw::controller
