#pragma once

// desired_overlay(): what the VXLAN device hostgw.vxlan and its entries must
// look like for the overlay peers desired_routes() found
// (--cross-subnet=vxlan), and overlay_diff(): the changes from what the
// kernel holds to that. Pure: the Reconciler does the I/O.
//
// Per overlay peer P (IPv4 node address U, VTEP address V = vtep_address(its
// podCIDR), per family: a dual-stack peer has an IPv4 and an IPv6 V):
//   neighbour  V -> vtep_mac(U)         (the inner destination MAC of V)
//   fdb        vtep_mac(U) -> dst U      (where that MAC lives on the underlay;
//                                        one per peer, whatever its families)
// The device: VNI and UDP port from the flags, local = this node's IPv4
// InternalIP, underlay = that address's link, MTU = link MTU - 50, MAC =
// vtep_mac(local), address = vtep_address(own IPv4 podCIDR)/32 and, dual
// stack, address6 = vtep_address(own IPv6 podCIDR)/128.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/desired_routes.hpp"
#include "routing/overlay_table.hpp"

namespace hostgw::controller {

// --vxlan-vni / --vxlan-port defaults. Chosen not to collide with another
// overlay left on the node: flannel's vxlan backend uses VNI 1 on UDP 8472
// (flannel.1), Calico VNI 4096 (IPv6: 4097) on UDP 4789, Cilium UDP 8472. We
// use the IANA VXLAN port 4789 (what firewalls expect) with a VNI none of
// them uses by default; the kernel lets devices share a port with distinct
// VNIs.
inline constexpr std::uint32_t kDefaultVxlanVni = 4244;
inline constexpr std::uint16_t kDefaultVxlanPort = 4789;

struct DesiredOverlay {
  // nullopt: no device is wanted (no overlay peer, or this node cannot have one).
  std::optional<routing::VxlanDeviceSpec> device;
  std::vector<routing::NeighbourEntry> neighbours;  // sorted, one per VTEP address (IPv4 and IPv6)
  std::vector<routing::FdbEntry> fdb;               // sorted, one per MAC

  friend bool operator==(const DesiredOverlay&, const DesiredOverlay&) = default;
};

// A device is wanted when `self` is known and `peers` is not empty. Peers
// whose address yields no VTEP MAC (not IPv4) are left out; of two peers with
// the same VTEP address, or two nodes with the same MAC (duplicate node
// addresses), the first wins; a node's two families share its MAC.
DesiredOverlay desired_overlay(const std::optional<OverlaySelf>& self, const std::vector<OverlayPeer>& peers,
                               std::uint32_t vni, std::uint16_t port);

struct OverlayDiff {
  // Entries to create or overwrite (ChangeKind::add for a missing entry,
  // ChangeKind::replace for one whose MAC/destination differs): applied before
  // the routes that need them.
  std::vector<routing::OverlayChange> upserts;
  // Entries nobody wants any more: removed after the routes through them.
  std::vector<routing::OverlayChange> removals;

  bool empty() const { return upserts.empty() && removals.empty(); }
};

// Neighbours are compared by address and FDB entries by MAC, as the kernel
// keys them: a different value is a replace, never a remove plus an add
// (removing the old value would delete the new one).
OverlayDiff overlay_diff(const DesiredOverlay& desired, const routing::OverlayDump& actual);

// For logs: "neighbour 10.244.4.0 lladdr 0e:68:cb:00:71:0e", "fdb 0e:68:cb:00:71:0e dst 203.0.113.14".
std::string to_string(const routing::OverlayEntry& entry);

}  // namespace hostgw::controller
