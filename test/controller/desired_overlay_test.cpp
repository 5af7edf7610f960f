// --cross-subnet=vxlan, the pure part: which peers desired_routes() sends
// through the overlay, and desired_overlay() / overlay_diff().

#include "controller/desired_overlay.hpp"

#include <gtest/gtest.h>

#include "controller/desired_routes.hpp"
#include "test-support/node_factory.hpp"

namespace hostgw::controller {
namespace {

using test_support::node;

using routing::ChangeKind;
using routing::ConnectedNetwork;
using routing::FdbEntry;
using routing::Family;
using routing::IpAddress;
using routing::IpPrefix;
using routing::MacAddress;
using routing::NeighbourEntry;
using routing::OverlayChange;
using routing::Route;

// This host: node-a, 198.51.100.11/24 and 2001:db8:ffff::11/64 on eth0 (#2, MTU 1500).
std::vector<ConnectedNetwork> host_networks(std::uint32_t mtu = 1500) {
  return {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", mtu},
          {IpPrefix::parse("2001:db8:ffff::/64"), IpAddress::parse("2001:db8:ffff::11"), 2, "eth0", mtu}};
}

k8s::NodeInfo self_node() {
  return node("node-a", {"10.244.1.0/24", "2001:db8:1::/64"}, {"198.51.100.11", "2001:db8:ffff::11"});
}

DesiredRoutesOptions vxlan_options() {
  DesiredRoutesOptions options;
  options.cross_subnet = CrossSubnet::vxlan;
  return options;
}

DesiredRoutes compute(const std::vector<k8s::NodeInfo>& nodes, DesiredRoutesOptions options = vxlan_options(),
                      std::vector<ConnectedNetwork> connected = host_networks()) {
  std::vector<const k8s::NodeInfo*> view;
  for (const auto& n : nodes) view.push_back(&n);
  return desired_routes(view, "node-a", connected, options);
}

Route direct(const char* destination, const char* gateway, std::uint32_t metric = 0) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(gateway);
  r.oif = 2;
  r.metric = metric;
  return r;
}

Route overlay(const char* destination, const char* vtep, std::uint32_t oif = 0) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(vtep);
  r.oif = oif;
  r.onlink = true;
  if (!r.destination.address().is_v4()) r.metric = kIpv6DefaultMetric;
  return r;
}

std::vector<std::string> nodes_of(const std::vector<NodeRoute>& routes) {
  std::vector<std::string> out;
  for (const auto& entry : routes) out.push_back(entry.node);
  return out;
}

const SkippedNode* find_skip(const DesiredRoutes& result, const std::string& name, std::optional<Family> family) {
  for (const auto& skip : result.skipped)
    if (skip.node == name && skip.family == family) return &skip;
  return nullptr;
}

MacAddress mac(const char* text) { return MacAddress::parse(text); }

TEST(CrossSubnetTest, SameSubnetPeersKeepDirectRoutesOtherSubnetPeersGoThroughTheDevice) {
  auto result = compute({self_node(), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                         node("node-c", {"10.244.3.0/24"}, {"203.0.113.13"}),
                         node("node-d", {"10.244.4.0/24"}, {"203.0.113.14"})});
  std::vector<Route> expected = {direct("10.244.2.0/24", "198.51.100.12"), overlay("10.244.3.0/24", "10.244.3.0"),
                                 overlay("10.244.4.0/24", "10.244.4.0")};
  EXPECT_EQ(routes_of(result.routes), expected);
  EXPECT_EQ(nodes_of(result.routes), (std::vector<std::string>{"node-b", "node-c", "node-d"}));
  // The path says which go through the device (their oif is bound to it by the route target).
  EXPECT_EQ(result.routes[0].path, RoutePath::direct);
  EXPECT_EQ(result.routes[1].path, RoutePath::overlay);
  EXPECT_EQ(result.routes[2].path, RoutePath::overlay);
  std::vector<OverlayPeer> peers = {{"node-c", IpAddress::parse("203.0.113.13"), IpAddress::parse("10.244.3.0")},
                                    {"node-d", IpAddress::parse("203.0.113.14"), IpAddress::parse("10.244.4.0")}};
  EXPECT_EQ(result.overlay_peers, peers);
  ASSERT_TRUE(result.overlay_self);
  EXPECT_EQ(*result.overlay_self, (OverlaySelf{IpAddress::parse("198.51.100.11"), 2, 1500,
                                               IpPrefix::parse("10.244.1.0/24"), IpPrefix::parse("2001:db8:1::/64")}));
  ASSERT_EQ(result.skipped.size(), 1u);  // only self
}

TEST(CrossSubnetTest, SkipModeSkipsOtherSubnetPeersAsBefore) {
  auto options = vxlan_options();
  options.cross_subnet = CrossSubnet::skip;
  auto result = compute({self_node(), node("node-c", {"10.244.3.0/24"}, {"203.0.113.13"})}, options);
  EXPECT_TRUE(result.routes.empty());
  EXPECT_TRUE(result.overlay_peers.empty());
  EXPECT_FALSE(result.overlay_self);
  const SkippedNode* skip = find_skip(result, "node-c", Family::v4);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::unreachable_address);
  EXPECT_NE(skip->detail.find("--cross-subnet=skip"), std::string::npos) << skip->detail;
}

TEST(CrossSubnetTest, PreferADirectAddressOverAnOverlayOne) {
  auto result = compute({self_node(), node("node-c", {"10.244.3.0/24"}, {"203.0.113.13", "198.51.100.13"})});
  EXPECT_EQ(routes_of(result.routes), (std::vector<Route>{direct("10.244.3.0/24", "198.51.100.13")}));
  EXPECT_TRUE(result.overlay_peers.empty());
}

TEST(CrossSubnetTest, DualStackPeerOnAnotherSubnetRidesTheDeviceWithBothFamilies) {
  auto result = compute({self_node(), node("node-c", {"10.244.3.0/24", "2001:db8:3::/64"},
                                           {"203.0.113.13", "2001:db8:eeee::13"})});
  EXPECT_EQ(routes_of(result.routes),
            (std::vector<Route>{overlay("10.244.3.0/24", "10.244.3.0"), overlay("2001:db8:3::/64", "2001:db8:3::")}));
  EXPECT_EQ(result.routes[1].route.metric, kIpv6DefaultMetric);
  EXPECT_EQ(result.routes[1].path, RoutePath::overlay);
  // Both families ride the IPv4 underlay: one MAC, one FDB entry for the node.
  std::vector<OverlayPeer> peers = {{"node-c", IpAddress::parse("203.0.113.13"), IpAddress::parse("10.244.3.0")},
                                    {"node-c", IpAddress::parse("203.0.113.13"), IpAddress::parse("2001:db8:3::")}};
  EXPECT_EQ(result.overlay_peers, peers);
  EXPECT_EQ(find_skip(result, "node-c", Family::v6), nullptr);
  auto plan = desired_overlay(result.overlay_self, result.overlay_peers, 4244, 4789);
  ASSERT_TRUE(plan.device);
  EXPECT_EQ(plan.device->address, IpPrefix::parse("10.244.1.0/32"));
  EXPECT_EQ(plan.device->address6, IpPrefix::parse("2001:db8:1::/128"));
  const MacAddress vtep = *routing::vtep_mac(IpAddress::parse("203.0.113.13"));
  EXPECT_EQ(plan.neighbours, (std::vector<NeighbourEntry>{{IpAddress::parse("10.244.3.0"), vtep},
                                                          {IpAddress::parse("2001:db8:3::"), vtep}}));
  EXPECT_EQ(plan.fdb, (std::vector<FdbEntry>{{vtep, IpAddress::parse("203.0.113.13")}}));
}

TEST(CrossSubnetTest, EachFamilyGoesDirectWhereItsAddressIsConnected) {
  // node-b: IPv4 on our subnet, IPv6 elsewhere; node-c the other way round.
  auto result = compute({self_node(),
                         node("node-b", {"10.244.2.0/24", "2001:db8:2::/64"}, {"198.51.100.12", "2001:db8:eeee::12"}),
                         node("node-c", {"10.244.3.0/24", "2001:db8:3::/64"}, {"203.0.113.13", "2001:db8:ffff::13"})});
  EXPECT_EQ(routes_of(result.routes),
            (std::vector<Route>{direct("10.244.2.0/24", "198.51.100.12"), overlay("10.244.3.0/24", "10.244.3.0"),
                                overlay("2001:db8:2::/64", "2001:db8:2::"),
                                direct("2001:db8:3::/64", "2001:db8:ffff::13", kIpv6DefaultMetric)}));
  // node-b's IPv6 pods ride its IPv4 address, although that one is on our subnet.
  std::vector<OverlayPeer> peers = {{"node-b", IpAddress::parse("198.51.100.12"), IpAddress::parse("2001:db8:2::")},
                                    {"node-c", IpAddress::parse("203.0.113.13"), IpAddress::parse("10.244.3.0")}};
  EXPECT_EQ(result.overlay_peers, peers);
  EXPECT_TRUE(result.skipped.size() == 1u && result.skipped[0].reason == SkipReason::self);
}

TEST(CrossSubnetTest, Ipv6OnlyPeerOnAnotherSubnetIsSkippedTheUnderlayIsIpv4) {
  auto result = compute({self_node(), node("node-c", {"2001:db8:3::/64"}, {"2001:db8:eeee::13"})});
  EXPECT_TRUE(result.routes.empty());
  EXPECT_TRUE(result.overlay_peers.empty());
  const SkippedNode* skip = find_skip(result, "node-c", Family::v6);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::unreachable_address);
  EXPECT_NE(skip->detail.find("2001:db8:eeee::13"), std::string::npos) << skip->detail;
  EXPECT_NE(skip->detail.find("no usable IPv4 address"), std::string::npos) << skip->detail;
}

TEST(CrossSubnetTest, Ipv6PeerWithoutIpv6AddressStaysNoAddress) {
  // IPv6 pods ride the overlay only for a peer whose IPv6 address is on another subnet.
  auto result = compute({self_node(), node("node-c", {"10.244.3.0/24", "2001:db8:3::/64"}, {"203.0.113.13"})});
  EXPECT_EQ(routes_of(result.routes), (std::vector<Route>{overlay("10.244.3.0/24", "10.244.3.0")}));
  ASSERT_NE(find_skip(result, "node-c", Family::v6), nullptr);
  EXPECT_EQ(find_skip(result, "node-c", Family::v6)->reason, SkipReason::no_address);
}

TEST(CrossSubnetTest, WithoutAnOwnIpv6PodCidrIpv6PeersAreSkippedIpv4Ride) {
  auto self = node("node-a", {"10.244.1.0/24"}, {"198.51.100.11", "2001:db8:ffff::11"});
  auto result =
      compute({self, node("node-c", {"10.244.3.0/24", "2001:db8:3::/64"}, {"203.0.113.13", "2001:db8:eeee::13"})});
  EXPECT_EQ(routes_of(result.routes), (std::vector<Route>{overlay("10.244.3.0/24", "10.244.3.0")}));
  ASSERT_TRUE(result.overlay_self);
  EXPECT_FALSE(result.overlay_self->pod_cidr6);
  const SkippedNode* skip = find_skip(result, "node-c", Family::v6);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::unreachable_address);
  EXPECT_NE(skip->detail.find("no IPv6 podCIDR"), std::string::npos) << skip->detail;
  auto plan = desired_overlay(result.overlay_self, result.overlay_peers, 4244, 4789);
  ASSERT_TRUE(plan.device);
  EXPECT_FALSE(plan.device->address6);
}

TEST(CrossSubnetTest, WithoutAnOwnIpv6AddressIpv6PeersAreSkippedBothEndsAgree) {
  // Its peers skip this node for IPv6 (no_address): it must not send IPv6 their way either.
  auto self = node("node-a", {"10.244.1.0/24", "2001:db8:1::/64"}, {"198.51.100.11"});
  auto result =
      compute({self, node("node-c", {"10.244.3.0/24", "2001:db8:3::/64"}, {"203.0.113.13", "2001:db8:eeee::13"})},
              vxlan_options(), {host_networks()[0]});
  EXPECT_EQ(routes_of(result.routes), (std::vector<Route>{overlay("10.244.3.0/24", "10.244.3.0")}));
  ASSERT_TRUE(result.overlay_self);
  EXPECT_FALSE(result.overlay_self->pod_cidr6);
  const SkippedNode* skip = find_skip(result, "node-c", Family::v6);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::unreachable_address);
  EXPECT_NE(skip->detail.find("no IPv6 InternalIP"), std::string::npos) << skip->detail;
}

TEST(CrossSubnetTest, Ipv6OnlySelfHasNoDeviceItsPeersSayWhy) {
  auto self = node("node-a", {"2001:db8:1::/64"}, {"2001:db8:ffff::11"});
  auto result = compute({self, node("node-c", {"2001:db8:3::/64"}, {"2001:db8:eeee::13"}),
                         node("node-d", {"2001:db8:4::/64"}, {"2001:db8:ffff::14"})});
  EXPECT_FALSE(result.overlay_self);
  EXPECT_EQ(routes_of(result.routes),
            (std::vector<Route>{direct("2001:db8:4::/64", "2001:db8:ffff::14", kIpv6DefaultMetric)}));
  const SkippedNode* skip = find_skip(result, "node-c", Family::v6);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::unreachable_address);
  EXPECT_NE(skip->detail.find("no VXLAN route either"), std::string::npos) << skip->detail;
}

struct NoDeviceCase {
  const char* title;
  k8s::NodeInfo self;
  const char* why;
};

class CrossSubnetNoDeviceTest : public ::testing::TestWithParam<NoDeviceCase> {};

TEST_P(CrossSubnetNoDeviceTest, PeersAreSkippedWithTheReasonThisNodeCannotHaveADevice) {
  const auto& param = GetParam();
  std::vector<k8s::NodeInfo> nodes = {node("node-c", {"10.244.3.0/24"}, {"203.0.113.13"})};
  if (!param.self.name.empty()) nodes.push_back(param.self);
  auto result = compute(nodes);
  EXPECT_TRUE(result.routes.empty());
  EXPECT_TRUE(result.overlay_peers.empty());
  EXPECT_FALSE(result.overlay_self);
  const SkippedNode* skip = find_skip(result, "node-c", Family::v4);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::unreachable_address);
  EXPECT_NE(skip->detail.find(param.why), std::string::npos) << skip->detail;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CrossSubnetNoDeviceTest,
    ::testing::Values(NoDeviceCase{"self missing", node("", {}, {}), "not in the node list"},
                      NoDeviceCase{"self without IPv4 podCIDR",
                                   node("node-a", {"2001:db8:1::/64"}, {"198.51.100.11"}), "no IPv4 podCIDR"},
                      NoDeviceCase{"self address not connected",
                                   node("node-a", {"10.244.1.0/24"}, {"100.64.0.11"}), "no IPv4 InternalIP"},
                      NoDeviceCase{"self without IPv4 address",
                                   node("node-a", {"10.244.1.0/24"}, {"2001:db8:ffff::11"}), "no IPv4 InternalIP"}),
    [](const auto& info) {
      std::string name = info.param.title;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(CrossSubnetTest, EveryPodCidrOfAnOverlayPeerGoesViaTheVtepOfItsFirstOne) {
  auto result = compute({self_node(), node("node-c", {"10.244.3.0/24", "10.245.3.0/24"}, {"203.0.113.13"})},
                        vxlan_options());
  EXPECT_EQ(routes_of(result.routes), (std::vector<Route>{overlay("10.244.3.0/24", "10.244.3.0", 0),
                                               overlay("10.245.3.0/24", "10.244.3.0", 0)}));
  ASSERT_EQ(result.overlay_peers.size(), 1u);
}

TEST(CrossSubnetTest, OverlayPeerChecksStillApply) {
  // An overlay peer's podCIDR must still be inside --cluster-cidr and not overlap.
  auto options = vxlan_options();
  options.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
  auto result = compute({self_node(), node("node-c", {"10.99.3.0/24"}, {"203.0.113.13"}),
                         node("node-d", {"10.244.1.128/25"}, {"203.0.113.14"})},
                        options);
  EXPECT_TRUE(result.routes.empty());
  EXPECT_TRUE(result.overlay_peers.empty());
  EXPECT_EQ(find_skip(result, "node-c", Family::v4)->reason, SkipReason::outside_cluster_cidr);
  EXPECT_EQ(find_skip(result, "node-d", Family::v4)->reason, SkipReason::overlaps_own_pod_cidr);
}

TEST(CrossSubnetTest, AnEstablishedOverlayPeerKeepsItsRouteAgainstANestedNewcomer) {
  std::vector<k8s::NodeInfo> nodes = {self_node(), node("node-c", {"10.244.3.0/24"}, {"203.0.113.13"}),
                                      node("node-x", {"10.244.3.0/25"}, {"198.51.100.40"})};
  std::vector<const k8s::NodeInfo*> view;
  for (const auto& n : nodes) view.push_back(&n);
  auto result = desired_routes(view, "node-a", host_networks(), vxlan_options(), {overlay("10.244.3.0/24", "10.244.3.0")});
  EXPECT_EQ(routes_of(result.routes), (std::vector<Route>{overlay("10.244.3.0/24", "10.244.3.0")}));
  ASSERT_NE(find_skip(result, "node-x", Family::v4), nullptr);
  EXPECT_EQ(find_skip(result, "node-x", Family::v4)->reason, SkipReason::overlaps_other_node);
  EXPECT_EQ(find_skip(result, "node-c", Family::v4), nullptr);
  // Without the installed route neither is trusted.
  auto fresh = compute(nodes);
  EXPECT_TRUE(fresh.routes.empty());
}

// --- desired_overlay ----------------------------------------------------------

OverlaySelf self_side(std::uint32_t mtu = 1500) {
  return {IpAddress::parse("198.51.100.11"), 2, mtu, IpPrefix::parse("10.244.1.0/24"), std::nullopt};
}

OverlayPeer peer(const char* name, const char* underlay, const char* vtep) {
  return {name, IpAddress::parse(underlay), IpAddress::parse(vtep)};
}

TEST(DesiredOverlayTest, DeviceSpecFollowsThisNode) {
  auto plan = desired_overlay(self_side(9000), {peer("node-c", "203.0.113.13", "10.244.3.0")}, 4244, 4789);
  ASSERT_TRUE(plan.device);
  EXPECT_EQ(plan.device->name, "hostgw.vxlan");
  EXPECT_EQ(plan.device->vni, 4244u);
  EXPECT_EQ(plan.device->port, 4789);
  EXPECT_EQ(plan.device->local, IpAddress::parse("198.51.100.11"));
  EXPECT_EQ(plan.device->underlay_oif, 2u);
  EXPECT_EQ(plan.device->mtu, 8950u);
  EXPECT_EQ(plan.device->mac, *routing::vtep_mac(IpAddress::parse("198.51.100.11")));
  EXPECT_EQ(plan.device->address, IpPrefix::parse("10.244.1.0/32"));
  EXPECT_EQ(plan.neighbours,
            (std::vector<NeighbourEntry>{{IpAddress::parse("10.244.3.0"), *routing::vtep_mac(IpAddress::parse("203.0.113.13"))}}));
  EXPECT_EQ(plan.fdb,
            (std::vector<FdbEntry>{{*routing::vtep_mac(IpAddress::parse("203.0.113.13")), IpAddress::parse("203.0.113.13")}}));
}

struct PlanCase {
  const char* title;
  std::optional<OverlaySelf> self;
  std::vector<OverlayPeer> peers;
  bool device;
  std::size_t entries;  // neighbours (== FDB entries)
};

class DesiredOverlayCaseTest : public ::testing::TestWithParam<PlanCase> {};

TEST_P(DesiredOverlayCaseTest, DeviceAndEntries) {
  const auto& param = GetParam();
  auto plan = desired_overlay(param.self, param.peers, 4244, 4789);
  EXPECT_EQ(plan.device.has_value(), param.device);
  EXPECT_EQ(plan.neighbours.size(), param.entries);
  EXPECT_EQ(plan.fdb.size(), param.entries);
  EXPECT_TRUE(std::is_sorted(plan.neighbours.begin(), plan.neighbours.end()));
  EXPECT_TRUE(std::is_sorted(plan.fdb.begin(), plan.fdb.end()));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DesiredOverlayCaseTest,
    ::testing::Values(
        PlanCase{"no peer, no device", self_side(), {}, false, 0},
        PlanCase{"no self, no device", std::nullopt, {peer("c", "203.0.113.13", "10.244.3.0")}, false, 0},
        PlanCase{"one peer", self_side(), {peer("c", "203.0.113.13", "10.244.3.0")}, true, 1},
        PlanCase{"three peers, unsorted input",
                 self_side(),
                 {peer("e", "203.0.113.15", "10.244.5.0"), peer("c", "203.0.113.13", "10.244.3.0"),
                  peer("d", "203.0.113.14", "10.244.4.0")},
                 true,
                 3},
        PlanCase{"duplicate node address: first wins",
                 self_side(),
                 {peer("c", "203.0.113.13", "10.244.3.0"), peer("d", "203.0.113.13", "10.244.4.0")},
                 true,
                 1},
        PlanCase{"IPv6 underlay has no VTEP MAC", self_side(), {peer("c", "2001:db8:eeee::13", "10.244.3.0")}, false,
                 0}),
    [](const auto& info) {
      std::string name = info.param.title;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(DesiredOverlayTest, ADualStackPeerSharesOneMacAnotherNodeWithItsAddressDoesNot) {
  OverlaySelf self = self_side();
  self.pod_cidr6 = IpPrefix::parse("2001:db8:1::/64");
  auto plan = desired_overlay(self,
                              {peer("c", "203.0.113.13", "10.244.3.0"), peer("c", "203.0.113.13", "2001:db8:3::"),
                               peer("d", "203.0.113.13", "2001:db8:4::")},
                              4244, 4789);
  ASSERT_TRUE(plan.device);
  EXPECT_EQ(plan.device->address6, IpPrefix::parse("2001:db8:1::/128"));
  const MacAddress vtep = *routing::vtep_mac(IpAddress::parse("203.0.113.13"));
  EXPECT_EQ(plan.neighbours, (std::vector<NeighbourEntry>{{IpAddress::parse("10.244.3.0"), vtep},
                                                          {IpAddress::parse("2001:db8:3::"), vtep}}));
  EXPECT_EQ(plan.fdb, (std::vector<FdbEntry>{{vtep, IpAddress::parse("203.0.113.13")}}));
}

TEST(DesiredOverlayTest, Ipv6NeighboursAreDiffedByAddressLikeIpv4Ones) {
  DesiredOverlay want;
  want.neighbours = {{IpAddress::parse("2001:db8:3::"), mac("0e:68:cb:00:71:0d")}};
  routing::OverlayDump have;
  have.neighbours = {{IpAddress::parse("2001:db8:3::"), mac("0e:68:cb:00:71:0e")},
                     {IpAddress::parse("2001:db8:9::"), mac("0e:68:cb:00:71:0f")}};
  OverlayDiff diff = overlay_diff(want, have);
  EXPECT_EQ(diff.upserts, (std::vector<OverlayChange>{{ChangeKind::replace, want.neighbours[0]}}));
  EXPECT_EQ(diff.removals, (std::vector<OverlayChange>{{ChangeKind::remove, have.neighbours[1]}}));
  // Adopted unchanged: nothing to do.
  have.neighbours = want.neighbours;
  EXPECT_TRUE(overlay_diff(want, have).empty());
}

TEST(DesiredOverlayTest, EntriesPrintForLogs) {
  EXPECT_EQ(to_string(routing::OverlayEntry{NeighbourEntry{IpAddress::parse("10.244.4.0"), mac("0e:68:cb:00:71:0e")}}),
            "neighbour 10.244.4.0 lladdr 0e:68:cb:00:71:0e");
  EXPECT_EQ(to_string(routing::OverlayEntry{FdbEntry{mac("0e:68:cb:00:71:0e"), IpAddress::parse("203.0.113.14")}}),
            "fdb 0e:68:cb:00:71:0e dst 203.0.113.14");
}

TEST(DesiredOverlayTest, TinyUnderlayMtuGivesZeroForTheKernelToRefuse) {
  auto plan = desired_overlay(self_side(40), {peer("c", "203.0.113.13", "10.244.3.0")}, 4244, 4789);
  ASSERT_TRUE(plan.device);
  EXPECT_EQ(plan.device->mtu, 0u);
}

// --- overlay_diff ---------------------------------------------------------------

struct DiffCase {
  const char* title;
  std::vector<NeighbourEntry> want_neighbours;
  std::vector<FdbEntry> want_fdb;
  std::vector<NeighbourEntry> have_neighbours;
  std::vector<FdbEntry> have_fdb;
  std::vector<OverlayChange> upserts;
  std::vector<OverlayChange> removals;
};

NeighbourEntry neigh(const char* address, const char* m) { return {IpAddress::parse(address), mac(m)}; }
FdbEntry fdb(const char* m, const char* destination) { return {mac(m), IpAddress::parse(destination)}; }

class OverlayDiffTest : public ::testing::TestWithParam<DiffCase> {};

TEST_P(OverlayDiffTest, Changes) {
  const auto& param = GetParam();
  DesiredOverlay want;
  want.neighbours = param.want_neighbours;
  want.fdb = param.want_fdb;
  routing::OverlayDump have;
  have.neighbours = param.have_neighbours;
  have.fdb = param.have_fdb;
  OverlayDiff diff = overlay_diff(want, have);
  EXPECT_EQ(diff.upserts, param.upserts);
  EXPECT_EQ(diff.removals, param.removals);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OverlayDiffTest,
    ::testing::Values(
        DiffCase{"nothing", {}, {}, {}, {}, {}, {}},
        DiffCase{"all missing",
                 {neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                 {fdb("0e:68:cb:00:71:0d", "203.0.113.13")},
                 {},
                 {},
                 {{ChangeKind::add, neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                  {ChangeKind::add, fdb("0e:68:cb:00:71:0d", "203.0.113.13")}},
                 {}},
        DiffCase{"in place",
                 {neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                 {fdb("0e:68:cb:00:71:0d", "203.0.113.13")},
                 {neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                 {fdb("0e:68:cb:00:71:0d", "203.0.113.13")},
                 {},
                 {}},
        DiffCase{"stale entries of a peer that left",
                 {},
                 {},
                 {neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                 {fdb("0e:68:cb:00:71:0d", "203.0.113.13")},
                 {},
                 {{ChangeKind::remove, neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                  {ChangeKind::remove, fdb("0e:68:cb:00:71:0d", "203.0.113.13")}}},
        DiffCase{"other MAC / destination: replace, never remove",
                 {neigh("10.244.3.0", "0e:68:cb:00:71:0e")},
                 {fdb("0e:68:cb:00:71:0e", "203.0.113.14")},
                 {neigh("10.244.3.0", "0e:68:cb:00:71:0d")},
                 {fdb("0e:68:cb:00:71:0e", "203.0.113.13"), fdb("0e:68:cb:00:71:0d", "203.0.113.13")},
                 {{ChangeKind::replace, neigh("10.244.3.0", "0e:68:cb:00:71:0e")},
                  {ChangeKind::replace, fdb("0e:68:cb:00:71:0e", "203.0.113.14")}},
                 {{ChangeKind::remove, fdb("0e:68:cb:00:71:0d", "203.0.113.13")}}}),
    [](const auto& info) {
      std::string name = info.param.title;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

}  // namespace
}  // namespace hostgw::controller
