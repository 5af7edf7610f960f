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
#include <string>
#include <string_view>
#include <vector>

#include "k8s-client/node_info.hpp"
#include "routing/ip.hpp"
#include "routing/overlay_table.hpp"
#include "routing/route.hpp"
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
  std::string node;
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
  vxlan,  // IPv4: route it through the VXLAN device hostgw.vxlan (an overlay peer)
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
  // The ifindex of hostgw.vxlan when it exists (0: not yet); the overlay
  // routes name it. The Reconciler fixes it up after ensuring the device.
  std::uint32_t overlay_oif = 0;
};

// A peer reached through the VXLAN device (--cross-subnet=vxlan).
struct OverlayPeer {
  std::string node;
  routing::IpAddress underlay;  // its node address (the FDB destination)
  routing::IpAddress vtep;      // vtep_address() of its first IPv4 podCIDR
  friend bool operator==(const OverlayPeer&, const OverlayPeer&) = default;
};

// This node's side of the overlay: what the device is built from.
struct OverlaySelf {
  routing::IpAddress underlay;    // this node's IPv4 InternalIP (on a connected network)
  std::uint32_t underlay_oif = 0;  // the link of that network
  std::uint32_t underlay_mtu = 0;  // its MTU
  routing::IpPrefix pod_cidr;     // this node's first IPv4 podCIDR
  friend bool operator==(const OverlaySelf&, const OverlaySelf&) = default;
};

// The kernel stores IPv6 routes added with metric 0 as metric 1024
// (IP6_RT_PRIO_USER); desired IPv6 routes carry it so that they compare equal
// to what a dump returns.
inline constexpr std::uint32_t kIpv6DefaultMetric = 1024;

struct DesiredRoutes {
  // Sorted by (table, destination, metric), one route per key.
  std::vector<routing::Route> routes;
  // The node each route leads to, parallel to `routes`.
  std::vector<std::string> route_nodes;
  // Sorted by node name, then family.
  std::vector<SkippedNode> skipped;
  // --cross-subnet=vxlan: the peers routed through the device (sorted by
  // node name; their routes are in `routes`, onlink via the peer's VTEP
  // address, oif = options.overlay_oif), and this node's side when it can
  // have a device at all (its IPv4 podCIDR and InternalIP are known).
  std::vector<OverlayPeer> overlay_peers;
  std::optional<OverlaySelf> overlay_self;
};

// With CrossSubnet::vxlan, an IPv4 podCIDR whose node has no address on a
// connected network but a usable IPv4 one elsewhere becomes an overlay peer
// (when this node can have a device: see OverlaySelf); IPv6 stays skipped as
// unreachable_address, with a detail saying VXLAN carries IPv4 only.
//
// `nodes` is the cluster view (any order, unique names); `self` this node's
// name (it may be absent from `nodes`); `connected` what
// RouteTable::connected_networks() returned; `installed` the owned routes
// now in the kernel. When podCIDRs of several nodes overlap, every node of
// the overlap is skipped, except a node whose route to that podCIDR is
// installed already (via one of its addresses) while no other node of the
// overlap has one: a newcomer cannot take an established node's route away.
DesiredRoutes desired_routes(const std::vector<const k8s::NodeInfo*>& nodes, std::string_view self,
                             const std::vector<routing::ConnectedNetwork>& connected,
                             const DesiredRoutesOptions& options, const std::vector<routing::Route>& installed = {});

}  // namespace hostgw::controller
