// RouteTarget: the per-key diff of a full pass, and the incremental step
// restricted to one node's keys (or to routes someone else deleted) against
// the model of the last clean pass.

#include "controller/route_target.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "routing/fake_route_table.hpp"
#include "test-support/node_factory.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;
using test_support::node;
using Type = k8s::NodeEvent::Type;

Route route(const char* destination, const char* gateway, std::uint32_t oif = 2) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(gateway);
  r.oif = oif;
  if (r.destination.family() == routing::Family::v6) r.metric = kIpv6DefaultMetric;
  return r;
}

// The changes of a delta in batch order (removals first), as (kind, route).
std::vector<routing::RouteChange> changes(const Delta& delta) {
  std::vector<routing::RouteChange> out;
  for (const auto* list : {&delta.removals, &delta.upserts})
    for (const auto& change : *list) out.push_back({change.kind, std::get<Route>(change.item)});
  return out;
}

class RouteTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    view_.apply(test_support::node_list({node("a", {"10.244.1.0/24"}, {"198.51.100.11"}),
                                         node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                         node("c", {"10.244.3.0/24"}, {"198.51.100.13"})}));
    index_.rebuild(view_);
    // As a full pass would: a dump with b's route; c's added by the pass.
    full_pass({route("10.244.2.0/24", "198.51.100.12")});
  }

  // A clean full pass over `dump`: read, diff, every change applied (or, to
  // build a model by hand, none of them).
  Delta full_pass(std::vector<Route> dump, bool apply = true) {
    KernelFacts kernel{connected_, std::move(dump)};
    DesiredState desired = desired_state(view_, "a", kernel, options_);
    Bindings bindings;
    asio::co_spawn(io_, target_.read(desired, kernel, bindings), asio::detached);
    io_.restart();
    io_.run();
    Delta delta = target_.diff(desired, bindings);
    std::vector<ItemChange> applied;
    if (apply) {
      applied = delta.removals;
      applied.insert(applied.end(), delta.upserts.begin(), delta.upserts.end());
    }
    target_.after_pass(applied, true);
    model_.reset(desired, options_);
    return delta;
  }

  void upsert(k8s::NodeInfo info) { view_.apply(test_support::node_event(Type::modified, std::move(info))); }
  void remove(const std::string& name) {
    k8s::NodeInfo gone;
    gone.name = k8s::NodeName(name);
    view_.apply(test_support::node_event(Type::deleted, gone));
  }
  std::optional<Delta> plan(const std::string& name) {
    if (const auto* stored = view_.find(name)) {
      index_.set(stored->name, stored->pod_cidrs);
    } else {
      index_.erase(name);
    }
    auto update = model_.update_node(name, view_.find(name), index_);
    if (!update) return std::nullopt;
    return target_.plan_update(*update, model_);
  }

  asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  RouteTarget target_{table_, metrics_};
  ClusterView view_;
  PodCidrIndex index_;
  std::vector<routing::ConnectedNetwork> connected_{
      {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}};
  DesiredStateOptions options_;
  DesiredModel model_;
};

TEST_F(RouteTargetTest, FullPassDiffsEveryKeyAndNamesNodesAndLinks) {
  Route stale = route("10.244.9.0/24", "198.51.100.19");
  Delta delta = full_pass({route("10.244.2.0/24", "198.51.100.99"), stale});
  EXPECT_EQ(changes(delta),
            (std::vector<routing::RouteChange>{{ChangeKind::remove, stale},
                                               {ChangeKind::replace, route("10.244.2.0/24", "198.51.100.12")},
                                               {ChangeKind::add, route("10.244.3.0/24", "198.51.100.13")}}));
  EXPECT_EQ(delta.upserts[0].node, "b");
  EXPECT_EQ(delta.upserts[0].previous, "10.244.2.0/24 via 198.51.100.99 dev eth0");
  EXPECT_EQ(delta.upserts[1].node, "c");
  EXPECT_EQ(delta.removals[0].node, "unknown");  // nobody's any more, never seen
  EXPECT_EQ(target_.describe(delta.upserts[1].item), "10.244.3.0/24 via 198.51.100.13 dev eth0");
  EXPECT_EQ(target_.installed_routes(), 2u);
  EXPECT_TRUE(target_.model_valid());
}

TEST_F(RouteTargetTest, LinkWithoutAKnownNameIsNamedByItsIndex) {
  EXPECT_EQ(route_text(route("10.244.2.0/24", "198.51.100.12", 7), {{2, "eth0"}}),
            "10.244.2.0/24 via 198.51.100.12 dev #7");
  EXPECT_EQ(route_text(route("10.244.2.0/24", "198.51.100.12", 2), {{2, "eth0"}}),
            "10.244.2.0/24 via 198.51.100.12 dev eth0");
  Route bare = route("10.244.2.0/24", "198.51.100.12", 0);
  bare.gateway.reset();
  EXPECT_EQ(route_text(bare, {}), "10.244.2.0/24");
}

TEST_F(RouteTargetTest, AddReplaceMoveDeleteOfOneNode) {
  EXPECT_EQ(target_.installed_routes(), 2u);
  upsert(node("d", {"10.244.4.0/24"}, {"198.51.100.14"}));
  auto delta = plan("d");
  ASSERT_TRUE(delta);
  EXPECT_EQ(changes(*delta),
            (std::vector<routing::RouteChange>{{ChangeKind::add, route("10.244.4.0/24", "198.51.100.14")}}));
  EXPECT_EQ(delta->upserts[0].node, "d");
  EXPECT_EQ(target_.installed_routes(), 3u);
  EXPECT_EQ(model_.routes().size(), 3u);

  // Nothing changed: nothing to do.
  delta = plan("d");
  ASSERT_TRUE(delta);
  EXPECT_TRUE(delta->empty());

  upsert(node("d", {"10.244.4.0/24"}, {"198.51.100.24"}));
  delta = plan("d");
  ASSERT_TRUE(delta);
  EXPECT_EQ(changes(*delta),
            (std::vector<routing::RouteChange>{{ChangeKind::replace, route("10.244.4.0/24", "198.51.100.24")}}));

  // A second family without an address of that family: a skip, left to the full pass.
  upsert(node("d", {"10.244.40.0/24", "2001:db8:4::/64"}, {"198.51.100.24"}));
  EXPECT_FALSE(plan("d"));
}

TEST_F(RouteTargetTest, PodCidrMoveRemovesBeforeAdding) {
  upsert(node("c", {"10.244.30.0/24"}, {"198.51.100.13"}));
  auto delta = plan("c");
  ASSERT_TRUE(delta);
  EXPECT_EQ(changes(*delta),
            (std::vector<routing::RouteChange>{{ChangeKind::remove, route("10.244.3.0/24", "198.51.100.13")},
                                               {ChangeKind::add, route("10.244.30.0/24", "198.51.100.13")}}));
  EXPECT_EQ(delta->removals[0].node, "c");
  remove("c");
  delta = plan("c");
  ASSERT_TRUE(delta);
  EXPECT_EQ(changes(*delta),
            (std::vector<routing::RouteChange>{{ChangeKind::remove, route("10.244.30.0/24", "198.51.100.13")}}));
  EXPECT_EQ(delta->removals[0].node, "c");
  EXPECT_EQ(target_.installed_routes(), 1u);
  EXPECT_EQ(model_.routes().size(), 1u);
}

TEST_F(RouteTargetTest, FallsBackForSelfOverlapsSkipsAndWhenInvalid) {
  upsert(node("a", {"10.244.11.0/24"}, {"198.51.100.11"}));
  EXPECT_FALSE(plan("a"));  // this host
  upsert(node("x", {"10.244.2.0/25"}, {"198.51.100.30"}));
  EXPECT_FALSE(plan("x"));  // inside b's podCIDR
  upsert(node("y", {"10.244.9.0/24"}, {"203.0.113.9"}));
  EXPECT_FALSE(plan("y"));  // not on a connected network: a skip
  upsert(node("z", {}, {"198.51.100.31"}));
  EXPECT_FALSE(plan("z"));  // no podCIDR: a skip
  remove("x");
  plan("x");
  // b gives up its podCIDR while another node's is inside it: full pass.
  upsert(node("w", {"10.244.2.128/25"}, {"198.51.100.32"}));
  index_.set("w", {"10.244.2.128/25"});
  upsert(node("b", {"10.244.22.0/24"}, {"198.51.100.12"}));
  EXPECT_FALSE(plan("b"));
  // No clean pass to build on: neither a node nor a repair can be planned.
  target_.after_step(false);
  upsert(node("c", {"10.244.3.0/24"}, {"198.51.100.23"}));
  EXPECT_FALSE(plan("c"));
  EXPECT_FALSE(target_.plan_repair({{true, route("10.244.3.0/24", "198.51.100.13")}}, model_));
}

TEST_F(RouteTargetTest, SkippedNodeOfTheFullPassFallsBack) {
  upsert(node("y", {"10.244.9.0/24"}, {"203.0.113.9"}));
  full_pass({route("10.244.2.0/24", "198.51.100.12"), route("10.244.3.0/24", "198.51.100.13")});
  upsert(node("y", {"10.244.9.0/24"}, {"198.51.100.9"}));
  EXPECT_FALSE(plan("y"));
}

TEST_F(RouteTargetTest, DeletedOwnedRouteIsAddedBackOtherEventsFallBack) {
  const std::size_t installed = target_.installed_routes();
  ASSERT_GT(installed, 0u);
  auto delta = target_.plan_repair({{true, route("10.244.2.0/24", "198.51.100.12")}}, model_);
  ASSERT_TRUE(delta);
  EXPECT_EQ(changes(*delta),
            (std::vector<routing::RouteChange>{{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}}));
  EXPECT_EQ(delta->upserts[0].node, "b");
  EXPECT_EQ(target_.installed_routes(), installed);  // deleted, then planned back
  // A deletion that does not match the model's route exactly (here: no
  // gateway) empties the key: the wanted route is added again.
  Route bare = route("10.244.3.0/24", "198.51.100.13");
  bare.gateway.reset();
  delta = target_.plan_repair({{true, bare}}, model_);
  ASSERT_TRUE(delta);
  EXPECT_EQ(changes(*delta),
            (std::vector<routing::RouteChange>{{ChangeKind::add, route("10.244.3.0/24", "198.51.100.13")}}));
  EXPECT_EQ(target_.installed_routes(), installed);
  // A stale route nobody wants any more, deleted by someone else: nothing to do.
  delta = target_.plan_repair({{true, route("10.244.77.0/24", "198.51.100.77")}}, model_);
  ASSERT_TRUE(delta);
  EXPECT_TRUE(delta->empty());
  EXPECT_EQ(target_.installed_routes(), installed);
  // An owned route added by someone else: unknown what it displaced.
  EXPECT_FALSE(target_.plan_repair({{false, route("10.244.2.0/24", "198.51.100.99")}}, model_));
}

TEST_F(RouteTargetTest, DesiredRoutesOutOfOrderOrTwiceGiveTheSameDiff) {
  // DesiredRoutes promises key order, each key once; the diff walks it as it
  // is. Should the promise break, the result is still the map's: the first
  // entry of a key wins.
  KernelFacts kernel{connected_, {route("10.244.3.0/24", "198.51.100.99")}};
  const DesiredState desired = desired_state(view_, "a", kernel, options_);
  ASSERT_EQ(desired.routes.routes.size(), 2u);
  auto diff = [&](const DesiredState& state) {
    Bindings bindings;
    asio::co_spawn(io_, target_.read(state, kernel, bindings), asio::detached);
    io_.restart();
    io_.run();
    return changes(target_.diff(state, bindings));
  };
  const auto expected = diff(desired);
  EXPECT_EQ(expected, (std::vector<routing::RouteChange>{{ChangeKind::replace, route("10.244.3.0/24", "198.51.100.13")},
                                                         {ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}}));
  DesiredState shuffled = desired;
  std::reverse(shuffled.routes.routes.begin(), shuffled.routes.routes.end());
  NodeRoute second = shuffled.routes.routes.back();  // b's, after c's now
  second.route.gateway = IpAddress::parse("198.51.100.98");
  shuffled.routes.routes.push_back(second);
  EXPECT_EQ(diff(shuffled), expected);
}

TEST_F(RouteTargetTest, SeveralRoutesUnderOneKeyKeepOnlyTheWantedOne) {
  // IPv6 keeps one route per gateway under a key; two IPv4 entries stand in here.
  Delta delta = full_pass({route("10.244.2.0/24", "198.51.100.12"), route("10.244.2.0/24", "198.51.100.98"),
                           route("10.244.2.0/24", "198.51.100.99"), route("10.244.3.0/24", "198.51.100.13")},
                          /*apply=*/false);
  EXPECT_EQ(changes(delta),
            (std::vector<routing::RouteChange>{{ChangeKind::remove, route("10.244.2.0/24", "198.51.100.98")},
                                               {ChangeKind::remove, route("10.244.2.0/24", "198.51.100.99")}}));
  EXPECT_EQ(target_.installed_routes(), 4u);
  // The repair of a key: the same per-key diff, over that key only.
  auto repair = target_.plan_repair({{true, route("10.244.2.0/24", "198.51.100.12")}}, model_);
  ASSERT_TRUE(repair);
  EXPECT_EQ(changes(*repair),
            (std::vector<routing::RouteChange>{{ChangeKind::remove, route("10.244.2.0/24", "198.51.100.98")},
                                               {ChangeKind::remove, route("10.244.2.0/24", "198.51.100.99")},
                                               {ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}}));
  EXPECT_EQ(target_.installed_routes(), 2u);
  // One route left under the key and it is not the wanted one: replaced.
  full_pass({route("10.244.2.0/24", "198.51.100.12"), route("10.244.2.0/24", "198.51.100.99")}, /*apply=*/false);
  repair = target_.plan_repair({{true, route("10.244.2.0/24", "198.51.100.12")}}, model_);
  ASSERT_TRUE(repair);
  EXPECT_EQ(changes(*repair),  // only the key of the event is looked at
            (std::vector<routing::RouteChange>{{ChangeKind::replace, route("10.244.2.0/24", "198.51.100.12")}}));
}

}  // namespace
}  // namespace hostgw::controller
