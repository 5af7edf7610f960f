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
#include <string_view>
#include <vector>

#include "controller/cluster_view.hpp"
#include "controller/desired_overlay.hpp"
#include "controller/desired_routes.hpp"
#include "controller/pod_cidr_index.hpp"
#include "netfilter/masquerade_rules.hpp"
#include "routing/nexthop.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

// What a full pass reads from the kernel before it decides: the connected
// networks (which link reaches a node) and the owned routes now installed
// (a node holding a podCIDR keeps it against newcomers).
struct KernelFacts {
  std::vector<routing::ConnectedNetwork> connected;
  std::vector<routing::Route> owned_routes;
  // --adopt-protocol: the routes of other protocols to take over
  // (routing::RouteAdoption::adoptable), handled by the routes target like owned ones.
  // (An initializer, so that brace-initialised KernelFacts need not name it.)
  std::vector<routing::Route> adoptable_routes = {};
  // With nexthop objects: ours (a route naming one goes via its gateway for
  // the holder rule), and every id in use (anyone's, sorted).
  std::vector<routing::Nexthop> owned_nexthops = {};
  std::vector<std::uint32_t> nexthop_ids_used = {};
};

// The pod network's options (besides the routes to other nodes).
struct PodNetworkOptions {
  // An unreachable route (our protocol, kOwnPodCidrMetric) per podCIDR of this
  // node, among the routes (--no-own-pod-cidr-route turns it off).
  bool own_pod_cidr_routes = false;
  // --masquerade: our nftables table with these sets; off: the table must go.
  bool masquerade = false;
  std::vector<routing::IpPrefix> no_masquerade_cidrs;  // --no-masquerade-cidr
  // --cni-conf-dir given: the conflist's content is computed.
  bool cni = false;
  std::optional<std::uint32_t> mtu;  // --mtu
  std::string cni_ipam_data_dir;     // --cni-ipam-data-dir; empty: host-local's default
};

struct DesiredStateOptions {
  DesiredRoutesOptions routes;
  // --cross-subnet=vxlan: the device's VNI and UDP port.
  std::uint32_t vxlan_vni = kDefaultVxlanVni;
  std::uint16_t vxlan_port = kDefaultVxlanPort;
  PodNetworkOptions pod_network;
};

// Every target's share.
struct DesiredState {
  LocalFacts facts;
  // The routes target (and the nodes skipped); with own_pod_cidr_routes also
  // this node's unreachable routes (node: this node).
  DesiredRoutes routes;
  DesiredOverlay overlay;  // the overlay target: device, neighbour and FDB entries
  // The masquerade target: the sets of our table; nullopt: no table (off).
  std::optional<netfilter::MasqueradeSets> masquerade;
  // With masquerade: every node's addresses in the node-address sets.
  std::map<k8s::NodeName, std::vector<routing::IpAddress>, std::less<>> node_addresses;
  // The CNI target: the conflist's text; nullopt: leave the file as it is
  // (no --cni-conf-dir, or this node has no podCIDR yet).
  std::optional<std::string> cni_conflist;
  std::uint32_t pod_mtu = 0;  // the MTU in the conflist (0: none rendered)
};

// The addresses of `node` that the masquerade exempts as destinations: the
// values of its --address-annotation keys (the addresses peers may route it
// by, e.g. flannel's public-ip), its InternalIPs, and its ExternalIPs when
// the options route via them too. Values that are no address are left out
// (desired_routes reports them).
std::vector<routing::IpAddress> masquerade_node_addresses(const k8s::NodeInfo& node,
                                                          const DesiredRoutesOptions& options);

// `routes` with each route through one of `nexthops` given that nexthop's
// gateway and link (what the holder rule compares).
std::vector<routing::Route> via_nexthop_gateways(std::vector<routing::Route> routes,
                                                 const std::vector<routing::Nexthop>& nexthops);

DesiredState desired_state(const ClusterView& view, const std::string& self, const KernelFacts& kernel,
                           const DesiredStateOptions& options);

// One node's change, as the per-node code sees it: its share before (from the
// model) and after. Targets restrict the per-key diff to the keys of these.
struct NodeUpdate {
  k8s::NodeName node;
  std::vector<NodeRoute> routes_before;
  std::vector<NodeRoute> routes_after;
  // Its addresses in the masquerade's node-address set, before and after.
  std::vector<routing::IpAddress> addresses_before;
  std::vector<routing::IpAddress> addresses_after;
};

// The desired state of the last clean full pass, kept up to date node by node.
// update_node() answers nullopt whenever the case is not simple and certain
// (this node itself, a node skipped before or now, an overlap with another
// node's podCIDR, a peer through the overlay before or now); the caller then
// runs a full pass, which resets the model.
class DesiredModel {
 public:
  void reset(const DesiredState& desired, const DesiredStateOptions& options);
  // Drops the model, memory and all: a full pass calls it before it computes
  // the next one, so the two are never held at once (~1.5 MB at 5000 nodes).
  void invalidate() { *this = DesiredModel(); }
  bool valid() const { return valid_; }

  // Node `name` changed (`node`: its new state, nullptr when deleted; `index`
  // already holds its current podCIDRs): its new share, recorded in the model.
  std::optional<NodeUpdate> update_node(std::string_view name, const k8s::NodeInfo* node, const PodCidrIndex& index);

  // The wanted routes by key.
  const std::map<routing::RouteKey, NodeRoute>& routes() const { return routes_; }
  const LocalFacts& facts() const { return facts_; }
  // The masquerade sets the model's node set asks for (nullopt: off), by the
  // same rules as desired_state(): O(nodes) to build.
  std::optional<netfilter::MasqueradeSets> masquerade() const;
  bool masquerade_on() const { return options_.pod_network.masquerade; }
  // Whether the masquerade's pod set is every node's podCIDR (no
  // --cluster-cidr), so that it changes with the nodes; else it is
  // --cluster-cidr and only the node-address sets follow the nodes.
  bool masquerade_pods_follow_nodes() const { return options_.routes.cluster_cidrs.empty(); }
  // How many nodes have `address` among their exempt addresses.
  unsigned nodes_with_address(const routing::IpAddress& address) const;

 private:
  bool valid_ = false;
  LocalFacts facts_;
  DesiredStateOptions options_;
  std::map<routing::RouteKey, NodeRoute> routes_;
  std::map<k8s::NodeName, std::vector<routing::RouteKey>, std::less<>> node_keys_;  // node -> keys of its routes
  std::set<k8s::NodeName, std::less<>> skipped_;                                    // nodes the last full pass skipped
  std::map<k8s::NodeName, std::vector<routing::IpAddress>, std::less<>>
      node_addresses_;                                    // node -> its exempt addresses
  std::map<routing::IpAddress, unsigned> address_count_;  // address -> nodes having it
};

}  // namespace hostgw::controller
