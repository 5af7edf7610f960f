#include "controller/desired_pod_network.hpp"

#include <gtest/gtest.h>

#include "test-support/ip_values.hpp"

namespace hostgw::controller {
namespace {

using routing::IpAddress;
using routing::IpPrefix;

using test_support::prefixes;

TEST(DesiredMasqueradeTest, ClusterCidrsWhenGivenElseEveryNodesPodCidrs) {
  auto node_pod_cidrs = prefixes({"10.244.2.0/24", "10.244.1.0/24", "2001:db8:244:1::/64"});
  std::vector<IpAddress> node_addresses = {IpAddress::parse("198.51.100.12"), IpAddress::parse("198.51.100.11")};
  auto with = desired_masquerade_sets(prefixes({"10.244.0.0/16", "2001:db8:244::/56"}), node_pod_cidrs, node_addresses,
                                      prefixes({"203.0.113.0/24"}));
  EXPECT_EQ(with.pod_cidrs, prefixes({"10.244.0.0/16", "2001:db8:244::/56"}));
  EXPECT_EQ(with.node_addresses,
            (std::vector<IpAddress>{IpAddress::parse("198.51.100.11"), IpAddress::parse("198.51.100.12")}));
  EXPECT_EQ(with.no_masquerade, prefixes({"203.0.113.0/24"}));
  auto without = desired_masquerade_sets({}, node_pod_cidrs, node_addresses, {});
  EXPECT_EQ(without.pod_cidrs, prefixes({"10.244.1.0/24", "10.244.2.0/24", "2001:db8:244:1::/64"}));
  EXPECT_TRUE(without.no_masquerade.empty());
}

TEST(DesiredOwnPodCidrRoutesTest, OneUnreachableRoutePerPodCidr) {
  auto routes = desired_own_pod_cidr_routes(prefixes({"2001:db8:244:1::/64", "10.244.1.0/24"}), 44);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].to_string(), "unreachable 10.244.1.0/24 table 254 proto 44 metric 4278198272");
  EXPECT_EQ(routes[1].to_string(), "unreachable 2001:db8:244:1::/64 table 254 proto 44 metric 4278198272");
  EXPECT_FALSE(routes[0].gateway);
  EXPECT_EQ(routes[0].oif, 0u);
  EXPECT_TRUE(desired_own_pod_cidr_routes({}, 44).empty());
  auto custom = desired_own_pod_cidr_routes(prefixes({"10.244.1.0/24", "10.244.1.0/24"}), 99, 100, 7);
  ASSERT_EQ(custom.size(), 1u);
  EXPECT_EQ(custom[0].to_string(), "unreachable 10.244.1.0/24 table 100 proto 99 metric 7");
}

}  // namespace
}  // namespace hostgw::controller
