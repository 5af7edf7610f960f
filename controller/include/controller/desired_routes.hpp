#pragma once

// desired_routes(): which routes the current node set implies, as a pure
// function. No sockets, no clock, no logging: the Reconciler feeds it the
// cluster view and the connected networks, and logs what it returns.
//
// For every other node with a podCIDR of a family and a usable address of that
// family, the route is `podCIDR via address dev <link of the connected network
// containing the address>`. A node (per family) that cannot be routed safely is
// returned in `skipped` with a reason and a sentence saying why.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "k8s-client/node_info.hpp"
#include "routing/ip.hpp"
#include "routing/overlay_table.hpp"
#include "routing/route.hpp"
#include "routing/route_adoption.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

enum class SkipReason : std::uint8_t {
  self,                        // this node: its own podCIDR is local
  no_pod_cidr,                 // spec.podCIDR(s) empty (not allocated yet)
  invalid_pod_cidr,            // does not parse
  default_route,               // 0.0.0.0/0 or ::/0
  overlaps_own_pod_cidr,       // overlaps this node's podCIDR
  overlaps_connected_network,  // overlaps a network on one of our links
  overlaps_other_node,         // overlaps another node's podCIDR (all skipped but an established holder)
  outside_cluster_cidr,        // not inside any --cluster-cidr of its family
  no_address,                  // no InternalIP (or allowed ExternalIP) of the family
  invalid_address,             // address does not parse, or is loopback/multicast/link-local/unspecified
  own_address,                 // address is one of this host's own
  unreachable_address,         // address not on a directly connected network (no layer-2 adjacency)
};

inline constexpr SkipReason kAllSkipReasons[] = {
    SkipReason::self,
    SkipReason::no_pod_cidr,
    SkipReason::invalid_pod_cidr,
    SkipReason::default_route,
    SkipReason::overlaps_own_pod_cidr,
    SkipReason::overlaps_connected_network,
    SkipReason::overlaps_other_node,
    SkipReason::outside_cluster_cidr,
    SkipReason::no_address,
    SkipReason::invalid_address,
    SkipReason::own_address,
    SkipReason::unreachable_address,
};

// snake_case name, used as the metrics label and in logs ("overlaps_other_node").
std::string_view to_string(SkipReason reason);

struct SkippedNode {
  k8s::NodeName node;
  // The family the skip applies to; nullopt when it applies to the whole node
  // (self, no_pod_cidr).
  std::optional<routing::Family> family;
  SkipReason reason = SkipReason::self;
  // One sentence naming the offending value, e.g.
  // `address 203.0.113.7 is not on a directly connected network ...`.
  std::string detail;

  friend bool operator==(const SkippedNode&, const SkippedNode&) = default;
};

// What to do with a peer whose address is not on a directly connected network.
enum class CrossSubnet : std::uint8_t {
  skip,   // skip it (SkipReason::unreachable_address), as plain host-gw does
  vxlan,  // route it through the VXLAN device hostgw.vxlan (an overlay peer; IPv4 underlay)
};

std::string_view to_string(CrossSubnet mode);

enum class AddressTypes : std::uint8_t {
  internal_only,           // InternalIP
  internal_then_external,  // InternalIP, else ExternalIP
};

struct DesiredRoutesOptions {
  // When non-empty, every podCIDR must lie inside one of these (of its family;
  // a family without a cluster CIDR here has no acceptable podCIDR).
  std::vector<routing::IpPrefix> cluster_cidrs;
  AddressTypes address_types = AddressTypes::internal_only;
  std::uint32_t table = routing::kMainTable;
  std::uint8_t protocol = routing::kDefaultRouteProtocol;
  CrossSubnet cross_subnet = CrossSubnet::skip;
  // --address-annotation: Node annotations holding the address to route via,
  // tried in order per family before address_types; the first valid one wins.
  std::vector<std::string> address_annotations;
  // --adopt-protocol: routes of these protocols in `table` inside
  // `cluster_cidrs` are taken over (routing/route_adoption.hpp).
  std::vector<std::uint8_t> adopt_protocols;
};

// The adoption rule these options ask for (disabled without adopt_protocols).
routing::RouteAdoption route_adoption(const DesiredRoutesOptions& options);

// A peer's family reached through the VXLAN device (--cross-subnet=vxlan):
// a dual-stack peer on another subnet is two, with the same underlay.
struct OverlayPeer {
  k8s::NodeName node;
  routing::IpAddress underlay;  // its IPv4 node address (the FDB destination), for either family
  routing::IpAddress vtep;      // vtep_address() of its first podCIDR of the family (IPv4 or IPv6)
  friend bool operator==(const OverlayPeer&, const OverlayPeer&) = default;
};

// This node's side of the overlay: what the device is built from.
struct OverlaySelf {
  routing::IpAddress underlay;     // this node's IPv4 InternalIP (on a connected network)
  std::uint32_t underlay_oif = 0;  // the link of that network
  std::uint32_t underlay_mtu = 0;  // its MTU
  routing::IpPrefix pod_cidr;      // this node's first IPv4 podCIDR
  // Its first IPv6 podCIDR, when it also has a usable IPv6 address (dual
  // stack): IPv6 peers ride the device only then. Without an IPv6 address its
  // peers skip it for IPv6 (no_address), so it must not route IPv6 to them
  // one way either.
  std::optional<routing::IpPrefix> pod_cidr6;
  friend bool operator==(const OverlaySelf&, const OverlaySelf&) = default;
};

// Desired IPv6 routes carry the metric the kernel stores for 0 (routing/route.hpp).
using routing::kIpv6DefaultMetric;

// How a wanted route reaches its node.
enum class RoutePath : std::uint8_t {
  direct,   // via the node's address on a connected network (host-gw)
  overlay,  // via the node's VTEP address on hostgw.vxlan, onlink; the route's
            // oif is 0 here and bound to the device's index when it exists
};

// One wanted route and the node it leads to.
struct NodeRoute {
  routing::Route route;
  k8s::NodeName node;  // shared with the view's NodeInfo
  RoutePath path = RoutePath::direct;
  friend bool operator==(const NodeRoute&, const NodeRoute&) = default;
};

// What this host is, for the per-node rules: computed once per full pass from
// the connected networks and this node's entry in the view, and kept for the
// single-node updates until the next full pass.
struct LocalFacts {
  k8s::NodeName self;  // this node's name
  std::vector<routing::ConnectedNetwork> connected;
  std::vector<routing::IpPrefix> own_cidrs;    // this node's podCIDRs (parsed, not default)
  std::set<routing::IpAddress> own_addresses;  // the connected networks' and this node's addresses
  // --cross-subnet=vxlan: this node's side of the overlay, or why it has none.
  std::optional<OverlaySelf> overlay_self;
  std::string no_overlay_reason;
  std::string no_overlay6_reason;  // why overlay_self has no pod_cidr6
};

// The address texts peers route `node` by, in the order they try them: its
// --address-annotation values, its InternalIPs, its ExternalIPs when allowed.
// Pointers into `node`.
std::vector<const std::string*> address_texts(const k8s::NodeInfo& node, const DesiredRoutesOptions& options);

// `self_node`: this node in the view (nullptr when absent).
LocalFacts local_facts(std::string_view self, const k8s::NodeInfo* self_node,
                       std::vector<routing::ConnectedNetwork> connected, const DesiredRoutesOptions& options);

// One node's share of the desired state, by the per-node rules: every rule
// but the overlap between podCIDRs of different nodes (that one needs every
// node: desired_routes() applies it; single-node updates ask a PodCidrIndex).
struct NodeDesired {
  std::vector<NodeRoute> routes;     // sorted by route key
  std::vector<SkippedNode> skipped;  // sorted by family
  std::vector<OverlayPeer> overlay_peers;  // one per family routed through the overlay
};

NodeDesired desired_for_node(const k8s::NodeInfo& node, const LocalFacts& facts, const DesiredRoutesOptions& options);

struct DesiredRoutes {
  // Sorted by (table, destination, metric), one route per key.
  std::vector<NodeRoute> routes;
  // Sorted by node name, then family.
  std::vector<SkippedNode> skipped;
  // --cross-subnet=vxlan: the peers routed through the device (sorted by
  // node name, then family; their routes are in `routes` with
  // RoutePath::overlay), and
  // this node's side when it can have a device at all (its IPv4 podCIDR and
  // InternalIP are known).
  std::vector<OverlayPeer> overlay_peers;
  std::optional<OverlaySelf> overlay_self;
};

// The routes alone, in order (for tests and callers that need no node names).
std::vector<routing::Route> routes_of(const std::vector<NodeRoute>& routes);

// With CrossSubnet::vxlan, a podCIDR whose node has no address of its family
// on a connected network but a usable one elsewhere becomes an overlay peer
// (when this node can have a device: see OverlaySelf). The underlay is IPv4:
// an IPv6 podCIDR rides the device when the node also has a usable IPv4
// address (on a connected network or not) and this node an IPv6 podCIDR;
// otherwise it is skipped as unreachable_address, the detail saying why.
//
// `nodes` is the cluster view (any order, unique names); `facts` this host
// (local_facts()); `installed` the owned routes now in the kernel. When
// podCIDRs of several nodes overlap, every node of the overlap is skipped,
// except a node whose route to that podCIDR is installed already (via one of
// its addresses) while no other node of the overlap has one: a newcomer
// cannot take an established node's route away.
DesiredRoutes desired_routes(const std::vector<const k8s::NodeInfo*>& nodes, const LocalFacts& facts,
                             const DesiredRoutesOptions& options, const std::vector<routing::Route>& installed = {});

// The same, computing the facts: `self` is this node's name (it may be absent
// from `nodes`), `connected` what RouteTable::connected_networks() returned.
DesiredRoutes desired_routes(const std::vector<const k8s::NodeInfo*>& nodes, std::string_view self,
                             const std::vector<routing::ConnectedNetwork>& connected,
                             const DesiredRoutesOptions& options, const std::vector<routing::Route>& installed = {});

}  // namespace hostgw::controller
