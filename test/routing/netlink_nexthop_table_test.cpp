// Nexthop objects through NetlinkRouteTable and NetlinkChangeMonitor against
// the real kernel, inside network namespaces each test creates and deletes
// (label `netns`, root only).

#include <gtest/gtest.h>
#include <net/if.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <memory>

#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_route_table.hpp"
#include "routing/nexthop.hpp"
#include "test-support/netns_fixture.hpp"

namespace hostgw::routing {
namespace {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

class NetlinkNexthopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces";
    netns_ = std::make_unique<hostgw::testing::ScopedNetns>();
    netns_->add_veth_with_addresses();
    v0_ = if_nametoindex("v0");
    ASSERT_NE(v0_, 0u);
    if (probe_nexthop_objects()) GTEST_SKIP() << "this kernel has no nexthop objects";
    table_ = std::make_unique<NetlinkRouteTable>(io_.get_executor());
  }
  void TearDown() override {
    monitor_.reset();
    table_.reset();
    netns_.reset();
  }

  template <typename T>
  T run(asio::awaitable<T> work) {
    auto future = asio::co_spawn(io_, std::move(work), asio::use_future);
    io_.restart();
    io_.run();
    return future.get();
  }
  std::vector<NexthopResult> apply(std::vector<NexthopChange> changes) {
    return run(table_->apply_nexthops(std::move(changes)));
  }
  std::vector<ChangeResult> apply_routes(std::vector<RouteChange> changes) {
    return run(table_->apply(std::move(changes)));
  }
  std::vector<Route> routes() {
    auto result = run(table_->dump_routes(kMainTable, kDefaultRouteProtocol));
    EXPECT_TRUE(result) << result.error().message;
    return result ? *result : std::vector<Route>{};
  }
  Nexthop nexthop(std::uint32_t id, const char* via) const { return {id, IpAddress::parse(via), v0_}; }
  static Route via(const char* dst, std::uint32_t id, std::uint32_t metric = 0) {
    Route r;
    r.destination = IpPrefix::parse(dst);
    r.nexthop_id = id;
    r.metric = metric;
    return r;
  }
  std::optional<ChangeNotice> next_change(std::chrono::milliseconds limit) {
    auto wait = [&]() -> asio::awaitable<std::optional<ChangeNotice>> {
      asio::steady_timer timer(co_await asio::this_coro::executor, limit);
      auto result = co_await (monitor_->next_change() || timer.async_wait(asio::use_awaitable));
      if (result.index() == 0) co_return std::get<0>(result);
      co_return std::nullopt;
    };
    return run(wait());
  }

  asio::io_context io_;
  std::unique_ptr<hostgw::testing::ScopedNetns> netns_;
  std::unique_ptr<NetlinkRouteTable> table_;
  std::unique_ptr<NetlinkChangeMonitor> monitor_;
  std::uint32_t v0_ = 0;
};

constexpr std::uint32_t kId = kNexthopIdFirst;

TEST_F(NetlinkNexthopTest, AddDumpReplaceDeleteIpv4AndIpv6WithOurProtocol) {
  netns_->must("nexthop add id 7 via 198.51.100.7 dev v0 proto static");  // someone else's
  auto results =
      apply({{ChangeKind::add, nexthop(kId, "198.51.100.2")}, {ChangeKind::add, nexthop(kId + 1, "2001:db8:1::2")}});
  ASSERT_TRUE(results[0].ok()) << results[0].message;
  ASSERT_TRUE(results[1].ok()) << results[1].message;
  EXPECT_NE(netns_->must("nexthop show id " + std::to_string(kId)).find("proto 44"), std::string::npos);

  auto dumped = run(table_->dump_nexthops(kDefaultRouteProtocol));
  ASSERT_TRUE(dumped) << dumped.error().message;
  EXPECT_EQ(dumped->owned, (std::vector<Nexthop>{nexthop(kId, "198.51.100.2"), nexthop(kId + 1, "2001:db8:1::2")}));
  EXPECT_EQ(dumped->ids_used, (std::vector<std::uint32_t>{7, kId, kId + 1}));

  results = apply({{ChangeKind::add, nexthop(kId, "198.51.100.3")},
                   {ChangeKind::replace, nexthop(kId, "198.51.100.3")},
                   {ChangeKind::add, nexthop(kId + 2, "192.168.77.1")}});
  EXPECT_EQ(results[0].error, EEXIST);
  EXPECT_TRUE(results[1].ok()) << results[1].message;
  EXPECT_NE(results[2].error, 0) << "a gateway on no connected network";
  EXPECT_FALSE(results[2].message.empty());

  results = apply(
      {{ChangeKind::remove, nexthop(kId, "198.51.100.3")}, {ChangeKind::remove, nexthop(kId + 5, "198.51.100.3")}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].error, ENOENT) << "an absent id";
  dumped = run(table_->dump_nexthops(kDefaultRouteProtocol));
  ASSERT_TRUE(dumped) << dumped.error().message;
  EXPECT_EQ(dumped->owned, (std::vector<Nexthop>{nexthop(kId + 1, "2001:db8:1::2")}));
}

TEST_F(NetlinkNexthopTest, RoutesNameTheIdAndCompareEqualAcrossADump) {
  ASSERT_TRUE(
      apply({{ChangeKind::add, nexthop(kId, "198.51.100.2")}, {ChangeKind::add, nexthop(kId + 1, "2001:db8:1::2")}})[1]
          .ok());
  const Route v4 = via("10.244.2.0/24", kId);
  const Route v6 = via("2001:db8:244:2::/64", kId + 1, kIpv6DefaultMetric);
  auto results =
      apply_routes({{ChangeKind::add, v4}, {ChangeKind::add, v6}, {ChangeKind::add, via("10.244.3.0/24", 4242)}});
  ASSERT_TRUE(results[0].ok()) << results[0].message;
  ASSERT_TRUE(results[1].ok()) << results[1].message;
  EXPECT_EQ(results[2].error, EINVAL) << "a missing nexthop id";
  EXPECT_NE(results[2].message.find("Nexthop id does not exist"), std::string::npos) << results[2].message;
  EXPECT_EQ(routes(), (std::vector<Route>{v4, v6}));
  EXPECT_NE(netns_->must("route show 10.244.2.0/24").find("nhid " + std::to_string(kId)), std::string::npos);

  // A new address is one nexthop replace: the route stays as it is and follows.
  ASSERT_TRUE(apply({{ChangeKind::replace, nexthop(kId, "198.51.100.9")}})[0].ok());
  EXPECT_EQ(routes(), (std::vector<Route>{v4, v6}));
  EXPECT_NE(netns_->must("route get 10.244.2.1").find("via 198.51.100.9"), std::string::npos);

  // Back to a plain gateway route in place (replace), then the orphan goes.
  Route plain;
  plain.destination = v4.destination;
  plain.gateway = IpAddress::parse("198.51.100.9");
  plain.oif = v0_;
  ASSERT_TRUE(apply_routes({{ChangeKind::replace, plain}})[0].ok());
  ASSERT_TRUE(apply({{ChangeKind::remove, nexthop(kId, "198.51.100.9")}})[0].ok());
  EXPECT_EQ(routes(), (std::vector<Route>{plain, v6}));
}

TEST_F(NetlinkNexthopTest, DeletingANexthopDeletesItsRoutesAndWakesTheMonitor) {
  NetlinkChangeMonitorOptions options;
  options.nexthops = true;
  monitor_ = std::make_unique<NetlinkChangeMonitor>(io_.get_executor(), options);
  monitor_->ignore_port(table_->port_id());
  EXPECT_FALSE(next_change(std::chrono::milliseconds(100)));
  ASSERT_TRUE(apply({{ChangeKind::add, nexthop(kId, "198.51.100.2")}})[0].ok());
  ASSERT_TRUE(apply_routes({{ChangeKind::add, via("10.244.2.0/24", kId)}})[0].ok());
  EXPECT_FALSE(next_change(std::chrono::milliseconds(150))) << "our own changes";
  netns_->must("nexthop add id 9 via 198.51.100.9 dev v0 proto static");
  EXPECT_FALSE(next_change(std::chrono::milliseconds(150))) << "another protocol's nexthop";

  netns_->must("nexthop del id " + std::to_string(kId));
  EXPECT_TRUE(routes().empty()) << "the kernel took the route along";
  auto notice = next_change(std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(notice->relevant);
  EXPECT_FALSE(notice->only_owned_routes);
  bool saw = false;
  for (const auto& event : monitor_->last_events())
    saw = saw || event.rfind("RTM_DELNEXTHOP id " + std::to_string(kId), 0) == 0;
  EXPECT_TRUE(saw) << notice->what;
}

}  // namespace
}  // namespace hostgw::routing
