// NexthopTarget with RouteTarget, driven through the Reconciler over the fake
// route table (which models nexthop objects as the kernel does): one nexthop
// per routed podCIDR, adoption at restart, a new address as one nexthop
// replace, repair of a nexthop deleted by hand, orphans, and the fallback to
// plain gateway routes in place.

#include "controller/nexthop_target.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "common/log.hpp"
#include "controller/dry_run_route_table.hpp"
#include "controller/reconciler.hpp"
#include "routing/fake_route_table.hpp"
#include "test-support/node_factory.hpp"
#include "test-support/run_until.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::IpAddress;
using routing::IpPrefix;
using routing::kNexthopIdFirst;
using routing::Nexthop;
using routing::Route;
using Type = k8s::NodeEvent::Type;
using test_support::node;
using test_support::node_event;
using test_support::node_list;

class NexthopTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.set_connected_networks(
        {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500},
         {IpPrefix::parse("2001:db8:1::/64"), IpAddress::parse("2001:db8:1::11"), 2, "eth0", 1500}});
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
  }
  void TearDown() override {
    stop();
    log::set_sink(nullptr);
  }

  static ReconcilerOptions options(bool use = true) {
    ReconcilerOptions options;
    options.node_name = "node-a";
    options.resync_period = 3600s;
    options.min_pass_interval = 0ms;
    options.retry_initial = 50ms;
    options.retry_max = 400ms;
    options.nexthops_supported = true;
    options.use_nexthops = use;
    return options;
  }

  // A (re)start of the daemon on the same kernel table, with the node list.
  void start(ReconcilerOptions options, routing::RouteTable* table = nullptr, std::vector<k8s::NodeInfo> list = nodes()) {
    stop();
    reconciler_ =
        std::make_unique<Reconciler>(io_.get_executor(), table ? *table : table_, std::move(options), metrics_);
    asio::co_spawn(io_, reconciler_->run(), asio::detached);
    asio::co_spawn(io_, reconciler_->watch_kernel(table_), asio::detached);
    settle();
    reconciler_->on_node_event(node_list(std::move(list)));
    settle();
  }
  void stop() {
    if (!reconciler_) return;
    reconciler_->stop();
    settle();
    reconciler_.reset();
  }
  void settle() { test_support::settle(io_); }

  static std::vector<k8s::NodeInfo> nodes() {
    return {node("node-a", {"10.244.1.0/24"}, {"198.51.100.11"}), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
            node("node-c", {"10.244.3.0/24", "2001:db8:244:3::/64"}, {"198.51.100.13", "2001:db8:1::13"})};
  }

  const Route* route(const char* destination) const {
    const IpPrefix prefix = IpPrefix::parse(destination);
    return table_.find({routing::kMainTable, prefix, prefix.family() == routing::Family::v6 ? 1024u : 0u});
  }
  // The gateway the route to `destination` goes through, via its nexthop.
  std::optional<IpAddress> gateway_of(const char* destination) const {
    const Route* r = route(destination);
    if (!r || r->nexthop_id == 0) return std::nullopt;
    const Nexthop* nexthop = table_.find_nexthop(r->nexthop_id);
    if (!nexthop || nexthop->protocol != routing::kDefaultRouteProtocol) return std::nullopt;
    return nexthop->gateway;
  }
  std::size_t log_lines_with(std::string_view text) const {
    std::size_t count = 0;
    for (const auto& line : log_)
      if (line.find(text) != std::string::npos) ++count;
    return count;
  }

  asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<std::string> log_;
};

TEST_F(NexthopTargetTest, EveryRouteGoesThroughANexthopOfItsOwnIpv4AndIpv6) {
  start(options());
  EXPECT_EQ(gateway_of("10.244.2.0/24"), IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(gateway_of("10.244.3.0/24"), IpAddress::parse("198.51.100.13"));
  EXPECT_EQ(gateway_of("2001:db8:244:3::/64"), IpAddress::parse("2001:db8:1::13"));
  const auto nexthops = table_.nexthops();
  ASSERT_EQ(nexthops.size(), 3u);
  for (const auto& nexthop : nexthops) {
    EXPECT_GE(nexthop.id, kNexthopIdFirst);
    EXPECT_LE(nexthop.id, routing::kNexthopIdLast);
    EXPECT_EQ(nexthop.oif, 2u);
  }
  const Route* b = route("10.244.2.0/24");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->gateway);
  EXPECT_EQ(b->oif, 0u);
  EXPECT_EQ(log_lines_with("\"Nexthop added\" node=\"node-b\""), 1u);
  EXPECT_EQ(metrics_.nexthop_objects.value(), 1);
  EXPECT_EQ(metrics_.nexthop_changes(routing::ChangeKind::add, true).value(), 3);
}

// A route through a nexthop object names its id and the gateway and link it
// stands for in the log, as `ip route` shows it, in a full pass and in a step.
TEST_F(NexthopTargetTest, RouteLogLinesNameTheGatewayBehindTheirNexthop) {
  start(options());
  const Route* b = route("10.244.2.0/24");
  ASSERT_TRUE(b);
  EXPECT_EQ(log_lines_with("\"Route added\" node=\"node-b\" route=\"10.244.2.0/24 nhid " +
                           std::to_string(b->nexthop_id) + " via 198.51.100.12 dev eth0\""),
            1u);
  EXPECT_EQ(log_lines_with(" nhid " + std::to_string(route("2001:db8:244:3::/64")->nexthop_id) +
                           " via 2001:db8:1::13 dev eth0\""),
            1u);
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  ASSERT_TRUE(test_support::run_until(io_, [&] { return route("10.244.4.0/24") != nullptr; }));
  EXPECT_EQ(log_lines_with("\"Route added\" node=\"node-d\" route=\"10.244.4.0/24 nhid " +
                           std::to_string(route("10.244.4.0/24")->nexthop_id) + " via 198.51.100.14 dev eth0\""),
            1u);
}

TEST_F(NexthopTargetTest, AFirstPassOfThousandsGoesInSlicesAndEachResultFindsItsOwnChange) {
  // 2100 IPv6 nodes: 2099 nexthops and 2099 routes, each batch in three slices
  // of at most kApplySlice (1024) changes.
  std::vector<k8s::NodeInfo> many{node("node-a", {"2001:db8:244::/64"}, {"2001:db8:1::11"})};
  auto hex = [](int i) {
    char text[8];
    std::snprintf(text, sizeof text, "%x", i);
    return std::string(text);
  };
  for (int i = 1; i < 2100; ++i)
    many.push_back(node("node-" + std::to_string(i), {"2001:db8:244:" + hex(i) + "::/64"}, {"2001:db8:1::1:" + hex(i)}));
  // One route in the second slice is refused: the failure is its own (node and
  // route), the routes beside it are in, and it comes in with the retry.
  table_.fail_next(IpPrefix::parse("2001:db8:244:7d0::/64"), ENOBUFS, "refused by the test");
  start(options(), nullptr, many);
  static_assert(kApplySlice == 1024);
  EXPECT_EQ(table_.nexthop_apply_calls(), 3u);
  EXPECT_EQ(table_.apply_calls(), 3u);
  EXPECT_EQ(table_.nexthops().size(), 2099u);
  EXPECT_EQ(log_lines_with("Route change failed"), 1u);
  EXPECT_EQ(log_lines_with("node=\"node-2000\" route=\"2001:db8:244:7d0::/64 nhid"), 1u);
  EXPECT_EQ(log_lines_with("refused by the test"), 1u);
  EXPECT_FALSE(route("2001:db8:244:7d0::/64"));
  for (const char* neighbour : {"2001:db8:244:7cf::/64", "2001:db8:244:7d1::/64", "2001:db8:244:1::/64",
                                "2001:db8:244:833::/64"}) {
    SCOPED_TRACE(neighbour);
    ASSERT_TRUE(route(neighbour));
    EXPECT_TRUE(gateway_of(neighbour));
  }
  ASSERT_TRUE(test_support::run_until(io_, [&] { return route("2001:db8:244:7d0::/64") != nullptr; }));
  EXPECT_EQ(gateway_of("2001:db8:244:7d0::/64"), IpAddress::parse("2001:db8:1::1:7d0"));
}

TEST_F(NexthopTargetTest, RestartAdoptsNexthopsAndRoutesWithNoChange) {
  start(options());
  const auto nexthops = table_.nexthops();
  const auto routes = table_.routes();
  const auto writes = table_.writes();
  const auto nexthop_writes = table_.nexthop_writes();
  start(options());
  EXPECT_EQ(table_.writes(), writes);
  EXPECT_EQ(table_.nexthop_writes(), nexthop_writes);
  EXPECT_EQ(table_.nexthops(), nexthops);
  EXPECT_EQ(table_.routes(), routes);
}

TEST_F(NexthopTargetTest, NewAddressIsOneNexthopReplaceWithTheRouteUntouched) {
  start(options());
  const Route before = *route("10.244.2.0/24");
  const auto writes = table_.writes();
  const auto nexthop_writes = table_.nexthop_writes();
  const auto dumps = table_.dumps();
  reconciler_->on_node_event(node_event(Type::modified, node("node-b", {"10.244.2.0/24"}, {"198.51.100.22"}, {}, "2")));
  settle();
  EXPECT_EQ(gateway_of("10.244.2.0/24"), IpAddress::parse("198.51.100.22"));
  EXPECT_EQ(*route("10.244.2.0/24"), before);
  EXPECT_EQ(table_.writes(), writes) << "no route message";
  EXPECT_EQ(table_.nexthop_writes(), nexthop_writes + 1) << "one nexthop replace";
  EXPECT_EQ(table_.dumps(), dumps) << "an incremental step";
  EXPECT_EQ(log_lines_with("\"Nexthop replaced\" node=\"node-b\""), 1u);
  // The same in a full pass (the resync after a restart sees the new address).
  stop();
  table_.seed_nexthop({before.nexthop_id, IpAddress::parse("198.51.100.12"), 2});
  start(options());
  EXPECT_EQ(gateway_of("10.244.2.0/24"), IpAddress::parse("198.51.100.12"));  // nodes() has .12 again
  EXPECT_EQ(*route("10.244.2.0/24"), before);
}

TEST_F(NexthopTargetTest, NodeJoiningAndLeavingAreIncrementalSteps) {
  start(options());
  const auto dumps = table_.dumps();
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  settle();
  EXPECT_EQ(gateway_of("10.244.4.0/24"), IpAddress::parse("198.51.100.14"));
  const std::uint32_t id = route("10.244.4.0/24")->nexthop_id;
  reconciler_->on_node_event(node_event(Type::deleted, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"}, {}, "2")));
  settle();
  EXPECT_FALSE(route("10.244.4.0/24"));
  EXPECT_FALSE(table_.find_nexthop(id));
  EXPECT_EQ(table_.dumps(), dumps);
  EXPECT_EQ(table_.nexthops().size(), 3u);
  // The model matched the kernel: a resync changes nothing.
  const auto writes = table_.writes() + table_.nexthop_writes();
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(table_.writes() + table_.nexthop_writes(), writes);
}

TEST_F(NexthopTargetTest, NexthopDeletedByHandIsRepairedWithItsRoute) {
  start(options());
  const std::uint32_t id = route("10.244.2.0/24")->nexthop_id;
  ASSERT_TRUE(table_.remove_nexthop_externally(id));
  EXPECT_FALSE(route("10.244.2.0/24")) << "the kernel took the route along";
  settle();
  EXPECT_EQ(gateway_of("10.244.2.0/24"), IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(table_.nexthops().size(), 3u);
  EXPECT_EQ(reconciler_->passes(), 2u);
}

TEST_F(NexthopTargetTest, OffConvertsRoutesBackInPlaceAndDeletesOurNexthops) {
  start(options(true));
  log_.clear();
  start(options(false));
  const Route* b = route("10.244.2.0/24");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->nexthop_id, 0u);
  EXPECT_EQ(b->gateway, IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(route("2001:db8:244:3::/64")->gateway, IpAddress::parse("2001:db8:1::13"));
  EXPECT_TRUE(table_.nexthops().empty());
  EXPECT_EQ(log_lines_with("\"Route replaced\""), 3u) << "replaced, never deleted and added";
  EXPECT_EQ(log_lines_with("\"Route deleted\""), 0u);
  EXPECT_EQ(log_lines_with("\"Route added\""), 0u);
  EXPECT_EQ(log_lines_with("\"Nexthop deleted\""), 3u);
  EXPECT_EQ(metrics_.nexthop_objects.value(), 0);
}

TEST_F(NexthopTargetTest, OnConvertsPlainRoutesInPlace) {
  start(options(false));
  EXPECT_TRUE(table_.nexthops().empty());
  EXPECT_EQ(route("10.244.2.0/24")->gateway, IpAddress::parse("198.51.100.12"));
  log_.clear();
  start(options(true));
  EXPECT_EQ(gateway_of("10.244.2.0/24"), IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(log_lines_with("\"Nexthop added\""), 3u);
  EXPECT_EQ(log_lines_with("\"Route replaced\""), 3u);
  EXPECT_EQ(log_lines_with("\"Route deleted\""), 0u);
}

TEST_F(NexthopTargetTest, OrphansOfOurProtocolGoOthersStayAndTheirIdsAreSkipped) {
  table_.seed_nexthop({kNexthopIdFirst, IpAddress::parse("198.51.100.77"), 2, 12});      // someone else's
  table_.seed_nexthop({kNexthopIdFirst + 1, IpAddress::parse("198.51.100.78"), 2, 44});  // ours, unused
  table_.seed_nexthop({kNexthopIdFirst + 9, IpAddress::parse("198.51.100.13"), 2, 44});  // ours, as c wants
  start(options());
  EXPECT_TRUE(table_.find_nexthop(kNexthopIdFirst)) << "another protocol's nexthop is never touched";
  EXPECT_EQ(table_.find_nexthop(kNexthopIdFirst)->protocol, 12);
  EXPECT_FALSE(table_.find_nexthop(kNexthopIdFirst + 1)) << "an orphan of ours goes";
  EXPECT_EQ(route("10.244.3.0/24")->nexthop_id, kNexthopIdFirst + 9) << "an equal one of ours is taken over";
  EXPECT_NE(route("10.244.2.0/24")->nexthop_id, kNexthopIdFirst);
  EXPECT_EQ(table_.nexthops().size(), 4u);
}

TEST_F(NexthopTargetTest, IdTakenBySomeoneElseMeanwhileIsRetriedWithAnother) {
  start(options());
  // Someone takes the next free id right before node-d joins.
  const std::uint32_t next = kNexthopIdFirst + 3;
  ASSERT_FALSE(table_.find_nexthop(next));
  table_.seed_nexthop({next, IpAddress::parse("198.51.100.99"), 2, 12});
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  ASSERT_TRUE(test_support::run_until(io_, [&] { return gateway_of("10.244.4.0/24").has_value(); }));
  EXPECT_EQ(gateway_of("10.244.4.0/24"), IpAddress::parse("198.51.100.14"));
  EXPECT_EQ(table_.find_nexthop(next)->protocol, 12);
}

TEST_F(NexthopTargetTest, TheHolderOfAPodCidrKeepsItAcrossARestartThroughItsNexthop) {
  start(options());
  stop();
  // A newcomer claims node-b's podCIDR while we are down: the installed route
  // (through node-b's nexthop) says who holds it.
  reconciler_ = std::make_unique<Reconciler>(io_.get_executor(), table_, options(), metrics_);
  asio::co_spawn(io_, reconciler_->run(), asio::detached);
  settle();
  auto list = nodes();
  list.push_back(node("evil", {"10.244.2.0/24"}, {"198.51.100.43"}));
  reconciler_->on_node_event(node_list(list));
  settle();
  EXPECT_EQ(gateway_of("10.244.2.0/24"), IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(log_lines_with("\"Node skipped\" node=\"evil\""), 1u);
}

TEST_F(NexthopTargetTest, WithoutKernelSupportRoutesArePlainAndNexthopsAreNeverAsked) {
  table_.set_nexthops_supported(false);
  auto plain = options();
  plain.nexthops_supported = false;
  start(plain);
  EXPECT_EQ(route("10.244.2.0/24")->gateway, IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(table_.nexthop_dumps(), 0u);
  EXPECT_EQ(table_.nexthop_writes(), 0u);
}

TEST_F(NexthopTargetTest, DryRunTouchesNothing) {
  DryRunRouteTable dry_run(table_);
  start(options(), &dry_run);
  EXPECT_TRUE(table_.routes().empty());
  EXPECT_TRUE(table_.nexthops().empty());
  EXPECT_EQ(table_.nexthop_writes(), 0u);
  EXPECT_EQ(log_lines_with("Dry run: nexthop would be added"), 3u);
}

}  // namespace
}  // namespace hostgw::controller
