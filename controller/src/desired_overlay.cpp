#include "controller/desired_overlay.hpp"

#include <algorithm>
#include <map>
#include <variant>

namespace hostgw::controller {

using routing::ChangeKind;
using routing::FdbEntry;
using routing::IpAddress;
using routing::MacAddress;
using routing::NeighbourEntry;

DesiredOverlay desired_overlay(const std::optional<OverlaySelf>& self, const std::vector<OverlayPeer>& peers,
                               std::uint32_t vni, std::uint16_t port) {
  DesiredOverlay out;
  if (!self || peers.empty()) return out;
  std::map<IpAddress, MacAddress> neighbours;
  std::map<MacAddress, IpAddress> fdb;
  for (const auto& peer : peers) {
    auto mac = routing::vtep_mac(peer.underlay);
    if (!mac) continue;
    if (neighbours.contains(peer.vtep) || fdb.contains(*mac)) continue;
    neighbours.emplace(peer.vtep, *mac);
    fdb.emplace(*mac, peer.underlay);
  }
  if (neighbours.empty()) return out;

  routing::VxlanDeviceSpec device;
  device.vni = vni;
  device.port = port;
  device.local = self->underlay;
  device.underlay_oif = self->underlay_oif;
  device.mtu = self->underlay_mtu > routing::kVxlanOverheadV4 ? self->underlay_mtu - routing::kVxlanOverheadV4 : 0;
  device.mac = routing::vtep_mac(self->underlay).value_or(MacAddress{});
  device.address = routing::IpPrefix(routing::vtep_address(self->pod_cidr), 32);
  out.device = std::move(device);
  for (const auto& [address, mac] : neighbours) out.neighbours.push_back({address, mac});
  for (const auto& [mac, destination] : fdb) out.fdb.push_back({mac, destination});
  return out;
}

OverlayDiff overlay_diff(const DesiredOverlay& desired, const routing::OverlayDump& actual) {
  OverlayDiff out;
  std::map<IpAddress, MacAddress> have_neighbours;
  for (const auto& entry : actual.neighbours) have_neighbours.emplace(entry.address, entry.mac);
  std::map<MacAddress, IpAddress> have_fdb;
  for (const auto& entry : actual.fdb) have_fdb.emplace(entry.mac, entry.destination);

  std::map<IpAddress, MacAddress> want_neighbours;
  for (const auto& entry : desired.neighbours) want_neighbours.emplace(entry.address, entry.mac);
  std::map<MacAddress, IpAddress> want_fdb;
  for (const auto& entry : desired.fdb) want_fdb.emplace(entry.mac, entry.destination);

  for (const auto& entry : desired.neighbours) {
    auto it = have_neighbours.find(entry.address);
    if (it == have_neighbours.end()) {
      out.upserts.push_back({ChangeKind::add, entry});
    } else if (it->second != entry.mac) {
      out.upserts.push_back({ChangeKind::replace, entry});
    }
  }
  for (const auto& entry : desired.fdb) {
    auto it = have_fdb.find(entry.mac);
    if (it == have_fdb.end()) {
      out.upserts.push_back({ChangeKind::add, entry});
    } else if (it->second != entry.destination) {
      out.upserts.push_back({ChangeKind::replace, entry});
    }
  }
  for (const auto& entry : actual.neighbours)
    if (!want_neighbours.contains(entry.address)) out.removals.push_back({ChangeKind::remove, entry});
  for (const auto& entry : actual.fdb)
    if (!want_fdb.contains(entry.mac)) out.removals.push_back({ChangeKind::remove, entry});
  return out;
}

std::string to_string(const routing::OverlayEntry& entry) {
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&entry))
    return "neighbour " + neighbour->address.to_string() + " lladdr " + neighbour->mac.to_string();
  const auto& fdb = std::get<FdbEntry>(entry);
  return "fdb " + fdb.mac.to_string() + " dst " + fdb.destination.to_string();
}

}  // namespace hostgw::controller
