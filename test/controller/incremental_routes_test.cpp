#include "controller/incremental_routes.hpp"

#include <gtest/gtest.h>

namespace hostgw::controller {
namespace {

using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;
using Type = k8s::NodeEvent::Type;

k8s::NodeInfo node(std::string name, std::vector<std::string> cidrs, std::string address) {
  k8s::NodeInfo info;
  info.name = std::move(name);
  info.resource_version = "1";
  info.pod_cidrs = std::move(cidrs);
  info.internal_ips = {std::move(address)};
  return info;
}

Route route(const char* destination, const char* gateway) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(gateway);
  r.oif = 2;
  if (r.destination.family() == routing::Family::v6) r.metric = kIpv6DefaultMetric;
  return r;
}

TEST(PodCidrIndexTest, FindsContainingEqualAndContainedPrefixesOfOtherNodesOnly) {
  PodCidrIndex index;
  index.set("b", {"10.244.2.0/24", "2001:db8:2::/64"});
  index.set("c", {"10.244.3.0/24", "not a cidr"});
  EXPECT_EQ(index.size(), 3u);
  // Its own prefixes are no overlap.
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.2.0/24"), "b"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.2.0/24"), "x"));        // equal
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.2.64/26"), "x"));       // inside b's
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.0.0/16"), "x"));        // contains b's and c's
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("0.0.0.0/0"), "x"));
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.4.0/24"), "x"));       // neighbour
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
  EXPECT_EQ(index.size(), 0u);
}

TEST(PodCidrIndexTest, RebuildFollowsTheView) {
  ClusterView view;
  k8s::NodeEvent list;
  list.type = Type::resynced;
  list.nodes = {node("a", {"10.244.1.0/24"}, "198.51.100.11"), node("b", {"10.244.2.0/24"}, "198.51.100.12")};
  view.apply(list);
  PodCidrIndex index;
  index.set("gone", {"10.244.9.0/24"});
  index.rebuild(view);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_FALSE(index.overlaps_other(IpPrefix::parse("10.244.9.0/24"), "x"));
  EXPECT_TRUE(index.overlaps_other(IpPrefix::parse("10.244.1.0/25"), "x"));
}

class IncrementalRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    k8s::NodeEvent list;
    list.type = Type::resynced;
    list.nodes = {node("a", {"10.244.1.0/24"}, "198.51.100.11"), node("b", {"10.244.2.0/24"}, "198.51.100.12"),
                  node("c", {"10.244.3.0/24"}, "198.51.100.13")};
    view_.apply(list);
    index_.rebuild(view_);
    connected_ = {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}};
    // As a full pass would: desired routes, a dump with b's route, c's added by the pass.
    DesiredRoutes desired = desired_routes(view_.nodes(), "a", connected_, options_);
    ASSERT_EQ(desired.routes.size(), 2u);
    model_.reset(connected_, {route("10.244.2.0/24", "198.51.100.12")}, desired,
                 {{ChangeKind::add, route("10.244.3.0/24", "198.51.100.13")}});
  }

  void upsert(k8s::NodeInfo info) {
    k8s::NodeEvent e;
    e.type = Type::modified;
    e.node = std::move(info);
    view_.apply(e);
    const auto* stored = view_.find(e.node.name);
    index_.set(stored->name, stored->pod_cidrs);
  }
  void remove(const std::string& name) {
    k8s::NodeEvent e;
    e.type = Type::deleted;
    e.node.name = name;
    view_.apply(e);
    index_.erase(name);
  }
  std::optional<std::vector<PlannedChange>> plan(const std::string& name) {
    return model_.plan_node(name, view_.find(name), view_, "a", options_, index_);
  }

  ClusterView view_;
  PodCidrIndex index_;
  std::vector<routing::ConnectedNetwork> connected_;
  DesiredRoutesOptions options_;
  IncrementalRoutes model_;
};

TEST_F(IncrementalRoutesTest, AddReplaceMoveDeleteOfOneNode) {
  EXPECT_TRUE(model_.valid());
  EXPECT_EQ(model_.installed_routes(), 2u);
  upsert(node("d", {"10.244.4.0/24"}, "198.51.100.14"));
  auto changes = plan("d");
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].change, (routing::RouteChange{ChangeKind::add, route("10.244.4.0/24", "198.51.100.14")}));
  EXPECT_EQ((*changes)[0].node, "d");
  EXPECT_EQ(model_.installed_routes(), 3u);
  EXPECT_EQ(model_.wanted_routes(), 3u);

  // Nothing changed: nothing to do.
  changes = plan("d");
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->empty());

  upsert(node("d", {"10.244.4.0/24"}, "198.51.100.24"));
  changes = plan("d");
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].change,
            (routing::RouteChange{ChangeKind::replace, route("10.244.4.0/24", "198.51.100.24")}));

  // New podCIDR (and a second family): the old route goes first, then the adds.
  // A second family without an address of that family: a skip, left to the full pass.
  upsert(node("d", {"10.244.40.0/24", "2001:db8:4::/64"}, "198.51.100.24"));
  EXPECT_FALSE(plan("d"));
}

TEST_F(IncrementalRoutesTest, PodCidrMoveRemovesBeforeAdding) {
  upsert(node("c", {"10.244.30.0/24"}, "198.51.100.13"));
  auto changes = plan("c");
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].change, (routing::RouteChange{ChangeKind::remove, route("10.244.3.0/24", "198.51.100.13")}));
  EXPECT_EQ((*changes)[0].node, "c");
  EXPECT_EQ((*changes)[1].change, (routing::RouteChange{ChangeKind::add, route("10.244.30.0/24", "198.51.100.13")}));
  remove("c");
  changes = plan("c");
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].change.kind, ChangeKind::remove);
  EXPECT_EQ(model_.installed_routes(), 1u);
  EXPECT_EQ(model_.wanted_routes(), 1u);
}

TEST_F(IncrementalRoutesTest, FallsBackForSelfOverlapsSkipsAndWhenInvalid) {
  upsert(node("a", {"10.244.11.0/24"}, "198.51.100.11"));
  EXPECT_FALSE(plan("a"));  // this host
  upsert(node("x", {"10.244.2.0/25"}, "198.51.100.30"));
  EXPECT_FALSE(plan("x"));  // inside b's podCIDR
  upsert(node("y", {"10.244.9.0/24"}, "203.0.113.9"));
  EXPECT_FALSE(plan("y"));  // not on a connected network: a skip
  upsert(node("z", {}, "198.51.100.31"));
  EXPECT_FALSE(plan("z"));  // no podCIDR: a skip
  remove("x");
  // b gives up its podCIDR while another node's is inside it: full pass.
  upsert(node("w", {"10.244.2.128/25"}, "198.51.100.32"));
  upsert(node("b", {"10.244.22.0/24"}, "198.51.100.12"));
  EXPECT_FALSE(plan("b"));
  model_.invalidate();
  EXPECT_FALSE(plan("c"));
  EXPECT_FALSE(model_.plan_route_events({{true, route("10.244.3.0/24", "198.51.100.13")}}));
}

TEST_F(IncrementalRoutesTest, SkippedNodeOfTheFullPassFallsBack) {
  upsert(node("y", {"10.244.9.0/24"}, "203.0.113.9"));
  DesiredRoutes desired = desired_routes(view_.nodes(), "a", connected_, options_);
  model_.reset(connected_, desired.routes, desired, {});
  upsert(node("y", {"10.244.9.0/24"}, "198.51.100.9"));
  EXPECT_FALSE(plan("y"));
}

TEST_F(IncrementalRoutesTest, DeletedOwnedRouteIsAddedBackOtherEventsFallBack) {
  const std::size_t installed = model_.installed_routes();
  ASSERT_GT(installed, 0u);
  auto changes = model_.plan_route_events({{true, route("10.244.2.0/24", "198.51.100.12")}});
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].change, (routing::RouteChange{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}));
  EXPECT_EQ((*changes)[0].node, "b");
  EXPECT_EQ(model_.installed_routes(), installed);  // deleted, then planned back
  // A deletion that does not match the model's route exactly (here: no
  // gateway) empties the key: the wanted route is added again.
  Route bare = route("10.244.3.0/24", "198.51.100.13");
  bare.gateway.reset();
  changes = model_.plan_route_events({{true, bare}});
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].change, (routing::RouteChange{ChangeKind::add, route("10.244.3.0/24", "198.51.100.13")}));
  EXPECT_EQ(model_.installed_routes(), installed);
  // A stale route nobody wants any more, deleted by someone else: nothing to do.
  changes = model_.plan_route_events({{true, route("10.244.77.0/24", "198.51.100.77")}});
  ASSERT_TRUE(changes);
  EXPECT_TRUE(changes->empty());
  EXPECT_EQ(model_.installed_routes(), installed);
  // An owned route added by someone else: unknown what it displaced.
  EXPECT_FALSE(model_.plan_route_events({{false, route("10.244.2.0/24", "198.51.100.99")}}));
}

TEST_F(IncrementalRoutesTest, SeveralRoutesUnderOneKeyKeepOnlyTheWantedOne) {
  DesiredRoutes desired = desired_routes(view_.nodes(), "a", connected_, options_);
  // IPv6 keeps one route per gateway under a key; two IPv4 entries stand in here.
  model_.reset(connected_,
               {route("10.244.2.0/24", "198.51.100.12"), route("10.244.2.0/24", "198.51.100.98"),
                route("10.244.2.0/24", "198.51.100.99"), route("10.244.3.0/24", "198.51.100.13")},
               desired, {});
  EXPECT_EQ(model_.installed_routes(), 4u);
  auto changes = model_.plan_route_events({{true, route("10.244.2.0/24", "198.51.100.12")}});
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0].change, (routing::RouteChange{ChangeKind::remove, route("10.244.2.0/24", "198.51.100.98")}));
  EXPECT_EQ((*changes)[1].change, (routing::RouteChange{ChangeKind::remove, route("10.244.2.0/24", "198.51.100.99")}));
  EXPECT_EQ((*changes)[2].change, (routing::RouteChange{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}));
  EXPECT_EQ(model_.installed_routes(), 2u);
  // One route left under the key and it is not the wanted one: replaced.
  model_.reset(connected_, {route("10.244.2.0/24", "198.51.100.12"), route("10.244.2.0/24", "198.51.100.99")},
               desired, {});
  changes = model_.plan_route_events({{true, route("10.244.2.0/24", "198.51.100.12")}});
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);  // only the key of the event is looked at
  EXPECT_EQ((*changes)[0].change,
            (routing::RouteChange{ChangeKind::replace, route("10.244.2.0/24", "198.51.100.12")}));
}

}  // namespace
}  // namespace hostgw::controller
