#pragma once

// Engine: decide, diff, program. A full pass reads the kernel facts (connected
// networks, owned routes), computes the desired state (desired_state.hpp) and
// hands every target to the Applier; an incremental step recomputes the
// changed nodes' share with the same per-node code and hands the targets'
// per-key diffs over those keys only. Keeps the DesiredModel of the last
// clean pass between passes, and logs the decisions a user asks "why?"
// about (a node skipped, this node's podCIDR). Never schedules: the
// Reconciler says when to run a pass or a step.
//
// Targets, in dependency order: the overlay (a carrier: the device and its
// entries), then the routes (this node's own-podCIDR unreachable routes among
// them), the masquerade table (with a netfilter::MasqueradeTable) and the CNI conflist
// (with --cni-conf-dir). A new target is one line in the constructor;
// controller/README.md says what else it needs.
//
// One io_context, one thread: every method must be called from it.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "controller/applier.hpp"
#include "controller/cluster_view.hpp"
#include "controller/cni_target.hpp"
#include "controller/desired_state.hpp"
#include "controller/masquerade_target.hpp"
#include "controller/nexthop_target.hpp"
#include "controller/overlay_target.hpp"
#include "controller/pod_cidr_index.hpp"
#include "controller/route_target.hpp"
#include "routing/overlay_table.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

struct EngineOptions {
  std::string node_name;
  DesiredStateOptions desired;
  RetryOptions retry;
  // --cni-conf-dir: the folder of the CNI target (empty: no CNI target).
  std::string cni_conf_dir;
  bool dry_run = false;  // the CNI target reads but never writes
  // --nexthop-objects as resolved at start: the kernel has nexthop objects
  // (a NexthopTarget reads and cleans ours), and routes go through them.
  bool nexthops_supported = false;
  bool use_nexthops = false;
};

class Engine {
 public:
  // `overlay` (optional) is the VXLAN device's table: without it no device is
  // managed and --cross-subnet=vxlan acts as skip. `masquerade` (optional):
  // nftables; without it there is no masquerade target (whatever
  // options.desired.pod_network.masquerade says).
  Engine(routing::RouteTable& table, routing::OverlayTable* overlay, const EngineOptions& options,
         ControllerMetrics& metrics, netfilter::MasqueradeTable* masquerade = nullptr);

  struct PassResult {
    // Set when the kernel facts could not be read: nothing was changed.
    // `error` is the dump's: its errno and a message naming the dump
    // ("dump of IPv4 routes of table 254 proto 44: Connection timed out").
    std::string failed_step;
    common::Error error;
    Applier::Outcome outcome;
    std::vector<routing::ConnectedNetwork> connected;
    std::size_t routes = 0;   // wanted routes
    std::size_t skipped = 0;  // (node, family) pairs skipped
  };
  boost::asio::awaitable<PassResult> full_pass(const ClusterView& view);

  struct StepResult {
    // Set when the step could not be planned (nothing was changed) or a
    // change failed: a full pass must follow.
    std::string fallback;
    bool planned = false;  // planned (and applied, if it had changes)
    bool changed = false;  // had changes to apply
  };
  // Nodes `nodes` changed (their current state in `view`, their podCIDRs in
  // `index`), and/or someone else deleted owned routes (`events`).
  boost::asio::awaitable<StepResult> step(const ClusterView& view, const PodCidrIndex& index,
                                          const std::set<std::string>& nodes,
                                          const std::vector<routing::OwnedRouteEvent>& events);

  // Whether a step can be planned at all (a clean full pass to build on).
  bool can_step() const { return model_.valid() && applier_.backlog() == 0 && routes_.model_valid(); }
  // Drops the model: the next step falls back to a full pass.
  void invalidate();
  std::size_t backlog() const { return applier_.backlog(); }

 private:
  std::optional<std::vector<Delta>> plan_step(const ClusterView& view, const PodCidrIndex& index,
                                              const std::set<std::string>& nodes,
                                              const std::vector<routing::OwnedRouteEvent>& events,
                                              std::string& fallback);
  void note_self(const k8s::NodeInfo* self);
  void log_skips(const std::vector<SkippedNode>& skipped, const ClusterView& view);

  struct SkipState {
    SkipReason reason;
    std::string detail;
  };

  routing::RouteTable& table_;
  EngineOptions options_;
  ControllerMetrics& metrics_;
  std::unique_ptr<OverlayTarget> overlay_;
  std::unique_ptr<NexthopTarget> nexthops_;
  RouteTarget routes_;
  std::unique_ptr<MasqueradeTarget> masquerade_;
  std::unique_ptr<CniTarget> cni_;
  std::vector<Target*> targets_;  // dependency order
  std::size_t routes_index_ = 0;  // of routes_ in targets_
  Applier applier_;
  DesiredModel model_;
  std::map<std::pair<std::string, int>, SkipState> skips_;  // (node, family or 0) -> state
  std::string self_state_;                                  // last logged state of this node
};

}  // namespace hostgw::controller
