// --adopt-protocol through the engine: which routes of another protocol a full
// pass takes over (rewritten in place with one replace, never deleted and
// added), deletes (no node backs them) or leaves alone (outside the cluster
// CIDR, another protocol, the default route, another table, no gateway), over
// the in-memory FakeRouteTable. Also route_adoption_order() and the counter.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "controller/engine.hpp"
#include "controller/route_target.hpp"
#include "routing/fake_route_table.hpp"
#include "test-support/node_factory.hpp"
#include "test-support/run_until.hpp"

namespace hostgw::controller {
namespace {

using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;
using test_support::node;

constexpr std::uint8_t kBoot = 3;
constexpr std::uint8_t kStatic = 4;

Route route(const char* destination, const char* gateway, std::uint8_t protocol, std::uint32_t table = 254,
            std::uint32_t metric = 0) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  if (gateway) r.gateway = IpAddress::parse(gateway);
  r.oif = 2;
  r.protocol = protocol;
  r.table = table;
  r.metric = metric;
  if (r.destination.family() == routing::Family::v6 && metric == 0) r.metric = kIpv6DefaultMetric;
  return r;
}

class RouteAdoptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.set_connected_networks(
        {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500},
         {IpPrefix::parse("2001:db8:100::/64"), IpAddress::parse("2001:db8:100::11"), 2, "eth0", 1500}});
    view_.apply(test_support::node_list({
        node("a", {"10.244.1.0/24"}, {"198.51.100.11"}),
        node("b", {"10.244.2.0/24", "2001:db8:244:2::/64"}, {"198.51.100.12", "2001:db8:100::12"}),
        node("c", {"10.244.3.0/24"}, {"198.51.100.13"}),
    }));
    options_.node_name = "a";
    options_.desired.routes.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8:244::/48")};
    options_.desired.routes.adopt_protocols = {kBoot};
    options_.desired.pod_network.own_pod_cidr_routes = false;
  }

  Engine::PassResult pass() {
    if (!engine_) engine_ = std::make_unique<Engine>(table_, nullptr, options_, metrics_);
    return test_support::run_coroutine(io_, engine_->full_pass(view_));
  }

  // What the fake holds under the key of `r` (any protocol), or nullptr.
  const Route* at(const Route& r) const { return table_.find(routing::key_of(r)); }

  double adopted(const char* op) {
    auto body = registry_.render();
    const std::string series = std::string("kube_hostgw_routes_adopted_total{protocol=\"boot\",op=\"") + op + "\"} ";
    auto at = body.find(series);
    return at == std::string::npos ? 0 : std::stod(body.substr(at + series.size()));
  }

  boost::asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  ClusterView view_;
  EngineOptions options_;
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  std::unique_ptr<Engine> engine_;
};

TEST_F(RouteAdoptionTest, FlannelRoutesAreRewrittenInPlaceStaleOnesDeletedTheRestLeftAlone) {
  const Route equal = route("10.244.2.0/24", "198.51.100.12", kBoot);            // as wanted, but boot
  const Route equal6 = route("2001:db8:244:2::/64", "2001:db8:100::12", kBoot);  // IPv6 (metric 1024)
  const Route other_gateway = route("10.244.3.0/24", "198.51.100.12", kBoot);    // c's via b
  const Route stale = route("10.244.9.0/24", "198.51.100.12", kBoot);            // no node has it
  const Route outside = route("203.0.113.128/25", "198.51.100.13", kBoot);       // outside the cluster CIDR
  const Route default_route = route("0.0.0.0/0", "198.51.100.13", kBoot);
  const Route other_table = route("10.244.5.0/24", "198.51.100.12", kBoot, 100);
  const Route other_protocol = route("10.244.6.0/24", "198.51.100.12", kStatic);
  const Route no_gateway = route("10.244.7.0/24", nullptr, kBoot);
  for (const auto& r : {equal, equal6, other_gateway, stale, outside, default_route, other_table, other_protocol,
                        no_gateway})
    table_.seed(r);

  auto result = pass();
  ASSERT_TRUE(result.failed_step.empty()) << result.failed_step;
  EXPECT_TRUE(result.outcome.clean);

  // Taken over: one replace each, never a removal of the key.
  for (const auto& before : {equal, equal6, other_gateway}) {
    const Route* now = at(before);
    ASSERT_NE(now, nullptr) << before.to_string();
    EXPECT_EQ(now->protocol, routing::kDefaultRouteProtocol) << now->to_string();
  }
  EXPECT_EQ(at(other_gateway)->gateway, IpAddress::parse("198.51.100.13"));
  std::vector<routing::RouteChange> want{
      {ChangeKind::remove, stale},
      {ChangeKind::replace, route("10.244.2.0/24", "198.51.100.12", routing::kDefaultRouteProtocol)},
      {ChangeKind::replace, route("10.244.3.0/24", "198.51.100.13", routing::kDefaultRouteProtocol)},
      {ChangeKind::replace, route("2001:db8:244:2::/64", "2001:db8:100::12", routing::kDefaultRouteProtocol)},
  };
  EXPECT_EQ(table_.applied(), want);
  // Deleted: no node backs it.
  EXPECT_EQ(at(stale), nullptr);
  // Never touched, whatever the flag says.
  for (const auto& kept : {outside, default_route, other_table, other_protocol, no_gateway}) {
    const Route* now = at(kept);
    ASSERT_NE(now, nullptr) << kept.to_string();
    EXPECT_EQ(*now, kept);
  }
  EXPECT_EQ(adopted("replace"), 3);
  EXPECT_EQ(adopted("delete"), 1);

  // A restart (a new engine over the same kernel) changes nothing.
  const auto before = table_.routes();
  const std::size_t writes = table_.writes();
  engine_.reset();
  pass();
  EXPECT_EQ(table_.routes(), before);
  EXPECT_EQ(table_.writes(), writes);
}

TEST_F(RouteAdoptionTest, WithoutTheFlagNothingOfAnotherProtocolIsTouched) {
  options_.desired.routes.adopt_protocols.clear();
  const Route flannel = route("10.244.2.0/24", "198.51.100.12", kBoot);
  const Route stale = route("10.244.9.0/24", "198.51.100.12", kBoot);
  table_.seed(flannel);
  table_.seed(stale);
  auto result = pass();
  EXPECT_EQ(*at(flannel), flannel);
  EXPECT_EQ(*at(stale), stale);
  EXPECT_FALSE(result.outcome.clean);  // our add meets flannel's route: EEXIST, retried
}

TEST_F(RouteAdoptionTest, OnlyTheListedProtocolsAreAdopted) {
  options_.desired.routes.adopt_protocols = {kStatic};
  const Route boot = route("10.244.9.0/24", "198.51.100.12", kBoot);
  const Route stale_static = route("10.244.8.0/24", "198.51.100.12", kStatic);
  table_.seed(boot);
  table_.seed(stale_static);
  pass();
  EXPECT_EQ(*at(boot), boot);
  EXPECT_EQ(at(stale_static), nullptr);
}

TEST_F(RouteAdoptionTest, ARouteUnderAnotherMetricGoesOnlyAfterOursIsIn) {
  // A boot route with metric 100: ours (metric 0) is another key, so it is an
  // add plus a removal, and the removal goes second.
  const Route flannel = route("10.244.2.0/24", "198.51.100.12", kBoot, 254, 100);
  table_.seed(flannel);
  pass();
  std::vector<routing::RouteChange> of_b;
  for (const auto& change : table_.applied())
    if (change.route.destination == flannel.destination) of_b.push_back(change);
  ASSERT_EQ(of_b.size(), 2u);
  EXPECT_EQ(of_b[0].kind, ChangeKind::add);
  EXPECT_EQ(of_b[0].route.protocol, routing::kDefaultRouteProtocol);
  EXPECT_EQ(of_b[1], (routing::RouteChange{ChangeKind::remove, flannel}));
  EXPECT_EQ(at(flannel), nullptr);
  EXPECT_EQ(at(route("10.244.2.0/24", "198.51.100.12", 44))->protocol, routing::kDefaultRouteProtocol);
}

TEST_F(RouteAdoptionTest, ABootRouteAddedLaterIsAdoptedByTheNextPass) {
  pass();
  const std::size_t writes = table_.writes();
  const Route again = route("10.244.3.0/24", "198.51.100.12", kBoot);  // someone's `ip route replace`
  table_.seed(again);
  pass();
  EXPECT_EQ(table_.writes(), writes + 1);
  EXPECT_EQ(at(again)->protocol, routing::kDefaultRouteProtocol);
  EXPECT_EQ(at(again)->gateway, IpAddress::parse("198.51.100.13"));
}

ItemChange change(ChangeKind kind, const Route& r) { return {kind, r, {}, {}}; }

TEST(RouteAdoptionOrderTest, ARemovalOfAnotherProtocolWaitsForTheUpsertOfItsDestination) {
  const Route boot = route("10.244.2.0/24", "198.51.100.12", kBoot, 254, 100);
  const Route ours = route("10.244.2.0/24", "198.51.100.12", 44);
  const Route stale = route("10.244.9.0/24", "198.51.100.12", kBoot);
  const Route owned_old = route("10.244.3.0/24", "198.51.100.13", 44, 254, 7);
  const Route owned_new = route("10.244.3.0/24", "198.51.100.13", 44);
  std::vector<ItemChange> batch{change(ChangeKind::remove, boot), change(ChangeKind::remove, stale),
                                change(ChangeKind::remove, owned_old), change(ChangeKind::add, ours),
                                change(ChangeKind::add, owned_new)};
  // Our own removal keeps its place (removals free keys); only the adopted one moves.
  EXPECT_EQ(route_adoption_order(batch), (std::vector<std::size_t>{1, 2, 3, 4, 0}));
  std::vector<ItemChange> plain{change(ChangeKind::remove, stale), change(ChangeKind::add, ours)};
  EXPECT_EQ(route_adoption_order(plain), (std::vector<std::size_t>{0, 1}));
}

}  // namespace
}  // namespace hostgw::controller
