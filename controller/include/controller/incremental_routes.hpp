#pragma once

// The Reconciler's incremental path: one node's change, or an owned route
// someone else deleted, turned into a few route changes without dumping the
// kernel's table or recomputing every node's routes.
//
// IncrementalRoutes keeps what the last clean full pass knew — the connected
// networks, the owned routes in the kernel (its dump plus every change
// applied since) and the wanted routes with their nodes — and plans changes
// against that model. It answers nullopt whenever the case is not simple and
// certain (this node itself, a skipped node, an overlap with another node's
// podCIDR, an owned route added by someone else, several routes under one
// key); the Reconciler then runs a full pass, which resets the model. Any
// failed change invalidates the model too.
//
// PodCidrIndex answers "does this podCIDR overlap another node's?" in
// O(prefix length · log n) instead of a scan of every node.
//
// Pure: no sockets, no clock, no logging.

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/cluster_view.hpp"
#include "controller/desired_routes.hpp"
#include "k8s-client/node_info.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

// Every node's parsed podCIDRs (texts that do not parse are left out: such a
// node is skipped by desired_routes() anyway).
class PodCidrIndex {
 public:
  // Replaces the node's entries by its current podCIDRs.
  void set(const std::string& node, const std::vector<std::string>& pod_cidrs);
  void erase(const std::string& node);
  void rebuild(const ClusterView& view);

  // True if `cidr` overlaps (contains, equals or lies inside) a podCIDR of a
  // node other than `node`.
  bool overlaps_other(const routing::IpPrefix& cidr, const std::string& node) const;

  std::size_t size() const { return by_prefix_.size(); }

 private:
  std::map<routing::IpPrefix, std::set<std::string>> by_prefix_;
  std::map<std::string, std::vector<routing::IpPrefix>> by_node_;
};

// A planned change and the node it belongs to (for the log).
struct PlannedChange {
  routing::RouteChange change;
  std::string node;
};

class IncrementalRoutes {
 public:
  // After a full pass whose every change succeeded: the connected networks
  // and the dump it read, what it wanted, and the changes it applied.
  void reset(std::vector<routing::ConnectedNetwork> connected, const std::vector<routing::Route>& dump,
             const DesiredRoutes& desired, const std::vector<routing::RouteChange>& applied);
  // Forget the model: the next incremental case falls back to a full pass.
  void invalidate() { valid_ = false; }
  bool valid() const { return valid_; }

  // The changes that make the kernel follow node `name`'s current state
  // (`node`, nullptr when deleted), or nullopt: full pass needed. `view`
  // is the cluster view (for this host's podCIDRs and addresses), `index`
  // already holds the node's current podCIDRs. On success the model assumes
  // the changes will succeed.
  std::optional<std::vector<PlannedChange>> plan_node(const std::string& name, const k8s::NodeInfo* node,
                                                      const ClusterView& view, const std::string& self,
                                                      const DesiredRoutesOptions& options,
                                                      const PodCidrIndex& index);

  // The changes that undo these owned-route events (someone else deleted an
  // owned route), or nullopt: full pass needed (an owned route was added or
  // replaced by someone else).
  std::optional<std::vector<PlannedChange>> plan_route_events(const std::vector<routing::OwnedRouteEvent>& events);

  std::size_t wanted_routes() const { return wanted_.size(); }
  std::size_t installed_routes() const { return installed_count_; }

 private:
  struct Wanted {
    routing::Route route;
    std::string node;
  };
  // Plans what makes `key` hold exactly its wanted route (or nothing), as
  // diff() would, and updates the model as if it succeeded.
  void plan_key(const routing::RouteKey& key, std::vector<PlannedChange>& out);

  bool valid_ = false;
  std::vector<routing::ConnectedNetwork> connected_;
  std::map<routing::RouteKey, std::vector<routing::Route>> installed_;
  std::size_t installed_count_ = 0;  // routes in installed_ (kept for the per-step metric)
  std::map<routing::RouteKey, Wanted> wanted_;
  std::map<std::string, std::vector<routing::RouteKey>> node_keys_;  // node -> keys of its wanted routes
  std::set<std::string> skipped_;                                    // nodes the last full pass skipped
};

}  // namespace hostgw::controller
