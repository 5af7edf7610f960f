// The Reconciler with --cross-subnet=vxlan: the device, its neighbour/FDB
// entries and the overlay routes, against FakeRouteTable + FakeOverlayTable.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "common/log.hpp"
#include "controller/reconciler.hpp"
#include "routing/fake_overlay_table.hpp"
#include "routing/fake_route_table.hpp"
#include "test-support/node_factory.hpp"
#include "test-support/run_until.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::ConnectedNetwork;
using routing::FdbEntry;
using routing::IpAddress;
using routing::IpPrefix;
using routing::NeighbourEntry;
using routing::Route;
using Type = k8s::NodeEvent::Type;
using test_support::node;
using test_support::node_event;
using test_support::node_list;

routing::MacAddress mac_of(const char* address) {
  return *routing::vtep_mac(IpAddress::parse(address));
}

class ReconcilerOverlayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // eth0 (#2, MTU 1500) on 198.51.100.0/24. The fake route table only accepts
    // routes on links it knows: the device's future indexes (the fake overlay
    // numbers devices from 10) are listed with its /32, as the kernel would.
    std::vector<ConnectedNetwork> networks = {
        {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}};
    for (std::uint32_t index = 10; index < 16; ++index)
      networks.push_back(
          {IpPrefix::parse("10.244.1.0/32"), IpAddress::parse("10.244.1.0"), index, "hostgw.vxlan", 1450});
    routes_.set_connected_networks(networks);
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
  }
  void TearDown() override {
    if (reconciler_) reconciler_->stop();
    settle();
    log::set_sink(nullptr);
  }

  static ReconcilerOptions options(CrossSubnet mode = CrossSubnet::vxlan) {
    ReconcilerOptions out;
    out.node_name = "node-a";
    out.resync_period = 3600s;
    out.min_pass_interval = 0ms;
    out.retry_initial = 50ms;
    out.retry_max = 400ms;
    out.routes.cross_subnet = mode;
    return out;
  }

  void start(ReconcilerOptions opts = options()) {
    reconciler_ = std::make_unique<Reconciler>(io_.get_executor(), routes_, std::move(opts), metrics_, &overlay_);
    asio::co_spawn(io_, reconciler_->run(), asio::detached);
    asio::co_spawn(io_, reconciler_->watch_kernel(routes_), asio::detached);
    settle();
  }

  void settle() { test_support::settle(io_); }
  template <typename Predicate>
  bool run_until(Predicate predicate) {
    return test_support::run_until(io_, predicate);
  }

  // node-a (us) and node-b on the LAN, node-c and node-d on 203.0.113.0/24.
  static std::vector<k8s::NodeInfo> cluster() {
    return {node("node-a", {"10.244.1.0/24"}, {"198.51.100.11"}), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
            node("node-c", {"10.244.3.0/24"}, {"203.0.113.13"}), node("node-d", {"10.244.4.0/24"}, {"203.0.113.14"})};
  }

  const Route* route_to(const char* destination) {
    return routes_.find({routing::kMainTable, IpPrefix::parse(destination), 0});
  }

  bool overlay_route(const char* destination, const char* vtep) {
    const Route* route = route_to(destination);
    const auto* device = overlay_.device("hostgw.vxlan");
    return route && device && route->gateway == IpAddress::parse(vtep) && route->onlink && route->oif == device->index;
  }

  bool has_peer_entries(const char* vtep, const char* underlay) {
    const auto* device = overlay_.device("hostgw.vxlan");
    if (!device) return false;
    auto n = device->neighbours.find(IpAddress::parse(vtep));
    auto f = device->fdb.find(mac_of(underlay));
    return n != device->neighbours.end() && n->second == mac_of(underlay) && f != device->fdb.end() &&
           f->second == IpAddress::parse(underlay);
  }

  // Index of the first log line containing `text` (log_.size() if none).
  std::size_t first_line(std::string_view text) {
    for (std::size_t i = 0; i < log_.size(); ++i)
      if (log_[i].find(text) != std::string::npos) return i;
    return log_.size();
  }

  asio::io_context io_;
  routing::FakeRouteTable routes_{io_.get_executor()};
  routing::FakeOverlayTable overlay_;
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<std::string> log_;
};

TEST_F(ReconcilerOverlayTest, OtherSubnetPeersGoThroughTheDeviceSameSubnetPeersStayDirect) {
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  ASSERT_TRUE(reconciler_->ready());
  const auto* device = overlay_.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(device->spec.vni, kDefaultVxlanVni);
  EXPECT_EQ(device->spec.port, kDefaultVxlanPort);
  EXPECT_EQ(device->spec.local, IpAddress::parse("198.51.100.11"));
  EXPECT_EQ(device->spec.underlay_oif, 2u);
  EXPECT_EQ(device->spec.mtu, 1450u);
  EXPECT_EQ(device->spec.address, IpPrefix::parse("10.244.1.0/32"));
  EXPECT_EQ(device->spec.mac, mac_of("198.51.100.11"));

  const Route* direct = route_to("10.244.2.0/24");
  ASSERT_NE(direct, nullptr);
  EXPECT_EQ(direct->gateway, IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(direct->oif, 2u);
  EXPECT_FALSE(direct->onlink);
  EXPECT_TRUE(overlay_route("10.244.3.0/24", "10.244.3.0"));
  EXPECT_TRUE(overlay_route("10.244.4.0/24", "10.244.4.0"));
  EXPECT_TRUE(has_peer_entries("10.244.3.0", "203.0.113.13"));
  EXPECT_TRUE(has_peer_entries("10.244.4.0", "203.0.113.14"));
  EXPECT_EQ(device->neighbours.size(), 2u);
  EXPECT_EQ(device->fdb.size(), 2u);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 0);
  // Entries before the routes that need them.
  EXPECT_LT(first_line("\"Overlay entry added\""), first_line("\"Route added\" node=\"node-c\""));
  EXPECT_EQ(first_line("\"VXLAN device created\"") < log_.size(), true);

  // A second pass changes nothing.
  const auto route_writes = routes_.writes(), overlay_writes = overlay_.writes();
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(routes_.writes(), route_writes);
  EXPECT_EQ(overlay_.writes(), overlay_writes);
  EXPECT_EQ(overlay_.creations(), 1u);
}

TEST_F(ReconcilerOverlayTest, DeviceDeletedByHandIsRecreatedAndRoutesFollowIt) {
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  const std::uint32_t first_index = overlay_.device("hostgw.vxlan")->index;
  ASSERT_TRUE(overlay_.remove_device_externally("hostgw.vxlan"));
  routes_.post_notice({true, false, "RTM_DELLINK hostgw.vxlan"});
  settle();
  const auto* device = overlay_.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr);
  EXPECT_NE(device->index, first_index);
  EXPECT_EQ(overlay_.creations(), 2u);
  EXPECT_TRUE(overlay_route("10.244.3.0/24", "10.244.3.0"));
  EXPECT_TRUE(has_peer_entries("10.244.3.0", "203.0.113.13"));
  EXPECT_TRUE(has_peer_entries("10.244.4.0", "203.0.113.14"));
  EXPECT_EQ(registry_.counter("kube_hostgw_overlay_device_creations_total", "").value(), 2);
}

TEST_F(ReconcilerOverlayTest, EntriesDeletedByHandAreRestoredOnTheNextPass) {
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  const std::uint32_t index = overlay_.device("hostgw.vxlan")->index;
  ASSERT_TRUE(
      overlay_.remove_externally(index, NeighbourEntry{IpAddress::parse("10.244.3.0"), mac_of("203.0.113.13")}));
  ASSERT_TRUE(overlay_.remove_externally(index, FdbEntry{mac_of("203.0.113.14"), IpAddress::parse("203.0.113.14")}));
  // A wrong entry someone put there goes too.
  ASSERT_TRUE(overlay_.seed(
      index, FdbEntry{routing::MacAddress::parse("0e:68:01:02:03:04"), IpAddress::parse("203.0.113.99")}));
  reconciler_->request_pass("resync");
  settle();
  EXPECT_TRUE(has_peer_entries("10.244.3.0", "203.0.113.13"));
  EXPECT_TRUE(has_peer_entries("10.244.4.0", "203.0.113.14"));
  EXPECT_EQ(overlay_.device(index)->fdb.size(), 2u);
  EXPECT_EQ(overlay_.creations(), 1u);
}

TEST_F(ReconcilerOverlayTest, PeerLeavingTakesItsRouteAndEntriesLastPeerTakesTheDevice) {
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  reconciler_->on_node_event(node_event(Type::deleted, node("node-c", {"10.244.3.0/24"}, {"203.0.113.13"})));
  settle();
  EXPECT_EQ(route_to("10.244.3.0/24"), nullptr);
  const auto* device = overlay_.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr);
  EXPECT_FALSE(device->neighbours.contains(IpAddress::parse("10.244.3.0")));
  EXPECT_FALSE(device->fdb.contains(mac_of("203.0.113.13")));
  EXPECT_TRUE(has_peer_entries("10.244.4.0", "203.0.113.14"));
  // Route first, then its entries.
  EXPECT_LT(first_line("\"Route deleted\" node=\"node-c\""), first_line("\"Overlay entry deleted\""));

  reconciler_->on_node_event(node_event(Type::deleted, node("node-d", {"10.244.4.0/24"}, {"203.0.113.14"})));
  settle();
  EXPECT_EQ(route_to("10.244.4.0/24"), nullptr);
  EXPECT_EQ(overlay_.device("hostgw.vxlan"), nullptr);
  EXPECT_NE(route_to("10.244.2.0/24"), nullptr);  // the direct route stays
  EXPECT_LT(first_line("\"Route deleted\" node=\"node-d\""), first_line("\"VXLAN device deleted\""));
}

TEST_F(ReconcilerOverlayTest, PeerAddedLaterOnAnotherSubnetGetsEntriesSameSubnetPeerIsAnIncrementalStep) {
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  ASSERT_TRUE(overlay_route("10.244.3.0/24", "10.244.3.0"));
  const std::size_t passes = reconciler_->passes();
  const std::size_t steps = reconciler_->incremental_steps();

  // Same subnet: one incremental step, no full pass.
  reconciler_->on_node_event(node_event(Type::added, node("node-e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  ASSERT_TRUE(run_until([&] { return route_to("10.244.5.0/24") != nullptr; }));
  EXPECT_EQ(reconciler_->passes(), passes);
  EXPECT_EQ(reconciler_->incremental_steps(), steps + 1);
  EXPECT_FALSE(route_to("10.244.5.0/24")->onlink);

  // Another subnet: the neighbour/FDB entries come with the route, so a full pass.
  reconciler_->on_node_event(node_event(Type::added, node("node-f", {"10.244.6.0/24"}, {"203.0.113.16"})));
  ASSERT_TRUE(run_until([&] { return overlay_route("10.244.6.0/24", "10.244.6.0"); }));
  EXPECT_TRUE(has_peer_entries("10.244.6.0", "203.0.113.16"));
  EXPECT_EQ(reconciler_->passes(), passes + 1);
}

TEST_F(ReconcilerOverlayTest, SkipModeDeletesALeftoverDeviceAndSkipsOtherSubnetPeers) {
  routing::VxlanDeviceSpec spec;
  spec.vni = kDefaultVxlanVni;
  spec.port = kDefaultVxlanPort;
  spec.local = IpAddress::parse("198.51.100.11");
  spec.underlay_oif = 2;
  spec.mtu = 1450;
  spec.address = IpPrefix::parse("10.244.1.0/32");
  overlay_.seed_device(spec);
  start(options(CrossSubnet::skip));
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  EXPECT_EQ(overlay_.device("hostgw.vxlan"), nullptr);
  EXPECT_EQ(route_to("10.244.3.0/24"), nullptr);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 2);
  EXPECT_NE(first_line("reason=\"--cross-subnet=skip\""), log_.size());
}

TEST_F(ReconcilerOverlayTest, NoOverlayPeerNoDevice) {
  start();
  reconciler_->on_node_event(node_list({cluster()[0], cluster()[1]}));
  settle();
  EXPECT_EQ(overlay_.device_count(), 0u);
  EXPECT_EQ(overlay_.ensure_calls(), 0u);
  EXPECT_NE(route_to("10.244.2.0/24"), nullptr);
}

TEST_F(ReconcilerOverlayTest, DeviceThatCannotBeMadeLeavesOverlayRoutesOutAndIsRetried) {
  overlay_.fail_next_ensure(std::make_error_code(std::errc::operation_not_permitted));
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  EXPECT_EQ(route_to("10.244.3.0/24"), nullptr);
  EXPECT_NE(route_to("10.244.2.0/24"), nullptr);
  // The line carries the table's message: the device and the step that failed.
  EXPECT_NE(first_line("\"VXLAN overlay not in place\" target=\"overlay\" step=\"ensure device\" "
                       "error=\"device hostgw.vxlan: creating the vxlan device: Operation not permitted\""),
            log_.size());
  // The retry (50 ms) creates it.
  ASSERT_TRUE(run_until([&] { return overlay_route("10.244.3.0/24", "10.244.3.0"); }));
  EXPECT_TRUE(has_peer_entries("10.244.3.0", "203.0.113.13"));
}

TEST_F(ReconcilerOverlayTest, FailedEntryDumpLeavesEntriesAloneIsLoggedWithTheDumpAndRetried) {
  overlay_.fail_next_dump(std::make_error_code(std::errc::io_error));
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  const auto* device = overlay_.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr) << "the device is ensured before the dump";
  EXPECT_NE(first_line("\"VXLAN overlay not in place\" target=\"overlay\" step=\"dump neighbour/FDB entries\" "
                       "error=\"dump of overlay entries on link " +
                       std::to_string(device->index) + ": Input/output error\""),
            log_.size());
  EXPECT_NE(route_to("10.244.2.0/24"), nullptr) << "the other targets carry on";
  // The retry (50 ms) reads the entries and adds them.
  ASSERT_TRUE(run_until([&] { return has_peer_entries("10.244.3.0", "203.0.113.13"); }));
  EXPECT_TRUE(overlay_route("10.244.3.0/24", "10.244.3.0"));
}

TEST_F(ReconcilerOverlayTest, RestartAdoptsDeviceEntriesAndRoutesWithoutWrites) {
  start();
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  reconciler_->stop();
  settle();
  const auto route_writes = routes_.writes(), overlay_writes = overlay_.writes();
  const auto creations = overlay_.creations();
  MetricsRegistry registry;
  ControllerMetrics metrics(registry);
  Reconciler second(io_.get_executor(), routes_, options(), metrics, &overlay_);
  asio::co_spawn(io_, second.run(), asio::detached);
  second.on_node_event(node_list(cluster()));
  settle();
  EXPECT_TRUE(second.ready());
  EXPECT_EQ(routes_.writes(), route_writes);
  EXPECT_EQ(overlay_.writes(), overlay_writes);
  EXPECT_EQ(overlay_.creations(), creations);
  second.stop();
  settle();
}

// Dual stack: node-b has its IPv6 address on our IPv6 subnet, node-c and node-d
// are on other subnets of both families.
class ReconcilerOverlayDualStackTest : public ReconcilerOverlayTest {
 protected:
  void SetUp() override {
    ReconcilerOverlayTest::SetUp();
    std::vector<ConnectedNetwork> networks = {
        {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500},
        {IpPrefix::parse("2001:db8:100::/64"), IpAddress::parse("2001:db8:100::11"), 2, "eth0", 1500}};
    for (std::uint32_t index = 10; index < 16; ++index)
      networks.push_back(
          {IpPrefix::parse("10.244.1.0/32"), IpAddress::parse("10.244.1.0"), index, "hostgw.vxlan", 1450});
    routes_.set_connected_networks(networks);
  }
  static k8s::NodeInfo dual(const char* name, int n, const char* v4, const char* v6) {
    const std::string i = std::to_string(n);
    return node(name, {"10.244." + i + ".0/24", "2001:db8:244:" + i + "::/64"}, {v4, v6});
  }
  static std::vector<k8s::NodeInfo> cluster6() {
    return {
        dual("node-a", 1, "198.51.100.11", "2001:db8:100::11"), dual("node-b", 2, "198.51.100.12", "2001:db8:100::12"),
        dual("node-c", 3, "203.0.113.13", "2001:db8:113::13"), dual("node-d", 4, "203.0.113.14", "2001:db8:113::14")};
  }
  const Route* route6_to(const char* destination) {
    return routes_.find({routing::kMainTable, IpPrefix::parse(destination), kIpv6DefaultMetric});
  }
  bool overlay_route6(const char* destination, const char* vtep) {
    const Route* route = route6_to(destination);
    const auto* device = overlay_.device("hostgw.vxlan");
    return route && device && route->gateway == IpAddress::parse(vtep) && route->onlink && route->oif == device->index;
  }
  // Both VTEP addresses of the peer map to the MAC of its IPv4 address, one FDB entry.
  bool has_dual_entries(int n, const char* underlay) {
    const std::string i = std::to_string(n);
    const auto* device = overlay_.device("hostgw.vxlan");
    if (!has_peer_entries(("10.244." + i + ".0").c_str(), underlay) || !device) return false;
    auto v6 = device->neighbours.find(IpAddress::parse("2001:db8:244:" + i + "::"));
    return v6 != device->neighbours.end() && v6->second == mac_of(underlay);
  }
};

TEST_F(ReconcilerOverlayDualStackTest, Ipv6PodsRideTheDeviceAndKeepEveryIpv4Guarantee) {
  start();
  reconciler_->on_node_event(node_list(cluster6()));
  settle();
  ASSERT_TRUE(reconciler_->ready());
  const auto* device = overlay_.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(device->spec.address6, IpPrefix::parse("2001:db8:244:1::/128"));
  EXPECT_EQ(device->spec.local, IpAddress::parse("198.51.100.11"));
  // Same IPv6 subnet: direct; others: via their IPv6 VTEP address on the device.
  const Route* direct6 = route6_to("2001:db8:244:2::/64");
  ASSERT_NE(direct6, nullptr);
  EXPECT_EQ(direct6->gateway, IpAddress::parse("2001:db8:100::12"));
  EXPECT_EQ(direct6->oif, 2u);
  EXPECT_FALSE(direct6->onlink);
  EXPECT_TRUE(overlay_route("10.244.3.0/24", "10.244.3.0"));
  EXPECT_TRUE(overlay_route6("2001:db8:244:3::/64", "2001:db8:244:3::"));
  EXPECT_TRUE(overlay_route6("2001:db8:244:4::/64", "2001:db8:244:4::"));
  EXPECT_TRUE(has_dual_entries(3, "203.0.113.13"));
  EXPECT_TRUE(has_dual_entries(4, "203.0.113.14"));
  EXPECT_EQ(device->neighbours.size(), 4u);
  EXPECT_EQ(device->fdb.size(), 2u);
  EXPECT_EQ(registry_.gauge("kube_hostgw_overlay_peers", "").value(), 2);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 0);
  EXPECT_LT(first_line("\"Overlay entry added\""), first_line("\"Route added\" node=\"node-c\""));

  // A second pass changes nothing.
  auto route_writes = routes_.writes(), overlay_writes = overlay_.writes();
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(routes_.writes(), route_writes);
  EXPECT_EQ(overlay_.writes(), overlay_writes);

  // An IPv6 neighbour deleted by hand comes back.
  std::uint32_t index = device->index;
  ASSERT_TRUE(
      overlay_.remove_externally(index, NeighbourEntry{IpAddress::parse("2001:db8:244:3::"), mac_of("203.0.113.13")}));
  reconciler_->request_pass("resync");
  settle();
  EXPECT_TRUE(has_dual_entries(3, "203.0.113.13"));

  // The device deleted by hand comes back with the IPv6 entries and routes.
  ASSERT_TRUE(overlay_.remove_device_externally("hostgw.vxlan"));
  routes_.post_notice({true, false, "RTM_DELLINK hostgw.vxlan"});
  settle();
  ASSERT_NE(overlay_.device("hostgw.vxlan"), nullptr);
  EXPECT_NE(overlay_.device("hostgw.vxlan")->index, index);
  EXPECT_EQ(overlay_.device("hostgw.vxlan")->spec.address6, IpPrefix::parse("2001:db8:244:1::/128"));
  EXPECT_TRUE(overlay_route6("2001:db8:244:3::/64", "2001:db8:244:3::"));
  EXPECT_TRUE(has_dual_entries(3, "203.0.113.13"));
  EXPECT_TRUE(has_dual_entries(4, "203.0.113.14"));

  // A restart adopts everything without a write.
  reconciler_->stop();
  settle();
  route_writes = routes_.writes();
  overlay_writes = overlay_.writes();
  const auto creations = overlay_.creations();
  {
    MetricsRegistry registry;
    ControllerMetrics metrics(registry);
    Reconciler second(io_.get_executor(), routes_, options(), metrics, &overlay_);
    asio::co_spawn(io_, second.run(), asio::detached);
    second.on_node_event(node_list(cluster6()));
    settle();
    EXPECT_TRUE(second.ready());
    EXPECT_EQ(routes_.writes(), route_writes);
    EXPECT_EQ(overlay_.writes(), overlay_writes);
    EXPECT_EQ(overlay_.creations(), creations);
    second.stop();
    settle();
  }
}

TEST_F(ReconcilerOverlayDualStackTest, PeerLeavingTakesItsIpv6RouteAndNeighbour) {
  start();
  reconciler_->on_node_event(node_list(cluster6()));
  settle();
  ASSERT_TRUE(overlay_route6("2001:db8:244:3::/64", "2001:db8:244:3::"));
  reconciler_->on_node_event(node_event(Type::deleted, cluster6()[2]));
  settle();
  EXPECT_EQ(route6_to("2001:db8:244:3::/64"), nullptr);
  EXPECT_EQ(route_to("10.244.3.0/24"), nullptr);
  const auto* device = overlay_.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr);
  EXPECT_FALSE(device->neighbours.contains(IpAddress::parse("2001:db8:244:3::")));
  EXPECT_FALSE(device->neighbours.contains(IpAddress::parse("10.244.3.0")));
  EXPECT_FALSE(device->fdb.contains(mac_of("203.0.113.13")));
  EXPECT_TRUE(has_dual_entries(4, "203.0.113.14"));
}

TEST_F(ReconcilerOverlayDualStackTest, Ipv6OnlyPeerOnAnotherSubnetIsSkippedNotSentOverTheDevice) {
  auto nodes = cluster6();
  nodes.push_back(node("node-e", {"2001:db8:244:5::/64"}, {"2001:db8:113::15"}));
  start();
  reconciler_->on_node_event(node_list(nodes));
  settle();
  EXPECT_EQ(route6_to("2001:db8:244:5::/64"), nullptr);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 1);
  EXPECT_EQ(overlay_.device("hostgw.vxlan")->neighbours.size(), 4u);
  EXPECT_NE(first_line("no usable IPv4 address"), log_.size());
}

TEST_F(ReconcilerOverlayTest, WithoutAnOverlayTableVxlanModeActsAsSkip) {
  reconciler_ = std::make_unique<Reconciler>(io_.get_executor(), routes_, options(), metrics_);
  asio::co_spawn(io_, reconciler_->run(), asio::detached);
  reconciler_->on_node_event(node_list(cluster()));
  settle();
  EXPECT_EQ(route_to("10.244.3.0/24"), nullptr);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 2);
}

}  // namespace
}  // namespace hostgw::controller
