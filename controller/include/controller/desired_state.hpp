#pragma once

// The desired-state model: what every target should hold, computed by pure
// functions from the cluster view and this host's facts, and DesiredModel,
// the same kept between full passes and updated one node at a time with the
// same per-node code (desired_for_node()).
//
// A new target adds its part to DesiredState (and, for incremental steps,
// what NodeUpdate must tell it); see controller/README.md.
//
// Pure: no sockets, no clock, no logging.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/cluster_view.hpp"
#include "controller/desired_overlay.hpp"
#include "controller/desired_routes.hpp"
#include "controller/pod_cidr_index.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

// What a full pass reads from the kernel before it decides: the connected
// networks (which link reaches a node) and the owned routes now installed
// (a node holding a podCIDR keeps it against newcomers).
struct KernelFacts {
  std::vector<routing::ConnectedNetwork> connected;
  std::vector<routing::Route> owned_routes;
};

struct DesiredStateOptions {
  DesiredRoutesOptions routes;
  // --cross-subnet=vxlan: the device's VNI and UDP port.
  std::uint32_t vxlan_vni = kDefaultVxlanVni;
  std::uint16_t vxlan_port = kDefaultVxlanPort;
};

// Every target's share. Next: the masquerade set elements, the CNI conflist,
// this node's own-podCIDR unreachable routes.
struct DesiredState {
  LocalFacts facts;
  DesiredRoutes routes;    // the routes target (and the nodes skipped)
  DesiredOverlay overlay;  // the overlay target: device, neighbour and FDB entries
};

DesiredState desired_state(const ClusterView& view, const std::string& self, const KernelFacts& kernel,
                           const DesiredStateOptions& options);

// One node's change, as the per-node code sees it: its share before (from the
// model) and after. Targets restrict the per-key diff to the keys of these.
struct NodeUpdate {
  std::string node;
  std::vector<NodeRoute> routes_before;
  std::vector<NodeRoute> routes_after;
};

// The desired state of the last clean full pass, kept up to date node by node.
// update_node() answers nullopt whenever the case is not simple and certain
// (this node itself, a node skipped before or now, an overlap with another
// node's podCIDR, a peer through the overlay before or now); the caller then
// runs a full pass, which resets the model.
class DesiredModel {
 public:
  void reset(const DesiredState& desired, const DesiredStateOptions& options);
  void invalidate() { valid_ = false; }
  bool valid() const { return valid_; }

  // Node `name` changed (`node`: its new state, nullptr when deleted; `index`
  // already holds its current podCIDRs): its new share, recorded in the model.
  std::optional<NodeUpdate> update_node(const std::string& name, const k8s::NodeInfo* node, const PodCidrIndex& index);

  // The wanted routes by key.
  const std::map<routing::RouteKey, NodeRoute>& routes() const { return routes_; }
  const LocalFacts& facts() const { return facts_; }

 private:
  bool valid_ = false;
  LocalFacts facts_;
  DesiredStateOptions options_;
  std::map<routing::RouteKey, NodeRoute> routes_;
  std::map<std::string, std::vector<routing::RouteKey>> node_keys_;  // node -> keys of its routes
  std::set<std::string> skipped_;                                    // nodes the last full pass skipped
};

}  // namespace hostgw::controller
