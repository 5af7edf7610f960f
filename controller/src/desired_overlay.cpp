#include "controller/desired_overlay.hpp"

#include <algorithm>
#include <map>
#include <variant>

#include "controller/key_diff.hpp"

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
  std::map<MacAddress, const OverlayPeer*> fdb;  // the peer that has the MAC
  for (const auto& peer : peers) {
    auto mac = routing::vtep_mac(peer.underlay);
    if (!mac) continue;
    if (neighbours.contains(peer.vtep)) continue;
    // A dual-stack peer's second family shares its MAC and FDB entry; another
    // node with the MAC has the same address (a duplicate): the first wins.
    if (auto it = fdb.find(*mac); it != fdb.end() && it->second->node != peer.node) continue;
    neighbours.emplace(peer.vtep, *mac);
    fdb.emplace(*mac, &peer);
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
  if (self->pod_cidr6) device.address6 = routing::IpPrefix(routing::vtep_address(*self->pod_cidr6), 128);
  out.device = std::move(device);
  for (const auto& [address, mac] : neighbours) out.neighbours.push_back({address, mac});
  for (const auto& [mac, peer] : fdb) out.fdb.push_back({mac, peer->underlay});
  return out;
}

namespace {

// One kind of entry, keyed as the kernel keys it, through the one per-key diff.
template <typename Entry, typename Key, typename KeyOf>
void diff_entries(const std::vector<Entry>& desired, const std::vector<Entry>& actual, KeyOf key_of, OverlayDiff& out) {
  std::map<Key, Entry> wanted;
  for (const auto& entry : desired) wanted.emplace(key_of(entry), entry);
  std::map<Key, std::vector<Entry>> installed;
  for (const auto& entry : actual) installed[key_of(entry)].push_back(entry);
  diff_keys(wanted, installed, [&](ChangeKind kind, const Entry& entry) {
    auto& list = kind == ChangeKind::remove ? out.removals : out.upserts;
    list.push_back({kind, entry});
  });
}

}  // namespace

OverlayDiff overlay_diff(const DesiredOverlay& desired, const routing::OverlayDump& actual) {
  OverlayDiff out;
  diff_entries<NeighbourEntry, IpAddress>(
      desired.neighbours, actual.neighbours, [](const NeighbourEntry& entry) { return entry.address; }, out);
  diff_entries<FdbEntry, MacAddress>(
      desired.fdb, actual.fdb, [](const FdbEntry& entry) { return entry.mac; }, out);
  return out;
}

std::string to_string(const routing::OverlayEntry& entry) {
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&entry))
    return "neighbour " + neighbour->address.to_string() + " lladdr " + neighbour->mac.to_string();
  const auto& fdb = std::get<FdbEntry>(entry);
  return "fdb " + fdb.mac.to_string() + " dst " + fdb.destination.to_string();
}

}  // namespace hostgw::controller
