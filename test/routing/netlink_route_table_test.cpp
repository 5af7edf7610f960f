// NetlinkRouteTable and NetlinkChangeMonitor against the real kernel, inside
// network namespaces each test creates and deletes (label `netns`, root only).

#include "routing/netlink_route_table.hpp"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <rapidjson/document.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <memory>
#include <set>

#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_socket.hpp"
#include "test-support/netns_fixture.hpp"

namespace hostgw::routing {
namespace {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

Route route(const std::string& dst, const std::string& via) {
  Route r;
  r.destination = IpPrefix::parse(dst);
  r.gateway = IpAddress::parse(via);
  return r;
}

class NetlinkRouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces";
    netns_ = std::make_unique<hostgw::testing::ScopedNetns>();
    netns_->add_veth_with_addresses();
    v0_ = if_nametoindex("v0");  // resolved inside the test namespace
    ASSERT_NE(v0_, 0u);
    // Created after setns(): the sockets live in the test namespace.
    table_ = std::make_unique<NetlinkRouteTable>(io_.get_executor());
  }
  void TearDown() override {
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
  std::vector<ChangeResult> apply(std::vector<RouteChange> changes) { return run(table_->apply(std::move(changes))); }
  std::vector<Route> dump(std::uint8_t protocol = kDefaultRouteProtocol) {
    auto result = run(table_->dump_routes(kMainTable, protocol));
    EXPECT_TRUE(result) << result.error().message;
    return result ? *result : std::vector<Route>{};
  }

  // Waits for a notice, at most `limit`; nullopt on timeout.
  std::optional<ChangeNotice> next_change(NetlinkChangeMonitor& monitor, std::chrono::milliseconds limit) {
    auto wait = [&]() -> asio::awaitable<std::optional<ChangeNotice>> {
      asio::steady_timer timer(co_await asio::this_coro::executor, limit);
      auto result = co_await (monitor.next_change() || timer.async_wait(asio::use_awaitable));
      if (result.index() == 0) co_return std::get<0>(result);
      co_return std::nullopt;
    };
    return run(wait());
  }

  // `ip -j route show proto 44` (or -6) in the namespace, parsed.
  rapidjson::Document ip_json(const std::string& family_flag) {
    auto result = netns_->exec("ip " + family_flag + " -j route show proto 44");
    EXPECT_EQ(result.status, 0) << result.output;
    rapidjson::Document document;
    document.Parse(result.output.c_str());
    EXPECT_FALSE(document.HasParseError()) << result.output;
    EXPECT_TRUE(document.IsArray()) << result.output;
    return document;
  }

  asio::io_context io_;
  std::unique_ptr<hostgw::testing::ScopedNetns> netns_;
  std::unique_ptr<NetlinkRouteTable> table_;
  std::uint32_t v0_ = 0;
};

TEST_F(NetlinkRouteTableTest, AddReplaceDeleteIpv4AndIpv6) {
  Route v4 = route("10.244.2.0/24", "198.51.100.2");
  Route v6 = route("2001:db8:244:2::/64", "2001:db8:1::2");
  auto added = apply({{ChangeKind::add, v4}, {ChangeKind::add, v6}});
  ASSERT_EQ(added.size(), 2u);
  EXPECT_TRUE(added[0].ok()) << added[0].error << " " << added[0].message;
  EXPECT_TRUE(added[1].ok()) << added[1].error << " " << added[1].message;

  auto routes = dump();
  ASSERT_EQ(routes.size(), 2u);
  Route expected_v4 = v4;
  expected_v4.oif = v0_;  // the kernel picked the link
  Route expected_v6 = v6;
  expected_v6.oif = v0_;
  expected_v6.metric = 1024;  // IPv6 metric 0 is stored (and dumped) as 1024
  EXPECT_EQ(routes[0], expected_v4);
  EXPECT_EQ(routes[1], expected_v6);

  auto json4 = ip_json("-4");
  ASSERT_EQ(json4.Size(), 1u);
  EXPECT_STREQ(json4[0]["dst"].GetString(), "10.244.2.0/24");
  EXPECT_STREQ(json4[0]["gateway"].GetString(), "198.51.100.2");
  EXPECT_STREQ(json4[0]["dev"].GetString(), "v0");
  auto json6 = ip_json("-6");
  ASSERT_EQ(json6.Size(), 1u);
  EXPECT_STREQ(json6[0]["dst"].GetString(), "2001:db8:244:2::/64");
  EXPECT_STREQ(json6[0]["gateway"].GetString(), "2001:db8:1::2");

  // Adding again: EEXIST, reported per message.
  auto again = apply({{ChangeKind::add, v4}});
  EXPECT_EQ(again[0].error, EEXIST) << again[0].message;

  // Replace moves both to another gateway.
  Route v4b = route("10.244.2.0/24", "198.51.100.3");
  Route v6b = route("2001:db8:244:2::/64", "2001:db8:1::3");
  auto replaced = apply({{ChangeKind::replace, v4b}, {ChangeKind::replace, v6b}});
  EXPECT_TRUE(replaced[0].ok()) << replaced[0].message;
  EXPECT_TRUE(replaced[1].ok()) << replaced[1].message;
  routes = dump();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].gateway->to_string(), "198.51.100.3");
  EXPECT_EQ(routes[1].gateway->to_string(), "2001:db8:1::3");
  EXPECT_STREQ(ip_json("-4")[0]["gateway"].GetString(), "198.51.100.3");

  auto removed = apply({{ChangeKind::remove, v4b}, {ChangeKind::remove, v6b}});
  EXPECT_TRUE(removed[0].ok()) << removed[0].message;
  EXPECT_TRUE(removed[1].ok()) << removed[1].message;
  EXPECT_TRUE(dump().empty());
  EXPECT_EQ(ip_json("-4").Size(), 0u);
  EXPECT_EQ(ip_json("-6").Size(), 0u);

  // Deleting what is gone: ESRCH, per message.
  auto gone = apply({{ChangeKind::remove, v4b}, {ChangeKind::remove, v6b}});
  EXPECT_EQ(gone[0].error, ESRCH);
  EXPECT_EQ(gone[1].error, ESRCH);
}

TEST_F(NetlinkRouteTableTest, RouteOfAnotherProtocolIsNeverDeletedNorClaimed) {
  netns_->must("route add 10.244.5.0/24 via 198.51.100.50 proto static");
  netns_->must("-6 route add 2001:db8:244:5::/64 via 2001:db8:1::50 proto static");
  // Our dump does not see them, so the controller never plans a replace of them.
  EXPECT_TRUE(dump().empty());
  ASSERT_EQ(dump(4).size(), 2u);  // RTPROT_STATIC

  auto results = apply({{ChangeKind::remove, route("10.244.5.0/24", "198.51.100.50")},
                        {ChangeKind::remove, route("2001:db8:244:5::/64", "2001:db8:1::50")},
                        {ChangeKind::add, route("10.244.5.0/24", "198.51.100.2")},
                        {ChangeKind::add, route("2001:db8:244:5::/64", "2001:db8:1::2")}});
  // The kernel refuses to delete a route whose protocol is not the one we send.
  EXPECT_EQ(results[0].error, ESRCH) << results[0].message;
  EXPECT_EQ(results[1].error, ESRCH) << results[1].message;
  // And an exclusive create does not take the key over.
  EXPECT_EQ(results[2].error, EEXIST) << results[2].message;
  EXPECT_EQ(results[3].error, EEXIST) << results[3].message;

  auto still = netns_->ip("-j route show 10.244.5.0/24");
  EXPECT_NE(still.output.find("\"protocol\":\"static\""), std::string::npos) << still.output;
  EXPECT_NE(still.output.find("\"gateway\":\"198.51.100.50\""), std::string::npos) << still.output;
  auto still6 = netns_->ip("-6 -j route show 2001:db8:244:5::/64");
  EXPECT_NE(still6.output.find("\"protocol\":\"static\""), std::string::npos) << still6.output;
  EXPECT_EQ(dump(4).size(), 2u);
}

TEST_F(NetlinkRouteTableTest, UnreachableGatewayFailsOnlyItsMessageWithTheKernelsText) {
  auto results = apply({{ChangeKind::add, route("10.244.1.0/24", "198.51.100.2")},
                        {ChangeKind::add, route("10.244.2.0/24", "203.0.113.9")},  // no such connected network
                        {ChangeKind::add, route("2001:db8:244:3::/64", "2001:db8:99::1")},
                        {ChangeKind::add, route("10.244.4.0/24", "198.51.100.4")}});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(results[1].error, ENETUNREACH);
  EXPECT_EQ(results[1].message, "Nexthop has invalid gateway");
  EXPECT_EQ(results[1].change.route.destination.to_string(), "10.244.2.0/24");
  // IPv6 says EHOSTUNREACH (without ext-ack text on 6.x kernels).
  EXPECT_TRUE(results[2].error == EHOSTUNREACH || results[2].error == ENETUNREACH)
      << results[2].error << " " << results[2].message;
  EXPECT_TRUE(results[3].ok()) << results[3].message;
  auto routes = dump();
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].destination.to_string(), "10.244.1.0/24");
  EXPECT_EQ(routes[1].destination.to_string(), "10.244.4.0/24");
}

TEST_F(NetlinkRouteTableTest, OnlinkGatewayNeedsNoConnectedNetwork) {
  Route r = route("10.244.6.0/24", "203.0.113.9");
  r.oif = v0_;
  r.onlink = true;
  auto results = apply({{ChangeKind::add, r}});
  EXPECT_TRUE(results[0].ok()) << results[0].error << " " << results[0].message;
  auto routes = dump();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0], r);
}

TEST_F(NetlinkRouteTableTest, InvalidRouteIsRefusedBeforeSending) {
  auto results = apply({{ChangeKind::add, route("10.244.2.0/24", "2001:db8:1::2")},
                        {ChangeKind::add, route("10.244.3.0/24", "198.51.100.3")}});
  EXPECT_EQ(results[0].error, EINVAL);
  EXPECT_NE(results[0].message.find("is IPv6 but destination"), std::string::npos);
  EXPECT_TRUE(results[1].ok());
}

// This node's own podCIDR: an unreachable route far above the bridge's
// connected route. The kernel takes and dumps it as sent, the bridge's route
// wins while it exists, and without it the destination is refused here.
TEST_F(NetlinkRouteTableTest, UnreachableRouteForOwnPodCidrLosesToTheBridgeRoute) {
  netns_->must("link add br0 type bridge");
  // A port with a carrier, as a pod's veth would be.
  netns_->must("link add b0 type veth peer name b1");
  netns_->must("link set b0 master br0");
  netns_->must("link set b0 up");
  netns_->must("link set b1 up");
  netns_->must("link set br0 up");
  netns_->must("addr add 10.244.1.1/24 dev br0");
  netns_->must("addr add 2001:db8:244:1::1/64 dev br0 nodad");
  Route v4;
  v4.destination = IpPrefix::parse("10.244.1.0/24");
  v4.type = RouteType::unreachable;
  v4.metric = 4278198272u;
  Route v6 = v4;
  v6.destination = IpPrefix::parse("2001:db8:244:1::/64");
  auto added = apply({{ChangeKind::add, v4}, {ChangeKind::add, v6}});
  ASSERT_EQ(added.size(), 2u);
  EXPECT_TRUE(added[0].ok()) << added[0].error << " " << added[0].message;
  EXPECT_TRUE(added[1].ok()) << added[1].error << " " << added[1].message;

  EXPECT_EQ(dump(), (std::vector<Route>{v4, v6}));
  auto shown = netns_->must("route show proto 44");
  EXPECT_NE(shown.find("unreachable 10.244.1.0/24"), std::string::npos) << shown;
  EXPECT_NE(shown.find("metric 4278198272"), std::string::npos) << shown;

  // The bridge's connected routes (metric 0 / 256) win.
  auto via_bridge4 = netns_->must("-4 route get 10.244.1.5");
  EXPECT_NE(via_bridge4.find("dev br0"), std::string::npos) << via_bridge4;
  auto via_bridge6 = netns_->must("-6 route get 2001:db8:244:1::5");
  EXPECT_NE(via_bridge6.find("dev br0"), std::string::npos) << via_bridge6;

  // Without the bridge's address (no pods yet, or the bridge gone) the
  // destination is refused here instead of following a shorter prefix.
  netns_->must("route add 10.0.0.0/8 via 198.51.100.2");
  netns_->must("addr del 10.244.1.1/24 dev br0");
  auto refused = netns_->ip("-4 route get 10.244.1.5");
  EXPECT_NE(refused.status, 0) << refused.output;
  EXPECT_NE(refused.output.find("No route to host"), std::string::npos) << refused.output;
  auto other = netns_->must("-4 route get 10.244.2.5");
  EXPECT_NE(other.find("via 198.51.100.2"), std::string::npos) << other;

  // A replace keeps it; a delete removes both (IPv4 matches the type).
  auto removed = apply({{ChangeKind::remove, v4}, {ChangeKind::remove, v6}});
  EXPECT_TRUE(removed[0].ok()) << removed[0].error << " " << removed[0].message;
  EXPECT_TRUE(removed[1].ok()) << removed[1].error << " " << removed[1].message;
  EXPECT_TRUE(dump().empty());
}

TEST_F(NetlinkRouteTableTest, OtherTableAndMetric) {
  Route r = route("10.244.7.0/24", "198.51.100.7");
  r.table = 1000;
  r.metric = 50;
  ASSERT_TRUE(apply({{ChangeKind::add, r}})[0].ok());
  EXPECT_TRUE(dump().empty());
  auto other = run(table_->dump_routes(1000, kDefaultRouteProtocol));
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ((*other)[0].table, 1000u);
  EXPECT_EQ((*other)[0].metric, 50u);
  EXPECT_NE(netns_->ip("route show table 1000").output.find("10.244.7.0/24 via 198.51.100.7"), std::string::npos);
  EXPECT_TRUE(apply({{ChangeKind::remove, r}})[0].ok());

  // A remove without a metric matches the route whatever its metric (the fake relies on this).
  Route main_metric = route("10.244.8.0/24", "198.51.100.8");
  main_metric.metric = 70;
  Route v6_default = route("2001:db8:244:8::/64", "2001:db8:1::8");  // stored with 1024
  ASSERT_TRUE(apply({{ChangeKind::add, main_metric}, {ChangeKind::add, v6_default}})[0].ok());
  ASSERT_EQ(dump().size(), 2u);
  main_metric.metric = 0;
  auto removed = apply({{ChangeKind::remove, main_metric}, {ChangeKind::remove, v6_default}});
  EXPECT_TRUE(removed[0].ok()) << removed[0].message;
  EXPECT_TRUE(removed[1].ok()) << removed[1].message;
  EXPECT_TRUE(dump().empty());
}

TEST_F(NetlinkRouteTableTest, ConnectedNetworks) {
  auto connected = run(table_->connected_networks());
  ASSERT_TRUE(connected) << connected.error().message;
  std::set<std::string> seen;
  for (const auto& network : *connected) {
    seen.insert(network.prefix.to_string() + " " + network.local_address.to_string() + " " + network.link_name);
    EXPECT_EQ(network.oif, v0_);
    EXPECT_EQ(network.mtu, 1500u);
  }
  EXPECT_EQ(seen, (std::set<std::string>{"198.51.100.0/24 198.51.100.1 v0", "2001:db8:1::/64 2001:db8:1::1 v0"}));

  netns_->must("link set v0 down");
  auto after = run(table_->connected_networks());
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_TRUE(after->empty());
}

TEST_F(NetlinkRouteTableTest, FiveThousandRoutesInOneBatch) {
  netns_->must("addr add 100.64.0.1/16 dev v0");
  std::vector<RouteChange> changes;
  std::set<Route> wanted;
  for (int i = 0; i < 5000; ++i) {
    Route r = route("10.244." + std::to_string(i / 64) + "." + std::to_string((i % 64) * 4) + "/30",
                    "100.64." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2));
    changes.push_back({ChangeKind::add, r});
    r.oif = v0_;
    wanted.insert(r);
  }
  auto results = apply(changes);
  ASSERT_EQ(results.size(), 5000u);
  std::size_t failed = 0;
  for (const auto& result : results) failed += result.ok() ? 0 : 1;
  EXPECT_EQ(failed, 0u) << results[0].message;

  auto routes = dump();
  EXPECT_EQ(routes.size(), 5000u);
  EXPECT_EQ(std::set<Route>(routes.begin(), routes.end()), wanted);
  auto counted = netns_->exec("sh -c 'ip route show proto 44 | wc -l'");
  EXPECT_EQ(std::stoi(counted.output), 5000);

  for (auto& change : changes) change.kind = ChangeKind::remove;
  results = apply(changes);
  failed = 0;
  for (const auto& result : results) failed += result.ok() ? 0 : 1;
  EXPECT_EQ(failed, 0u);
  EXPECT_TRUE(dump().empty());
}

TEST_F(NetlinkRouteTableTest, SmallReceiveBufferSendsTheBatchInWindows) {
  netns_->must("addr add 100.64.0.1/16 dev v0");
  NetlinkTableOptions options;
  options.receive_buffer = 64 * 1024;
  NetlinkRouteTable small(io_.get_executor(), options);
  EXPECT_LT(small.window(), 500u);
  std::vector<RouteChange> changes;
  for (int i = 0; i < 2000; ++i) {
    changes.push_back(
        {ChangeKind::add, route("10.244." + std::to_string(i / 64) + "." + std::to_string((i % 64) * 4) + "/30",
                                "100.64.1." + std::to_string(i % 200 + 2))});
  }
  auto results = run(small.apply(changes));
  std::size_t ok = 0;
  for (const auto& result : results) ok += result.ok() ? 1 : 0;
  EXPECT_EQ(ok, 2000u) << results.back().error << " " << results.back().message;
  EXPECT_EQ(dump().size(), 2000u);
}

TEST_F(NetlinkRouteTableTest, MessageWithoutAnswerTimesOutAndOthersStillGetTheirAcks) {
  netlink::Socket socket(io_.get_executor(), {{}, 1 << 20, 0, std::chrono::milliseconds(200)});
  const std::uint32_t first = socket.reserve_sequence(2);
  std::vector<std::uint8_t> batch;
  std::vector<std::size_t> ends;
  netlink::append_route_change(batch, {ChangeKind::add, route("10.244.1.0/24", "198.51.100.2")}, first);
  ends.push_back(batch.size());
  netlink::append_route_change(batch, {ChangeKind::add, route("10.244.2.0/24", "198.51.100.2")}, first + 1);
  ends.push_back(batch.size());
  // Without NLM_F_ACK the kernel answers nothing on success: the second
  // message can only time out.
  reinterpret_cast<nlmsghdr*>(batch.data() + ends[0])->nlmsg_flags &= ~NLM_F_ACK;
  const auto start = std::chrono::steady_clock::now();
  auto results = run(socket.transact(batch, ends, first));
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].error, 0) << results[0].message;
  EXPECT_EQ(results[1].error, ETIMEDOUT);
  EXPECT_NE(results[1].message.find("within 200 ms"), std::string::npos) << results[1].message;
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_EQ(dump().size(), 2u);  // both were applied; only the answer was missing
}

TEST_F(NetlinkRouteTableTest, SequenceNumbersStartAtOneAndNeverUseZero) {
  netlink::Socket socket(io_.get_executor(), {});
  EXPECT_EQ(socket.reserve_sequence(3), 1u);
  EXPECT_EQ(socket.reserve_sequence(1), 4u);
  EXPECT_NE(socket.port_id(), 0u);
  EXPECT_TRUE(socket.extended_acks());
  EXPECT_EQ(socket.reserve_sequence(0x7ffffff0u), 5u);
  EXPECT_EQ(socket.reserve_sequence(0x7ffffff0u), 0x7ffffff5u);
  // 0xffffffe5 + 0x20 would run past 2^32 - 1: the range restarts at 1, never at 0.
  EXPECT_EQ(socket.reserve_sequence(0x20), 1u);
  EXPECT_EQ(socket.reserve_sequence(1), 0x21u);
}

TEST_F(NetlinkRouteTableTest, ConcurrentCallersAreSerializedOnTheSocket) {
  // Two coroutines on the one thread use the socket at once: an apply and a dump.
  auto applied =
      asio::co_spawn(io_, table_->apply({{ChangeKind::add, route("10.244.1.0/24", "198.51.100.2")}}), asio::use_future);
  auto dumped = asio::co_spawn(io_, table_->dump_routes(kMainTable, kDefaultRouteProtocol), asio::use_future);
  auto connected = asio::co_spawn(io_, table_->connected_networks(), asio::use_future);
  io_.restart();
  io_.run();
  auto results = applied.get();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  auto dump_result = dumped.get();
  ASSERT_TRUE(dump_result) << dump_result.error().message;
  EXPECT_EQ(dump_result->size(), 1u);  // the apply went first
  auto connected_result = connected.get();
  ASSERT_TRUE(connected_result) << connected_result.error().message;
  EXPECT_EQ(connected_result->size(), 2u);
}

// --- NetlinkChangeMonitor ---------------------------------------------------

class NetlinkChangeMonitorTest : public NetlinkRouteTableTest {
 protected:
  void SetUp() override {
    NetlinkRouteTableTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    monitor_ = std::make_unique<NetlinkChangeMonitor>(io_.get_executor());
    monitor_->ignore_port(table_->port_id());
    // Let the monitor learn the links; nothing relevant has happened yet.
    EXPECT_FALSE(next_change(*monitor_, std::chrono::milliseconds(100)));
  }
  void TearDown() override {
    monitor_.reset();
    NetlinkRouteTableTest::TearDown();
  }
  bool saw(const std::string& fragment) const {
    for (const auto& event : monitor_->last_events()) {
      if (event.find(fragment) != std::string::npos) return true;
    }
    return false;
  }
  std::string events() const {
    std::string out;
    for (const auto& event : monitor_->last_events()) out += event + "\n";
    return out;
  }

  std::unique_ptr<NetlinkChangeMonitor> monitor_;
};

TEST_F(NetlinkChangeMonitorTest, OurOwnChangesAndOtherProtocolsDoNotWakeIt) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.2")}})[0].ok());
  netns_->must("route add 10.244.9.0/24 via 198.51.100.9 proto static");
  netns_->must("route del 10.244.9.0/24 proto static");
  netns_->must("route add 10.244.10.0/24 via 198.51.100.9 proto 186");
  EXPECT_FALSE(next_change(*monitor_, std::chrono::milliseconds(200)));
  EXPECT_GE(monitor_->counters().messages, 4u);
  EXPECT_EQ(monitor_->counters().relevant, 0u);
}

TEST_F(NetlinkChangeMonitorTest, SeesOwnedRouteDeletedBySomeoneElse) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.2")}})[0].ok());
  netns_->must("route del 10.244.2.0/24 proto 44");
  auto notice = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(notice->relevant);
  EXPECT_FALSE(notice->resync_needed);
  EXPECT_EQ(notice->what.rfind("RTM_DELROUTE 10.244.2.0/24", 0), 0u) << notice->what;
}

TEST_F(NetlinkChangeMonitorTest, SeesOwnedUnreachableRouteDeletedBySomeoneElse) {
  Route own;
  own.destination = IpPrefix::parse("10.244.1.0/24");
  own.type = RouteType::unreachable;
  own.metric = 4278198272u;
  ASSERT_TRUE(apply({{ChangeKind::add, own}})[0].ok());
  netns_->must("route del unreachable 10.244.1.0/24 proto 44 metric 4278198272");
  auto notice = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(notice->relevant);
  EXPECT_EQ(notice->what, "RTM_DELROUTE unreachable 10.244.1.0/24 table 254 proto 44 metric 4278198272");
}

TEST_F(NetlinkChangeMonitorTest, SeesLinkDownAndUp) {
  netns_->must("link set v0 down");
  auto down = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(down);
  EXPECT_TRUE(down->relevant);
  EXPECT_TRUE(saw("(v0) down")) << events();

  netns_->must("link set v0 up");
  auto up = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(up);
  // veth: v0 comes up with carrier because v1 is up.
  bool any_up = saw("(v0) up");
  for (int i = 0; i < 5 && !any_up; ++i) {
    if (!next_change(*monitor_, std::chrono::milliseconds(500))) break;
    any_up = saw("(v0) up");
  }
  EXPECT_TRUE(any_up) << events();
}

TEST_F(NetlinkChangeMonitorTest, LinkDownDropsIpv4RoutesSilentlyButTheLinkEventWakesUs) {
  ASSERT_TRUE(apply({{ChangeKind::add, route("10.244.2.0/24", "198.51.100.2")}})[0].ok());
  ASSERT_EQ(dump().size(), 1u);
  netns_->must("link set v0 down");
  auto notice = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(dump().empty());                                  // the kernel flushed our IPv4 route...
  EXPECT_FALSE(saw("RTM_DELROUTE 10.244.2.0/24")) << events();  // ...without telling anyone
  EXPECT_TRUE(saw("(v0) down")) << events();                    // the link event is what we get
}

TEST_F(NetlinkChangeMonitorTest, SeesAddressRemoval) {
  netns_->must("addr del 198.51.100.1/24 dev v0");
  auto notice = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(saw("RTM_DELADDR 198.51.100.1/24")) << events();
}

TEST_F(NetlinkChangeMonitorTest, OverflowBecomesResyncNeeded) {
  netns_->must("addr add 100.64.0.1/16 dev v0");
  auto address_added = next_change(*monitor_, std::chrono::milliseconds(500));  // drains the address event
  ASSERT_TRUE(address_added);
  EXPECT_FALSE(address_added->resync_needed);
  ASSERT_FALSE(monitor_->set_receive_buffer(4096));
  std::vector<RouteChange> changes;
  for (int i = 0; i < 2000; ++i) {
    changes.push_back(
        {ChangeKind::add, route("10.244." + std::to_string(i / 64) + "." + std::to_string((i % 64) * 4) + "/30",
                                "100.64.2." + std::to_string(i % 200 + 2))});
  }
  // A second table: its echoes are not ignored, and there are far too many
  // for a 4 KiB buffer.
  NetlinkRouteTable other(io_.get_executor());
  auto results = run(other.apply(changes));
  ASSERT_TRUE(results.back().ok()) << results.back().message;
  auto notice = next_change(*monitor_, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(notice->resync_needed) << notice->what;
  EXPECT_TRUE(notice->relevant);
  EXPECT_NE(notice->what.find("ENOBUFS"), std::string::npos) << notice->what;
  EXPECT_EQ(monitor_->counters().overruns, 1u);
}

}  // namespace
}  // namespace hostgw::routing
