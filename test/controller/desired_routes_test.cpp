#include "controller/desired_routes.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "test-support/node_factory.hpp"

namespace hostgw::controller {
namespace {

using test_support::node;

using routing::ConnectedNetwork;
using routing::Family;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;

ConnectedNetwork network(const char* prefix, const char* local, std::uint32_t oif, const char* name) {
  return {IpPrefix::parse(prefix), IpAddress::parse(local), oif, name, 1500};
}

// This host: node-a, 198.51.100.11 on eth0 (#2), 2001:db8:ffff::11 on eth0, 203.0.113.1 on eth1 (#3).
std::vector<ConnectedNetwork> host_networks() {
  return {network("198.51.100.0/24", "198.51.100.11", 2, "eth0"),
          network("2001:db8:ffff::/64", "2001:db8:ffff::11", 2, "eth0"),
          network("203.0.113.0/24", "203.0.113.1", 3, "eth1")};
}

k8s::NodeInfo self_node() {
  return node("node-a", {"10.244.1.0/24", "2001:db8:1::/64"}, {"198.51.100.11", "2001:db8:ffff::11"});
}

DesiredRoutes compute(const std::vector<k8s::NodeInfo>& nodes, DesiredRoutesOptions options = {},
                      std::vector<ConnectedNetwork> connected = host_networks()) {
  std::vector<const k8s::NodeInfo*> view;
  for (const auto& n : nodes) view.push_back(&n);
  return desired_routes(view, "node-a", connected, options);
}

Route route(const char* destination, const char* gateway, std::uint32_t oif, std::uint32_t metric = 0) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(gateway);
  r.oif = oif;
  r.metric = metric;
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

TEST(DesiredRoutesTest, RoutesEveryOtherNodeViaItsInternalIpOnTheLinkReachingIt) {
  auto result = compute({self_node(), node("node-c", {"10.244.3.0/24"}, {"203.0.113.7"}),
                         node("node-b", {"10.244.2.0/24", "2001:db8:2::/64"}, {"198.51.100.12", "2001:db8:ffff::12"})});
  std::vector<Route> expected = {route("10.244.2.0/24", "198.51.100.12", 2), route("10.244.3.0/24", "203.0.113.7", 3),
                                 route("2001:db8:2::/64", "2001:db8:ffff::12", 2, kIpv6DefaultMetric)};
  EXPECT_EQ(routes_of(result.routes), expected);
  EXPECT_EQ(nodes_of(result.routes), (std::vector<std::string>{"node-b", "node-c", "node-b"}));
  ASSERT_EQ(result.skipped.size(), 1u);
  EXPECT_EQ(result.skipped[0].reason, SkipReason::self);
  EXPECT_EQ(result.routes[0].route.protocol, routing::kDefaultRouteProtocol);
  EXPECT_EQ(result.routes[0].route.table, routing::kMainTable);
}

k8s::NodeInfo annotated(k8s::NodeInfo info, std::vector<std::pair<std::string, std::string>> annotations) {
  info.annotations = std::move(annotations);
  return info;
}

TEST(DesiredRoutesTest, AddressAnnotationsWinInOrderPerFamilyInvalidOnesAreSkips) {
  DesiredRoutesOptions options;
  options.address_annotations = {"flannel.alpha.coreos.com/public-ip-overwrite", "flannel.alpha.coreos.com/public-ip"};
  const std::string overwrite = options.address_annotations[0];
  const std::string public_ip = options.address_annotations[1];
  auto result = compute(
      {self_node(),
       // public-ip differs from the InternalIP: it wins.
       annotated(node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}), {{public_ip, "198.51.100.112"}}),
       // Both: the overwrite comes first, whatever the object's order; IPv6 has no annotation.
       annotated(node("node-c", {"10.244.3.0/24", "2001:db8:3::/64"}, {"198.51.100.13", "2001:db8:ffff::13"}),
                 {{public_ip, "198.51.100.13"}, {overwrite, "203.0.113.13"}}),
       // An invalid overwrite, a valid public-ip: the valid one wins.
       annotated(node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"}),
                 {{overwrite, "not-an-address"}, {public_ip, "198.51.100.114"}}),
       // Only an invalid value: a skip, never a silent fall-back to the InternalIP.
       annotated(node("node-e", {"10.244.5.0/24"}, {"198.51.100.15"}), {{public_ip, "198.51.100.300"}}),
       // A key not asked for changes nothing.
       annotated(node("node-f", {"10.244.6.0/24"}, {"198.51.100.16"}), {{"other/key", "198.51.100.116"}}),
       // The value is this host's own address.
       annotated(node("node-g", {"10.244.7.0/24"}, {"198.51.100.17"}), {{public_ip, "198.51.100.11"}})},
      options);
  std::vector<Route> expected = {route("10.244.2.0/24", "198.51.100.112", 2), route("10.244.3.0/24", "203.0.113.13", 3),
                                 route("10.244.4.0/24", "198.51.100.114", 2), route("10.244.6.0/24", "198.51.100.16", 2),
                                 route("2001:db8:3::/64", "2001:db8:ffff::13", 2, kIpv6DefaultMetric)};
  EXPECT_EQ(routes_of(result.routes), expected);
  const SkippedNode* invalid = find_skip(result, "node-e", Family::v4);
  ASSERT_NE(invalid, nullptr);
  EXPECT_EQ(invalid->reason, SkipReason::invalid_address);
  EXPECT_NE(invalid->detail.find("annotation flannel.alpha.coreos.com/public-ip value"), std::string::npos)
      << invalid->detail;
  const SkippedNode* own = find_skip(result, "node-g", Family::v4);
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(own->reason, SkipReason::own_address);

  // Without the flag the annotations are not looked at.
  auto plain = compute({self_node(), annotated(node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                               {{public_ip, "198.51.100.112"}})});
  EXPECT_EQ(routes_of(plain.routes), (std::vector<Route>{route("10.244.2.0/24", "198.51.100.12", 2)}));
}

TEST(DesiredRoutesTest, OutputDoesNotDependOnInputOrder) {
  std::vector<k8s::NodeInfo> nodes = {self_node(), node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                      node("c", {"10.244.3.0/24"}, {"198.51.100.13"}),
                                      node("d", {"10.244.2.0/25"}, {"198.51.100.14"})};
  auto first = compute(nodes);
  std::reverse(nodes.begin(), nodes.end());
  auto second = compute(nodes);
  EXPECT_EQ(first.routes, second.routes);
  EXPECT_EQ(first.skipped, second.skipped);
}

TEST(DesiredRoutesTest, TableAndProtocolComeFromOptions) {
  DesiredRoutesOptions options;
  options.table = 100;
  options.protocol = 200;
  auto result = compute({node("b", {"10.244.2.0/24"}, {"198.51.100.12"})}, options);
  ASSERT_EQ(result.routes.size(), 1u);
  EXPECT_EQ(result.routes[0].route.table, 100u);
  EXPECT_EQ(result.routes[0].route.protocol, 200);
}

struct SkipCase {
  const char* title;
  k8s::NodeInfo node;
  std::optional<Family> family;
  SkipReason reason;
  const char* detail_contains;
  std::vector<std::string> cluster_cidrs = {};
  AddressTypes address_types = AddressTypes::internal_only;
};

class SkipReasonTest : public ::testing::TestWithParam<SkipCase> {};

TEST_P(SkipReasonTest, SkipsWithReasonAndDetail) {
  const SkipCase& c = GetParam();
  DesiredRoutesOptions options;
  for (const auto& text : c.cluster_cidrs) options.cluster_cidrs.push_back(IpPrefix::parse(text));
  options.address_types = c.address_types;
  auto result = compute({self_node(), c.node}, options);
  const SkippedNode* skip = find_skip(result, c.node.name, c.family);
  ASSERT_NE(skip, nullptr) << c.title;
  EXPECT_EQ(skip->reason, c.reason) << c.title << ": " << to_string(skip->reason) << " " << skip->detail;
  EXPECT_NE(skip->detail.find(c.detail_contains), std::string::npos) << c.title << ": " << skip->detail;
  for (const auto& [r, owner, path] : result.routes) {
    if (r.family() == c.family || !c.family) ADD_FAILURE() << c.title << ": unexpected route " << r.to_string();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SkipReasonTest,
    ::testing::Values(SkipCase{"no podCIDR", node("n", {}, {"198.51.100.12"}), std::nullopt, SkipReason::no_pod_cidr,
                               "podCIDR"},
                      SkipCase{"podCIDR does not parse", node("n", {"10.244.300.0/24"}, {"198.51.100.12"}), Family::v4,
                               SkipReason::invalid_pod_cidr, "10.244.300.0/24"},
                      SkipCase{"podCIDR with host bits", node("n", {"10.244.2.1/24"}, {"198.51.100.12"}), Family::v4,
                               SkipReason::invalid_pod_cidr, "10.244.2.1/24"},
                      SkipCase{"IPv6 podCIDR does not parse", node("n", {"2001:db8:2::/200"}, {"2001:db8:ffff::12"}),
                               Family::v6, SkipReason::invalid_pod_cidr, "2001:db8:2::/200"},
                      SkipCase{"default route", node("n", {"0.0.0.0/0"}, {"198.51.100.12"}), Family::v4,
                               SkipReason::default_route, "0.0.0.0/0"},
                      SkipCase{"IPv6 default route", node("n", {"::/0"}, {"2001:db8:ffff::12"}), Family::v6,
                               SkipReason::default_route, "::/0"},
                      SkipCase{"overlaps own podCIDR", node("n", {"10.244.1.0/25"}, {"198.51.100.12"}), Family::v4,
                               SkipReason::overlaps_own_pod_cidr, "10.244.1.0/24"},
                      SkipCase{"contains own podCIDR", node("n", {"10.244.0.0/16"}, {"198.51.100.12"}), Family::v4,
                               SkipReason::overlaps_own_pod_cidr, "10.244.1.0/24"},
                      SkipCase{"overlaps connected network", node("n", {"198.51.100.128/25"}, {"198.51.100.12"}),
                               Family::v4, SkipReason::overlaps_connected_network, "198.51.100.0/24 on eth0"},
                      SkipCase{"outside cluster CIDR",
                               node("n", {"10.245.2.0/24"}, {"198.51.100.12"}),
                               Family::v4,
                               SkipReason::outside_cluster_cidr,
                               "outside --cluster-cidr 10.244.0.0/16",
                               {"10.244.0.0/16"}},
                      SkipCase{"no cluster CIDR of the family",
                               node("n", {"2001:db8:2::/64"}, {"2001:db8:ffff::12"}),
                               Family::v6,
                               SkipReason::outside_cluster_cidr,
                               "no --cluster-cidr",
                               {"10.244.0.0/16"}},
                      SkipCase{"no InternalIP", node("n", {"10.244.2.0/24"}, {}, {"198.51.100.12"}), Family::v4,
                               SkipReason::no_address, "no InternalIP of family IPv4"},
                      SkipCase{"no address of the family", node("n", {"2001:db8:2::/64"}, {"198.51.100.12"}),
                               Family::v6, SkipReason::no_address, "IPv6"},
                      SkipCase{"address does not parse", node("n", {"10.244.2.0/24"}, {"198.51.100.300"}), Family::v4,
                               SkipReason::invalid_address, "198.51.100.300"},
                      SkipCase{"loopback address", node("n", {"10.244.2.0/24"}, {"127.0.0.1"}), Family::v4,
                               SkipReason::invalid_address, "127.0.0.1 is a loopback"},
                      SkipCase{"multicast address", node("n", {"10.244.2.0/24"}, {"224.0.0.5"}), Family::v4,
                               SkipReason::invalid_address, "multicast"},
                      SkipCase{"link-local address", node("n", {"10.244.2.0/24"}, {"169.254.1.1"}), Family::v4,
                               SkipReason::invalid_address, "link-local"},
                      SkipCase{"IPv6 link-local address", node("n", {"2001:db8:2::/64"}, {"fe80::1"}), Family::v6,
                               SkipReason::invalid_address, "link-local"},
                      SkipCase{"unspecified address", node("n", {"10.244.2.0/24"}, {"0.0.0.0"}), Family::v4,
                               SkipReason::invalid_address, "unspecified"},
                      SkipCase{"this host's address", node("n", {"10.244.2.0/24"}, {"198.51.100.11"}), Family::v4,
                               SkipReason::own_address, "198.51.100.11 is an address of this host"},
                      SkipCase{"not on a local link", node("n", {"10.244.2.0/24"}, {"100.64.0.9"}), Family::v4,
                               SkipReason::unreachable_address, "100.64.0.9 is not on a directly connected network"},
                      SkipCase{"ExternalIP not used without the flag",
                               node("n", {"10.244.2.0/24"}, {"100.64.0.9"}, {"198.51.100.12"}), Family::v4,
                               SkipReason::unreachable_address, "InternalIP 100.64.0.9"},
                      SkipCase{"ExternalIP fallback also bad",
                               node("n", {"10.244.2.0/24"}, {}, {"127.0.0.2"}),
                               Family::v4,
                               SkipReason::invalid_address,
                               "ExternalIP 127.0.0.2",
                               {},
                               AddressTypes::internal_then_external}),
    [](const auto& info) {
      std::string name = info.param.title;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST(DesiredRoutesTest, SelfIsSkippedAsSelf) {
  auto result = compute({self_node()});
  EXPECT_TRUE(result.routes.empty());
  ASSERT_NE(find_skip(result, "node-a", std::nullopt), nullptr);
  EXPECT_EQ(find_skip(result, "node-a", std::nullopt)->reason, SkipReason::self);
}

TEST(DesiredRoutesTest, OverlappingNodesAreBothSkippedAndNameEachOther) {
  auto result =
      compute({self_node(), node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
               node("c", {"10.244.2.128/25"}, {"198.51.100.13"}), node("d", {"10.244.4.0/24"}, {"198.51.100.14"}),
               node("e", {"10.244.4.0/24"}, {"198.51.100.15"}), node("f", {"10.244.5.0/24"}, {"198.51.100.16"})});
  ASSERT_EQ(result.routes.size(), 1u);
  EXPECT_EQ(result.routes[0].route, route("10.244.5.0/24", "198.51.100.16", 2));
  for (const char* name : {"b", "c", "d", "e"}) {
    const auto* skip = find_skip(result, name, Family::v4);
    ASSERT_NE(skip, nullptr) << name;
    EXPECT_EQ(skip->reason, SkipReason::overlaps_other_node) << name;
  }
  EXPECT_NE(find_skip(result, "b", Family::v4)->detail.find("of node c"), std::string::npos);
  EXPECT_NE(find_skip(result, "c", Family::v4)->detail.find("of node b"), std::string::npos);
  EXPECT_NE(find_skip(result, "d", Family::v4)->detail.find("of node e"), std::string::npos);
}

TEST(DesiredRoutesTest, WideCidrOverlappingTwoNodesSkipsAllThree) {
  auto result =
      compute({node("wide", {"10.244.8.0/21"}, {"198.51.100.20"}), node("x", {"10.244.8.0/24"}, {"198.51.100.21"}),
               node("y", {"10.244.15.0/24"}, {"198.51.100.22"})});
  EXPECT_TRUE(result.routes.empty());
  for (const char* name : {"wide", "x", "y"}) {
    ASSERT_NE(find_skip(result, name, Family::v4), nullptr) << name;
    EXPECT_EQ(find_skip(result, name, Family::v4)->reason, SkipReason::overlaps_other_node);
  }
}

TEST(DesiredRoutesTest, InstalledHolderKeepsItsRouteAgainstANewcomer) {
  std::vector<k8s::NodeInfo> nodes = {self_node(), node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                      node("evil", {"10.244.2.0/24"}, {"198.51.100.43"}),
                                      node("wide", {"10.244.0.0/20"}, {"198.51.100.44"})};
  std::vector<const k8s::NodeInfo*> view;
  for (const auto& n : nodes) view.push_back(&n);
  std::vector<Route> installed = {route("10.244.2.0/24", "198.51.100.12", 2)};
  DesiredRoutesOptions options;
  auto result = desired_routes(view, "node-a", host_networks(), options, installed);
  // "wide" also overlaps node-a's own podCIDR: that reason comes first.
  EXPECT_EQ(find_skip(result, "wide", Family::v4)->reason, SkipReason::overlaps_own_pod_cidr);
  ASSERT_EQ(result.routes.size(), 1u);
  EXPECT_EQ(result.routes[0].route, route("10.244.2.0/24", "198.51.100.12", 2));
  const auto* skip = find_skip(result, "evil", Family::v4);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::overlaps_other_node);
  EXPECT_NE(skip->detail.find("of node b, which is routed already"), std::string::npos) << skip->detail;
  EXPECT_EQ(find_skip(result, "b", Family::v4), nullptr);
}

TEST(DesiredRoutesTest, InstalledRouteViaAnotherGatewayMakesNoHolder) {
  std::vector<k8s::NodeInfo> nodes = {node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                      node("c", {"10.244.2.0/25"}, {"198.51.100.13"})};
  std::vector<const k8s::NodeInfo*> view;
  for (const auto& n : nodes) view.push_back(&n);
  auto result = desired_routes(view, "node-a", host_networks(), {}, {route("10.244.2.0/24", "198.51.100.99", 2)});
  EXPECT_TRUE(result.routes.empty());
  EXPECT_EQ(result.skipped.size(), 2u);
}

TEST(DesiredRoutesTest, TwoHoldersOfOverlappingCidrsAreBothSkipped) {
  std::vector<k8s::NodeInfo> nodes = {node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                      node("c", {"10.244.2.0/25"}, {"198.51.100.13"}),
                                      node("d", {"10.244.2.128/25"}, {"198.51.100.14"})};
  std::vector<const k8s::NodeInfo*> view;
  for (const auto& n : nodes) view.push_back(&n);
  auto result =
      desired_routes(view, "node-a", host_networks(), {},
                     {route("10.244.2.0/24", "198.51.100.12", 2), route("10.244.2.0/25", "198.51.100.13", 2)});
  EXPECT_TRUE(result.routes.empty());
  for (const char* name : {"b", "c", "d"}) {
    ASSERT_NE(find_skip(result, name, Family::v4), nullptr) << name;
    EXPECT_EQ(find_skip(result, name, Family::v4)->reason, SkipReason::overlaps_other_node) << name;
  }
}

TEST(DesiredRoutesTest, SkipsArePerFamily) {
  auto result =
      compute({self_node(), node("b", {"10.244.2.0/24", "2001:db8:2::/200"}, {"198.51.100.12", "2001:db8:ffff::12"})});
  ASSERT_EQ(result.routes.size(), 1u);
  EXPECT_EQ(result.routes[0].route, route("10.244.2.0/24", "198.51.100.12", 2));
  const auto* skip = find_skip(result, "b", Family::v6);
  ASSERT_NE(skip, nullptr);
  EXPECT_EQ(skip->reason, SkipReason::invalid_pod_cidr);
  EXPECT_EQ(find_skip(result, "b", Family::v4), nullptr);
}

TEST(DesiredRoutesTest, ExternalIpIsTheFallbackWhenAllowed) {
  DesiredRoutesOptions options;
  options.address_types = AddressTypes::internal_then_external;
  auto result = compute({node("b", {"10.244.2.0/24"}, {}, {"203.0.113.8"}),
                         node("c", {"10.244.3.0/24"}, {"198.51.100.13"}, {"203.0.113.9"})},
                        options);
  std::vector<Route> expected = {route("10.244.2.0/24", "203.0.113.8", 3), route("10.244.3.0/24", "198.51.100.13", 2)};
  EXPECT_EQ(routes_of(result.routes), expected);
}

TEST(DesiredRoutesTest, FirstReachableInternalIpWins) {
  auto result = compute({node("b", {"10.244.2.0/24"}, {"100.64.0.9", "198.51.100.12"})});
  ASSERT_EQ(result.routes.size(), 1u);
  EXPECT_EQ(result.routes[0].route.gateway, IpAddress::parse("198.51.100.12"));
}

TEST(DesiredRoutesTest, MostSpecificConnectedNetworkGivesTheLink) {
  std::vector<ConnectedNetwork> connected = {network("198.51.100.0/24", "198.51.100.11", 2, "eth0"),
                                             network("198.51.100.0/26", "198.51.100.1", 7, "vlan7")};
  auto result =
      compute({node("b", {"10.244.2.0/24"}, {"198.51.100.12"}), node("c", {"10.244.3.0/24"}, {"198.51.100.200"})}, {},
              connected);
  ASSERT_EQ(result.routes.size(), 2u);
  EXPECT_EQ(result.routes[0].route.oif, 7u);
  EXPECT_EQ(result.routes[1].route.oif, 2u);
}

TEST(DesiredRoutesTest, SelfWithoutPodCidrStillRoutesOthers) {
  auto result = compute({node("node-a", {}, {"198.51.100.11"}), node("b", {"10.244.2.0/24"}, {"198.51.100.12"})});
  ASSERT_EQ(result.routes.size(), 1u);
}

TEST(DesiredRoutesTest, SelfAbsentStillRoutesOthersButNotToOwnAddress) {
  auto result = compute(
      {node("b", {"10.244.2.0/24"}, {"198.51.100.12"}), node("wrong-name", {"10.244.1.0/24"}, {"198.51.100.11"})});
  ASSERT_EQ(result.routes.size(), 1u);
  EXPECT_EQ(find_skip(result, "wrong-name", Family::v4)->reason, SkipReason::own_address);
}

TEST(DesiredRoutesTest, InsideClusterCidrIsAccepted) {
  DesiredRoutesOptions options;
  options.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8::/48")};
  auto result =
      compute({self_node(), node("b", {"10.244.2.0/24", "2001:db8:0:2::/64"}, {"198.51.100.12", "2001:db8:ffff::12"})},
              options);
  EXPECT_EQ(result.routes.size(), 2u);
}

TEST(DesiredRoutesTest, ThousandsOfNodesAreAllRouted) {
  std::vector<k8s::NodeInfo> nodes;
  for (int i = 0; i < 5000; ++i) {
    nodes.push_back(node("node-" + std::to_string(i),
                         {"10.244." + std::to_string(i * 8 / 256) + "." + std::to_string(i * 8 % 256) + "/29"},
                         {"100.64." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)}));
  }
  std::vector<ConnectedNetwork> connected = {network("100.64.0.0/16", "100.64.255.254", 2, "eth0")};
  auto result = compute(nodes, {}, connected);
  EXPECT_EQ(result.routes.size(), 5000u);
  EXPECT_TRUE(result.skipped.empty());
}

}  // namespace
}  // namespace hostgw::controller
