#include "controller/pod_cidr_index.hpp"

#include <gtest/gtest.h>

#include "test-support/node_factory.hpp"

namespace hostgw::controller {
namespace {

using routing::IpPrefix;
using test_support::node;

TEST(PodCidrIndexTest, FindsContainingEqualAndContainedPrefixesOfOtherNodesOnly) {
  PodCidrIndex index;
  index.set("b", {"10.244.2.0/24", "2001:db8:2::/64"});
  index.set("c", {"10.244.3.0/24", "not a cidr"});
  // Its own prefixes are no overlap.
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.2.0/24"), "b"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.2.0/24"), "x"));   // equal
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.2.64/26"), "x"));  // inside b's
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.0.0/16"), "x"));   // contains b's and c's
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("0.0.0.0/0"), "x"));
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.4.0/24"), "x"));  // neighbour
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.1.0/24"), "x"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("2001:db8::/32"), "x"));
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("2001:db8:3::/64"), "x"));
  // Two nodes on one prefix: an overlap even for one of them.
  index.set("d", {"10.244.3.0/24"});
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.3.0/24"), "c"));
  index.erase("d");
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.3.0/24"), "c"));
  // set() replaces the node's prefixes.
  index.set("b", {"10.244.20.0/24"});
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.2.0/24"), "x"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.20.0/24"), "x"));
  index.erase("b");
  index.erase("c");
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("0.0.0.0/0"), "x"));
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("::/0"), "x"));
}

TEST(PodCidrIndexTest, RebuildFollowsTheView) {
  ClusterView view;
  view.apply(test_support::node_list(
      {node("a", {"10.244.1.0/24"}, {"198.51.100.11"}), node("b", {"10.244.2.0/24"}, {"198.51.100.12"})}));
  PodCidrIndex index;
  index.set("gone", {"10.244.9.0/24"});
  index.rebuild(view);
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.9.0/24"), "x"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.1.0/25"), "x"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.2.0/24"), "x"));
}

}  // namespace
}  // namespace hostgw::controller
