#include "routing/fake_route_table.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <chrono>

namespace hostgw::routing {
namespace {

namespace asio = boost::asio;

Route route(const char* dst, const char* via, std::uint8_t protocol = kDefaultRouteProtocol) {
  Route r;
  r.destination = IpPrefix::parse(dst);
  r.gateway = IpAddress::parse(via);
  r.protocol = protocol;
  return r;
}

ConnectedNetwork network(const char* prefix, const char* local, std::uint32_t oif, const char* name) {
  return {IpPrefix::parse(prefix), IpAddress::parse(local), oif, name, 1500};
}

class FakeRouteTableTest : public ::testing::Test {
 protected:
  FakeRouteTableTest() : table_(io_.get_executor()) {
    table_.set_connected_networks({network("198.51.100.0/24", "198.51.100.1", 2, "eth0"),
                                   network("2001:db8:1::/64", "2001:db8:1::1", 2, "eth0"),
                                   network("203.0.113.0/24", "203.0.113.1", 3, "eth1")});
  }

  template <typename T>
  T run(asio::awaitable<T> work) {
    auto future = asio::co_spawn(io_, std::move(work), asio::use_future);
    io_.restart();
    io_.run();
    return future.get();
  }

  std::vector<ChangeResult> apply(std::vector<RouteChange> changes) { return run(table_.apply(std::move(changes))); }
  std::vector<Route> dump(std::uint8_t protocol = kDefaultRouteProtocol) {
    auto result = run(table_.dump_routes(kMainTable, protocol));
    EXPECT_TRUE(result) << result.error().message;
    return result ? *result : std::vector<Route>{};
  }

  asio::io_context io_;
  FakeRouteTable table_;
};

TEST_F(FakeRouteTableTest, AddThenDumpFillsOutputLinkLikeTheKernel) {
  auto results = apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")},
                        {ChangeKind::add, route("10.244.3.0/24", "203.0.113.7")}});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_TRUE(results[1].ok()) << results[1].message;
  auto routes = dump();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].destination.to_string(), "10.244.2.0/24");
  EXPECT_EQ(routes[0].oif, 2u);
  EXPECT_EQ(routes[1].oif, 3u);
  EXPECT_EQ(table_.writes(), 2u);
  EXPECT_EQ(table_.apply_calls(), 1u);
  EXPECT_EQ(table_.dumps(), 1u);
}

TEST_F(FakeRouteTableTest, AddOfExistingKeyIsEexistAndLeavesRouteAlone) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}})[0].ok());
  auto results = apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.13")}});
  EXPECT_EQ(results[0].error, EEXIST);
  auto routes = dump();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].gateway->to_string(), "198.51.100.12");
}

TEST_F(FakeRouteTableTest, ReplaceCreatesOrOverwrites) {
  ASSERT_TRUE(apply({{ChangeKind::replace, route("10.244.2.0/24", "198.51.100.12")}})[0].ok());
  ASSERT_TRUE(apply({{ChangeKind::replace, route("10.244.2.0/24", "203.0.113.9")}})[0].ok());
  auto routes = dump();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].gateway->to_string(), "203.0.113.9");
  EXPECT_EQ(routes[0].oif, 3u);
}

TEST_F(FakeRouteTableTest, DeleteOfMissingRouteIsEsrch) {
  auto results = apply({{ChangeKind::remove, route("10.244.9.0/24", "198.51.100.12")}});
  EXPECT_EQ(results[0].error, ESRCH);
  EXPECT_FALSE(results[0].message.empty());
}

TEST_F(FakeRouteTableTest, DeleteRemovesOwnedRoute) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}})[0].ok());
  EXPECT_TRUE(apply({{ChangeKind::remove, route("10.244.2.0/24", "198.51.100.12")}})[0].ok());
  EXPECT_TRUE(dump().empty());
  EXPECT_TRUE(table_.routes().empty());
}

TEST_F(FakeRouteTableTest, ForeignRoutesAreNeverTouched) {
  const Route foreign = route("10.244.5.0/24", "198.51.100.50", /*protocol=*/4);  // "static"
  table_.seed(foreign);
  auto results = apply({{ChangeKind::remove, route("10.244.5.0/24", "198.51.100.12")},
                        {ChangeKind::add, route("10.244.5.0/24", "198.51.100.12")},
                        {ChangeKind::replace, route("10.244.5.0/24", "198.51.100.12")}});
  EXPECT_EQ(results[0].error, ESRCH);
  EXPECT_EQ(results[1].error, EEXIST);
  EXPECT_EQ(results[2].error, EEXIST);
  EXPECT_NE(results[2].message.find("protocol 4"), std::string::npos) << results[2].message;
  ASSERT_EQ(table_.routes().size(), 1u);
  EXPECT_EQ(table_.routes()[0], foreign);
  EXPECT_TRUE(dump().empty());    // not ours
  EXPECT_EQ(dump(4).size(), 1u);  // but visible under its own protocol
}

TEST_F(FakeRouteTableTest, SeededOwnedRoutesAreAdoptedByTheDump) {
  Route owned = route("10.244.7.0/24", "198.51.100.7");
  owned.oif = 2;
  table_.seed(owned);
  auto routes = dump();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0], owned);
  EXPECT_TRUE(apply({{ChangeKind::remove, owned}})[0].ok());
}

TEST_F(FakeRouteTableTest, UnreachableGatewayFailsOnlyThatMessage) {
  auto results = apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")},
                        {ChangeKind::add, route("10.244.3.0/24", "100.64.0.9")},
                        {ChangeKind::add, route("10.244.4.0/24", "203.0.113.4")}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].error, ENETUNREACH);
  EXPECT_EQ(results[1].message, "Nexthop has invalid gateway");
  EXPECT_EQ(results[1].change.route.destination.to_string(), "10.244.3.0/24");
  EXPECT_TRUE(results[2].ok());
  EXPECT_EQ(dump().size(), 2u);
  EXPECT_EQ(table_.writes(), 3u);
}

TEST_F(FakeRouteTableTest, GatewayMustBeOnTheGivenLink) {
  Route r = route("10.244.2.0/24", "198.51.100.12");
  r.oif = 3;  // eth1 carries 203.0.113.0/24, not 198.51.100.0/24
  EXPECT_EQ(apply({{ChangeKind::add, r}})[0].error, ENETUNREACH);
  r.oif = 99;
  EXPECT_EQ(apply({{ChangeKind::add, r}})[0].error, ENODEV);
}

TEST_F(FakeRouteTableTest, OnlinkGatewayNeedsNoConnectedNetworkButADevice) {
  Route r = route("10.244.2.0/24", "100.64.0.9");
  r.onlink = true;
  EXPECT_EQ(apply({{ChangeKind::add, r}})[0].error, EINVAL);
  r.oif = 2;
  EXPECT_TRUE(apply({{ChangeKind::add, r}})[0].ok());
  EXPECT_EQ(dump().at(0), r);
}

TEST_F(FakeRouteTableTest, Ipv6RoutesAreCheckedAgainstIpv6Networks) {
  auto results = apply({{ChangeKind::add, route("2001:db8:244:2::/64", "2001:db8:1::12")},
                        {ChangeKind::add, route("2001:db8:244:3::/64", "2001:db8:2::12")}});
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(results[1].error, EHOSTUNREACH);
  auto routes = dump();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_TRUE(routes[0].destination.address().is_v6());
  EXPECT_EQ(routes[0].oif, 2u);
  EXPECT_EQ(routes[0].metric, 1024u);  // like the kernel: IPv6 metric 0 is stored as 1024
}

TEST_F(FakeRouteTableTest, Ipv6MetricZeroAndExplicit1024AreTheSameKey) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("2001:db8:244:2::/64", "2001:db8:1::12")}})[0].ok());
  Route explicit_default = route("2001:db8:244:2::/64", "2001:db8:1::13");
  explicit_default.metric = 1024;
  EXPECT_EQ(apply({{ChangeKind::add, explicit_default}})[0].error, EEXIST);
  EXPECT_TRUE(apply({{ChangeKind::replace, explicit_default}})[0].ok());
  ASSERT_EQ(dump().size(), 1u);
  EXPECT_EQ(dump()[0].gateway->to_string(), "2001:db8:1::13");
}

TEST_F(FakeRouteTableTest, RemoveWithoutMetricMatchesAnyMetricOfOurProtocol) {
  Route foreign = route("10.244.2.0/24", "198.51.100.50", 4);
  table_.seed(foreign);  // metric 0, static
  Route ours = route("10.244.2.0/24", "198.51.100.12");
  ours.metric = 100;
  ASSERT_TRUE(apply({{ChangeKind::add, ours}})[0].ok());
  Route any_metric = route("10.244.2.0/24", "198.51.100.12");
  EXPECT_TRUE(apply({{ChangeKind::remove, any_metric}})[0].ok());
  ASSERT_EQ(table_.routes().size(), 1u);
  EXPECT_EQ(table_.routes()[0], foreign);
  EXPECT_EQ(apply({{ChangeKind::remove, any_metric}})[0].error, ESRCH);
}

TEST_F(FakeRouteTableTest, SameDestinationOtherMetricIsAnotherKey) {
  Route a = route("10.244.2.0/24", "198.51.100.12");
  Route b = a;
  b.metric = 100;
  auto results = apply({{ChangeKind::add, a}, {ChangeKind::add, b}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(dump().size(), 2u);
}

TEST_F(FakeRouteTableTest, DumpFiltersByTable) {
  Route other = route("10.244.2.0/24", "198.51.100.12");
  other.table = 300;
  ASSERT_TRUE(apply({{ChangeKind::add, other}})[0].ok());
  EXPECT_TRUE(dump().empty());
  EXPECT_EQ(run(table_.dump_routes(300, kDefaultRouteProtocol))->size(), 1u);
}

TEST_F(FakeRouteTableTest, FailNextInjectsOneError) {
  table_.fail_next(IpPrefix::parse("10.244.2.0/24"), ETIMEDOUT, "injected");
  auto results = apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")},
                        {ChangeKind::add, route("10.244.3.0/24", "198.51.100.13")}});
  EXPECT_EQ(results[0].error, ETIMEDOUT);
  EXPECT_EQ(results[0].message, "injected");
  EXPECT_TRUE(results[1].ok());
  // Consumed: the retry goes through.
  EXPECT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}})[0].ok());
}

TEST_F(FakeRouteTableTest, InjectedDumpAndConnectedErrorsAreOneShot) {
  table_.fail_next_dump(std::make_error_code(std::errc::timed_out));
  auto failed = run(table_.dump_routes(kMainTable, kDefaultRouteProtocol));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, std::errc::timed_out);
  EXPECT_NE(failed.error().message.find("table 254 proto 44"), std::string::npos) << failed.error().message;
  EXPECT_TRUE(run(table_.dump_routes(kMainTable, kDefaultRouteProtocol)));
  table_.fail_next_connected(std::make_error_code(std::errc::no_buffer_space));
  auto unread = run(table_.connected_networks());
  ASSERT_FALSE(unread);
  EXPECT_EQ(unread.error().code, std::errc::no_buffer_space);
  auto connected = run(table_.connected_networks());
  ASSERT_TRUE(connected) << connected.error().message;
  EXPECT_EQ(connected->size(), 3u);
  EXPECT_EQ((*connected)[0].link_name, "eth0");
  EXPECT_EQ(table_.connected_calls(), 2u);
}

TEST_F(FakeRouteTableTest, NextChangeWaitsForAnExternalRemoval) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.12")}})[0].ok());
  auto future = asio::co_spawn(io_, table_.next_change(), asio::use_future);
  io_.restart();
  // Nothing posted yet: the coroutine is parked, the loop has nothing else to do.
  io_.run_for(std::chrono::milliseconds(20));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  asio::post(io_, [&] { EXPECT_TRUE(table_.remove_externally(route("10.244.2.0/24", "198.51.100.12"))); });
  io_.restart();
  io_.run_for(std::chrono::seconds(2));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  ChangeNotice notice = future.get();
  EXPECT_TRUE(notice.relevant);
  EXPECT_FALSE(notice.resync_needed);
  EXPECT_EQ(notice.what, "RTM_DELROUTE 10.244.2.0/24 proto 44");
  EXPECT_TRUE(dump().empty());
  EXPECT_FALSE(table_.remove_externally(route("10.244.2.0/24", "198.51.100.12")));
  EXPECT_EQ(table_.pending_notices(), 0u);
}

TEST_F(FakeRouteTableTest, NoticesQueueInOrder) {
  table_.post_notice({true, false, "link eth0 down"});
  table_.post_notice({false, true, "ENOBUFS"});
  ChangeNotice first = run(table_.next_change());
  ChangeNotice second = run(table_.next_change());
  EXPECT_EQ(first.what, "link eth0 down");
  EXPECT_TRUE(second.resync_needed);
}


// --- nexthop objects ----------------------------------------------------------

Nexthop nexthop(std::uint32_t id, const char* via, std::uint32_t oif = 2) {
  return {id, IpAddress::parse(via), oif};
}
Route via_nexthop(const char* dst, std::uint32_t id) {
  Route r;
  r.destination = IpPrefix::parse(dst);
  r.nexthop_id = id;
  return r;
}

TEST_F(FakeRouteTableTest, NexthopsAreKeyedByIdAndCheckedLikeTheKernel) {
  auto results = run(table_.apply_nexthops({{ChangeKind::add, nexthop(1, "198.51.100.12")},
                                            {ChangeKind::add, nexthop(1, "198.51.100.13")},
                                            {ChangeKind::add, nexthop(2, "192.168.0.1")},
                                            {ChangeKind::add, nexthop(3, "198.51.100.12", 0)},
                                            {ChangeKind::remove, nexthop(9, "198.51.100.12")}}));
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].error, EEXIST);
  EXPECT_EQ(results[2].error, ENETUNREACH);
  EXPECT_EQ(results[3].error, EINVAL);
  EXPECT_EQ(results[4].error, ENOENT);
  table_.seed_nexthop({5, IpAddress::parse("198.51.100.5"), 2, 12});
  results = run(table_.apply_nexthops({{ChangeKind::replace, nexthop(5, "198.51.100.6")},
                                       {ChangeKind::replace, nexthop(1, "198.51.100.14")}}));
  EXPECT_EQ(results[0].error, EEXIST) << "another protocol's nexthop is never replaced";
  EXPECT_TRUE(results[1].ok());
  auto dumped = run(table_.dump_nexthops(kDefaultRouteProtocol));
  ASSERT_TRUE(dumped) << dumped.error().message;
  EXPECT_EQ(dumped->owned, (std::vector<Nexthop>{nexthop(1, "198.51.100.14")}));
  EXPECT_EQ(dumped->ids_used, (std::vector<std::uint32_t>{1, 5}));
}

TEST_F(FakeRouteTableTest, RouteNamingAMissingNexthopIsRefusedAndDeletingANexthopDeletesItsRoutes) {
  EXPECT_EQ(apply({{ChangeKind::add, via_nexthop("10.244.2.0/24", 1)}})[0].error, EINVAL);
  ASSERT_TRUE(run(table_.apply_nexthops({{ChangeKind::add, nexthop(1, "198.51.100.12")},
                                         {ChangeKind::add, nexthop(2, "2001:db8:1::2")}}))[0]
                  .ok());
  auto results = apply({{ChangeKind::add, via_nexthop("10.244.2.0/24", 1)},
                        {ChangeKind::add, via_nexthop("2001:db8:244:2::/64", 1)},
                        {ChangeKind::add, via_nexthop("2001:db8:244:3::/64", 2)},
                        {ChangeKind::add, via_nexthop("10.244.4.0/24", 2)}});
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].error, EINVAL) << "an IPv6 route via an IPv4 nexthop";
  EXPECT_TRUE(results[2].ok());
  EXPECT_TRUE(results[3].ok()) << "the kernel takes IPv4 routes via IPv6 nexthops";
  EXPECT_EQ(dump().size(), 3u);
  // A replace keeps the routes; a removal takes them along.
  EXPECT_TRUE(run(table_.apply_nexthops({{ChangeKind::replace, nexthop(1, "198.51.100.99")}}))[0].ok());
  EXPECT_EQ(dump().size(), 3u);
  EXPECT_TRUE(run(table_.apply_nexthops({{ChangeKind::remove, nexthop(1, "198.51.100.99")}}))[0].ok());
  EXPECT_EQ(dump().size(), 2u);
  EXPECT_TRUE(table_.remove_nexthop_externally(2));
  EXPECT_TRUE(dump().empty());
  ChangeNotice notice = run(table_.next_change());
  EXPECT_TRUE(notice.relevant);
  EXPECT_FALSE(notice.only_owned_routes);
  EXPECT_EQ(notice.what.rfind("RTM_DELNEXTHOP id 2", 0), 0u) << notice.what;
  EXPECT_FALSE(table_.remove_nexthop_externally(2));
}

TEST_F(FakeRouteTableTest, WithoutNexthopSupportDumpAndChangesFail) {
  table_.set_nexthops_supported(false);
  auto dumped = run(table_.dump_nexthops(kDefaultRouteProtocol));
  ASSERT_FALSE(dumped);
  EXPECT_EQ(dumped.error().code, std::errc::operation_not_supported);
  EXPECT_EQ(dumped.error().message.rfind("dump of nexthops: ", 0), 0u) << dumped.error().message;
  EXPECT_EQ(run(table_.apply_nexthops({{ChangeKind::add, nexthop(1, "198.51.100.12")}}))[0].error, EOPNOTSUPP);
}

}  // namespace
}  // namespace hostgw::routing
