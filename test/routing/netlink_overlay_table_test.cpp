// NetlinkOverlayTable (and the change monitor's overlay events) against the
// real kernel, inside network namespaces each test creates and deletes
// (label `netns`, root only). Underlay addresses 198.51.100.0/24 and
// 203.0.113.0/24, overlay 10.244.0.0/16.

#include "routing/netlink_overlay_table.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <rapidjson/document.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <iostream>
#include <memory>

#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_overlay_message.hpp"
#include "routing/netlink_route_table.hpp"
#include "routing/netlink_socket.hpp"
#include "test-support/netns_fixture.hpp"

namespace hostgw::routing {
namespace {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

const std::string kDevice(kVxlanDeviceName);

NeighbourEntry neighbour(const std::string& vtep, const std::string& node) {
  return {IpAddress::parse(vtep), *vtep_mac(IpAddress::parse(node))};
}
FdbEntry fdb(const std::string& node) {
  IpAddress address = IpAddress::parse(node);
  return {*vtep_mac(address), address};
}

rapidjson::Document parse_json(const hostgw::testing::CommandResult& result) {
  EXPECT_EQ(result.status, 0) << result.output;
  rapidjson::Document document;
  document.Parse(result.output.c_str());
  EXPECT_FALSE(document.HasParseError()) << result.output;
  return document;
}

class NetlinkOverlayTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces";
    netns_ = std::make_unique<hostgw::testing::ScopedNetns>();
    netns_->add_veth_with_addresses();
    v0_ = if_nametoindex("v0");
    ASSERT_NE(v0_, 0u);
    table_ = std::make_unique<NetlinkOverlayTable>(io_.get_executor());
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

  VxlanDeviceSpec spec() const {
    VxlanDeviceSpec s;
    s.vni = 4097;
    s.port = 4790;
    s.local = IpAddress::parse("198.51.100.1");
    s.underlay_oif = v0_;
    s.mtu = 1500 - kVxlanOverheadV4;
    s.mac = *vtep_mac(s.local);
    s.address = IpPrefix::parse("10.244.1.0/32");
    return s;
  }
  EnsuredDevice ensure(const VxlanDeviceSpec& s) {
    common::Result<EnsuredDevice> result = run(table_->ensure_device(s));
    if (!result) {
      ADD_FAILURE() << result.error().message;
      return {};
    }
    return *result;
  }
  // ensure_device(s) must fail: its error.
  common::Error refusal(const VxlanDeviceSpec& s) {
    common::Result<EnsuredDevice> result = run(table_->ensure_device(s));
    if (result) {
      ADD_FAILURE() << "ensure_device succeeded, index " << result->index;
      return {};
    }
    return result.error();
  }
  std::vector<OverlayChangeResult> apply(std::uint32_t index, std::vector<OverlayChange> changes) {
    return run(table_->apply(index, std::move(changes)));
  }
  OverlayDump dump(std::uint32_t index) {
    common::Result<OverlayDump> result = run(table_->dump(index));
    if (!result) {
      ADD_FAILURE() << result.error().message;
      return {};
    }
    return *result;
  }

  // The device as our own parser reads it, through a separate socket.
  std::optional<netlink::LinkDetails> read_back(const std::string& name) {
    netlink::Socket socket(io_.get_executor(), netlink::SocketOptions{});
    std::optional<netlink::LinkDetails> details;
    auto query = [&]() -> asio::awaitable<std::error_code> {
      const std::uint32_t seq = socket.reserve_sequence(1);
      const auto request = netlink::link_get_request(name, seq);
      const netlink::MessageVisitor visit = [&](const netlink::MessageHeader&, std::span<const std::uint8_t> m) {
        details = netlink::parse_link_details(m);
      };
      co_return co_await socket.request(request, seq, visit);
    };
    std::error_code error = run(query());
    if (error) return std::nullopt;
    return details;
  }

  asio::io_context io_;
  std::unique_ptr<hostgw::testing::ScopedNetns> netns_;
  std::unique_ptr<NetlinkOverlayTable> table_;
  std::uint32_t v0_ = 0;
};

TEST_F(NetlinkOverlayTableTest, CreatesTheDeviceWithTheRightAttributes) {
  EnsuredDevice result = ensure(spec());
  EXPECT_TRUE(result.created);
  EXPECT_TRUE(result.changed);
  ASSERT_NE(result.index, 0u);
  EXPECT_EQ(result.index, if_nametoindex(kDevice.c_str()));
  EXPECT_EQ(run(table_->device_index(kDevice)), result.index);

  // iproute2's view.
  auto link = parse_json(netns_->ip("-d -j link show " + kDevice));
  ASSERT_TRUE(link.IsArray() && link.Size() == 1);
  const auto& l = link[0];
  EXPECT_EQ(l["mtu"].GetUint(), 1450u);
  EXPECT_EQ(std::string(l["address"].GetString()), "0e:68:c6:33:64:01");
  bool up = false;
  for (const auto& flag : l["flags"].GetArray()) up = up || std::string(flag.GetString()) == "UP";
  EXPECT_TRUE(up);
  const auto& info = l["linkinfo"];
  EXPECT_EQ(std::string(info["info_kind"].GetString()), "vxlan");
  const auto& data = info["info_data"];
  EXPECT_EQ(data["id"].GetUint(), 4097u);
  EXPECT_EQ(data["port"].GetUint(), 4790u);
  EXPECT_EQ(std::string(data["local"].GetString()), "198.51.100.1");
  EXPECT_EQ(std::string(data["link"].GetString()), "v0");
  EXPECT_FALSE(data["learning"].GetBool());

  // Our parser's view.
  auto details = read_back(kDevice);
  ASSERT_TRUE(details);
  EXPECT_EQ(details->kind, "vxlan");
  EXPECT_EQ(details->vni, 4097u);
  EXPECT_EQ(details->port, 4790);
  EXPECT_EQ(details->local, IpAddress::parse("198.51.100.1"));
  EXPECT_EQ(details->underlay_oif, v0_);
  EXPECT_EQ(details->learning, false);
  EXPECT_EQ(details->mac, spec().mac);
  EXPECT_EQ(details->link.mtu, 1450u);

  auto addresses = parse_json(netns_->ip("-4 -j addr show dev " + kDevice));
  ASSERT_EQ(addresses.Size(), 1u);
  const auto& address_info = addresses[0]["addr_info"];
  ASSERT_EQ(address_info.Size(), 1u);
  EXPECT_EQ(std::string(address_info[0]["local"].GetString()), "10.244.1.0");
  EXPECT_EQ(address_info[0]["prefixlen"].GetUint(), 32u);

  // A second call finds nothing to do.
  EnsuredDevice again = ensure(spec());
  EXPECT_FALSE(again.created);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.index, result.index);
}

TEST_F(NetlinkOverlayTableTest, RecreatedOnVniPortOrLocalChangeAndOverAForeignDevice) {
  const std::uint32_t first = ensure(spec()).index;
  VxlanDeviceSpec changed = spec();
  changed.vni = 4098;
  EnsuredDevice result = ensure(changed);
  EXPECT_TRUE(result.created);
  EXPECT_NE(result.index, first);
  EXPECT_EQ(read_back(kDevice)->vni, 4098u);

  changed.port = 4791;
  result = ensure(changed);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(read_back(kDevice)->port, 4791);

  netns_->must("addr add 198.51.100.7/24 dev v0");
  changed.local = IpAddress::parse("198.51.100.7");
  result = ensure(changed);
  EXPECT_TRUE(result.created);
  EXPECT_EQ(read_back(kDevice)->local, IpAddress::parse("198.51.100.7"));

  netns_->must("link del " + kDevice);
  netns_->must("link add " + kDevice + " type veth peer name hv1");
  common::Result<void> left = run(table_->delete_device(kDevice));
  ASSERT_FALSE(left) << "delete_device leaves a veth alone";
  EXPECT_EQ(left.error().code.value(), EMEDIUMTYPE) << left.error().message;
  EXPECT_NE(left.error().message.find("device " + kDevice + ": left alone, it is a veth device"), std::string::npos)
      << left.error().message;
  EXPECT_TRUE(run(table_->device_index(kDevice)));
  result = ensure(spec());
  EXPECT_TRUE(result.created);
  EXPECT_EQ(read_back(kDevice)->kind, "vxlan");

  netns_->must("link del " + kDevice);
  netns_->must("link add " + kDevice + " type vxlan id 4097 dstport 4790 local 198.51.100.1 dev v0 learning");
  result = ensure(spec());
  EXPECT_TRUE(result.created) << "learning on is recreated";
  EXPECT_EQ(read_back(kDevice)->learning, false);
}

TEST_F(NetlinkOverlayTableTest, MtuMacUpStateAndAddressFixedInPlace) {
  const std::uint32_t index = ensure(spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, fdb("203.0.113.9")}})[0].ok());
  netns_->must("link set " + kDevice + " mtu 1300");
  netns_->must("link set " + kDevice + " down");
  netns_->must("link set " + kDevice + " address 0e:68:00:00:00:01");
  netns_->must("addr add 10.244.77.0/32 dev " + kDevice);
  EnsuredDevice result = ensure(spec());
  EXPECT_FALSE(result.created);
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.index, index);
  auto details = read_back(kDevice);
  EXPECT_EQ(details->link.mtu, 1450u);
  EXPECT_TRUE(details->link.flags & IFF_UP);
  EXPECT_EQ(details->mac, spec().mac);
  auto addresses = parse_json(netns_->ip("-4 -j addr show dev " + kDevice));
  ASSERT_EQ(addresses[0]["addr_info"].Size(), 1u) << "the stale address is gone";
  EXPECT_EQ(std::string(addresses[0]["addr_info"][0]["local"].GetString()), "10.244.1.0");
  EXPECT_EQ(dump(index).fdb, std::vector<FdbEntry>{fdb("203.0.113.9")}) << "entries survive an in-place fix";

  // The VTEP address moves with the podCIDR.
  VxlanDeviceSpec moved = spec();
  moved.address = IpPrefix::parse("10.244.5.0/32");
  result = ensure(moved);
  EXPECT_TRUE(result.changed);
  addresses = parse_json(netns_->ip("-4 -j addr show dev " + kDevice));
  ASSERT_EQ(addresses[0]["addr_info"].Size(), 1u);
  EXPECT_EQ(std::string(addresses[0]["addr_info"][0]["local"].GetString()), "10.244.5.0");
}

TEST_F(NetlinkOverlayTableTest, RefusalsCarryTheFieldOrTheKernelsText) {
  VxlanDeviceSpec bad = spec();
  bad.vni = 0;
  common::Error error = refusal(bad);
  EXPECT_EQ(error.code.value(), EINVAL);
  EXPECT_NE(error.message.find("device " + kDevice + ": VNI 0"), std::string::npos) << error.message;
  EXPECT_FALSE(run(table_->device_index(kDevice)));

  // The kernel clamps a new device's MTU to the underlay's minus 50 silently;
  // an MTU it cannot have is an error, not a device that never matches.
  bad = spec();
  bad.mtu = 9000;
  error = refusal(bad);
  EXPECT_EQ(error.code.value(), EINVAL);
  EXPECT_NE(error.message.find("MTU 1450, not 9000"), std::string::npos) << error.message;
  error = refusal(bad);
  EXPECT_EQ(error.code.value(), EINVAL) << "in place too";
  EXPECT_NE(error.message.find("device " + kDevice + ": setting MTU 9000 (was 1450)"), std::string::npos)
      << error.message;
  EXPECT_TRUE(run(table_->ensure_device(spec())));
  EXPECT_TRUE(run(table_->delete_device(kDevice)));

  bad = spec();
  bad.underlay_oif = 999;
  error = refusal(bad);
  EXPECT_EQ(error.code.value(), ENODEV) << error.message;
  EXPECT_NE(error.message.find("device " + kDevice + ": creating the vxlan device"), std::string::npos)
      << error.message;
  EXPECT_NE(error.message.find("link 999"), std::string::npos) << error.message;
  EXPECT_FALSE(run(table_->device_index(kDevice)));
  std::cerr << "kernel refusal as reported: " << error.message << "\n";
}

TEST_F(NetlinkOverlayTableTest, EntriesAddedReplacedRemovedAndDumped) {
  const std::uint32_t index = ensure(spec()).index;
  std::vector<OverlayChange> changes = {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")},
                                        {ChangeKind::add, fdb("203.0.113.9")},
                                        {ChangeKind::add, neighbour("10.244.3.0", "203.0.113.3")},
                                        {ChangeKind::add, fdb("203.0.113.3")}};
  for (const auto& r : apply(index, changes)) EXPECT_TRUE(r.ok()) << r.message;
  OverlayDump d = dump(index);
  EXPECT_EQ(d.neighbours, (std::vector<NeighbourEntry>{neighbour("10.244.3.0", "203.0.113.3"),
                                                       neighbour("10.244.9.0", "203.0.113.9")}));
  EXPECT_EQ(d.fdb, (std::vector<FdbEntry>{fdb("203.0.113.3"), fdb("203.0.113.9")}));

  // iproute2 agrees.
  auto neighbours = parse_json(netns_->ip("-4 -j neigh show dev " + kDevice + " nud permanent"));
  ASSERT_EQ(neighbours.Size(), 2u);
  auto bridge = parse_json(netns_->exec("bridge -j fdb show dev " + kDevice));
  int with_dst = 0;
  for (const auto& entry : bridge.GetArray()) {
    if (!entry.HasMember("dst")) continue;
    ++with_dst;
    const std::string mac = entry["mac"].GetString();
    const std::string dst = entry["dst"].GetString();
    EXPECT_EQ(*vtep_mac(IpAddress::parse(dst)), MacAddress::parse(mac));
  }
  EXPECT_EQ(with_dst, 2);

  // Idempotent: the same batch again succeeds and changes nothing.
  for (const auto& r : apply(index, changes)) EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(dump(index).neighbours, d.neighbours);
  EXPECT_EQ(dump(index).fdb, d.fdb);

  // Replace: the peer's VTEP MAC / underlay address change.
  NeighbourEntry moved = neighbour("10.244.9.0", "203.0.113.99");
  FdbEntry redirected{fdb("203.0.113.9").mac, IpAddress::parse("203.0.113.10")};
  for (const auto& r : apply(index, {{ChangeKind::replace, moved}, {ChangeKind::replace, redirected}})) {
    EXPECT_TRUE(r.ok()) << r.message;
  }
  d = dump(index);
  EXPECT_EQ(d.neighbours, (std::vector<NeighbourEntry>{neighbour("10.244.3.0", "203.0.113.3"), moved}));
  EXPECT_EQ(d.fdb, (std::vector<FdbEntry>{fdb("203.0.113.3"), redirected}));

  // Remove; removing again fails for that message only.
  auto results = apply(index, {{ChangeKind::remove, moved},
                               {ChangeKind::remove, redirected},
                               {ChangeKind::remove, moved},
                               {ChangeKind::remove, fdb("203.0.113.77")}});
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_TRUE(results[1].ok()) << results[1].message;
  EXPECT_EQ(results[2].error, ENOENT) << results[2].message;
  EXPECT_EQ(results[3].error, ENOENT) << results[3].message;
  d = dump(index);
  EXPECT_EQ(d.neighbours, std::vector<NeighbourEntry>{neighbour("10.244.3.0", "203.0.113.3")});
  EXPECT_EQ(d.fdb, std::vector<FdbEntry>{fdb("203.0.113.3")});

  // IPv6 entries are refused before sending; an unknown device by the kernel.
  results = apply(index, {{ChangeKind::add, FdbEntry{fdb("203.0.113.3").mac, IpAddress::parse("2001:db8:2::1")}}});
  EXPECT_EQ(results[0].error, EINVAL);
  EXPECT_NE(results[0].message.find("IPv6"), std::string::npos);
  results = apply(index + 100, {{ChangeKind::add, neighbour("10.244.4.0", "203.0.113.4")}});
  EXPECT_EQ(results[0].error, ENODEV) << results[0].message;
  common::Result<OverlayDump> missing = run(table_->dump(index + 100));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code.value(), ENODEV) << missing.error().message;
  EXPECT_EQ(missing.error().message, "dump of overlay entries on link " + std::to_string(index + 100) +
                                         ": reading the link: " + missing.error().code.message());
}

TEST_F(NetlinkOverlayTableTest, Ipv6VtepAddressAndNeighboursOnTheIpv4Device) {
  // The device's IPv6 addresses of a scope, as "address/length" (plus " tentative").
  auto addresses6 = [&](const std::string& scope) {
    auto shown = parse_json(netns_->ip("-6 -j addr show dev " + kDevice));
    std::vector<std::string> out;
    for (const auto& link : shown.GetArray()) {
      if (!link.HasMember("addr_info")) continue;
      for (const auto& info : link["addr_info"].GetArray()) {
        if (std::string(info["scope"].GetString()) != scope) continue;
        out.push_back(std::string(info["local"].GetString()) + "/" + std::to_string(info["prefixlen"].GetInt()) +
                      (info.HasMember("tentative") ? " tentative" : ""));
      }
    }
    return out;
  };
  VxlanDeviceSpec dual = spec();
  dual.address6 = IpPrefix::parse("2001:db8:244:1::/128");
  const std::uint32_t index = ensure(dual).index;
  // The /128 is usable at once (added without DAD), beside the kernel's link-local address.
  EXPECT_EQ(addresses6("global"), std::vector<std::string>{"2001:db8:244:1::/128"});
  EXPECT_FALSE(ensure(dual).changed) << "adopted as it is";

  // A dual-stack peer: both VTEP addresses to the MAC of its IPv4 address, one FDB entry.
  const NeighbourEntry v6{IpAddress::parse("2001:db8:244:9::"), *vtep_mac(IpAddress::parse("203.0.113.9"))};
  for (const auto& r : apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")},
                                     {ChangeKind::add, v6},
                                     {ChangeKind::add, fdb("203.0.113.9")}})) {
    EXPECT_TRUE(r.ok()) << r.message;
  }
  OverlayDump d = dump(index);
  EXPECT_EQ(d.neighbours, (std::vector<NeighbourEntry>{neighbour("10.244.9.0", "203.0.113.9"), v6}));
  EXPECT_EQ(d.fdb, std::vector<FdbEntry>{fdb("203.0.113.9")});
  auto shown = parse_json(netns_->ip("-6 -j neigh show dev " + kDevice + " nud permanent"));
  ASSERT_EQ(shown.Size(), 1u);
  EXPECT_EQ(std::string(shown[0]["dst"].GetString()), "2001:db8:244:9::");
  EXPECT_EQ(std::string(shown[0]["lladdr"].GetString()), v6.mac.to_string());

  // A dynamic IPv6 neighbour is not ours; an onlink IPv6 route through the device is accepted.
  netns_->must("-6 neigh add 2001:db8:244:8:: lladdr 0e:68:00:00:00:08 dev " + kDevice + " nud reachable");
  EXPECT_EQ(dump(index).neighbours.size(), 2u);
  netns_->must("-6 route add 2001:db8:244:9::/64 via 2001:db8:244:9:: dev " + kDevice + " onlink");

  // A stale global IPv6 address goes, the VTEP /128 moves with the podCIDR, and
  // without an IPv6 podCIDR the device keeps no global IPv6 address.
  netns_->must("-6 addr add 2001:db8:99::1/64 dev " + kDevice + " nodad");
  VxlanDeviceSpec moved = dual;
  moved.address6 = IpPrefix::parse("2001:db8:244:5::/128");
  EXPECT_TRUE(ensure(moved).changed);
  EXPECT_EQ(addresses6("global"), std::vector<std::string>{"2001:db8:244:5::/128"});
  EXPECT_TRUE(ensure(spec()).changed);
  EXPECT_TRUE(addresses6("global").empty());
  EXPECT_EQ(addresses6("link").size(), 1u) << "the link-local address stays";
  EXPECT_FALSE(ensure(spec()).changed);

  // Removal of the IPv6 neighbour.
  auto results = apply(index, {{ChangeKind::remove, v6}, {ChangeKind::remove, v6}});
  EXPECT_TRUE(results[0].ok()) << results[0].message;
  EXPECT_EQ(results[1].error, ENOENT) << results[1].message;
  EXPECT_EQ(dump(index).neighbours, std::vector<NeighbourEntry>{neighbour("10.244.9.0", "203.0.113.9")});
}

TEST_F(NetlinkOverlayTableTest, DumpIgnoresEntriesOfOtherLinksAndDynamicOnes) {
  const std::uint32_t index = ensure(spec()).index;
  netns_->must("neigh add 198.51.100.50 lladdr 02:00:00:00:00:50 dev v0 nud permanent");
  netns_->must("neigh add 10.244.8.0 lladdr 0e:68:00:00:00:08 dev " + kDevice + " nud reachable");
  OverlayDump d = dump(index);
  EXPECT_TRUE(d.neighbours.empty());
  EXPECT_TRUE(d.fdb.empty()) << "the device's own and multicast FDB entries carry no dst";
}

TEST_F(NetlinkOverlayTableTest, OnlinkRouteOverTheDeviceThroughNetlinkRouteTable) {
  const std::uint32_t index = ensure(spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")},
                            {ChangeKind::add, fdb("203.0.113.9")}})[0]
                  .ok());
  NetlinkRouteTable routes(io_.get_executor());
  Route route;
  route.destination = IpPrefix::parse("10.244.9.0/24");
  route.gateway = IpAddress::parse("10.244.9.0");
  route.oif = index;
  route.onlink = true;
  auto results = run(routes.apply({{ChangeKind::add, route}}));
  ASSERT_TRUE(results[0].ok()) << results[0].message;
  auto shown = parse_json(netns_->ip("-j route show 10.244.9.0/24"));
  ASSERT_EQ(shown.Size(), 1u);
  EXPECT_EQ(std::string(shown[0]["gateway"].GetString()), "10.244.9.0");
  EXPECT_EQ(std::string(shown[0]["dev"].GetString()), kDevice);
  EXPECT_EQ(std::string(shown[0]["protocol"].GetString()).substr(0, 2) == "44" ||
                std::string(shown[0]["protocol"].GetString()) == "kube-hostgw",
            true)
      << shown[0]["protocol"].GetString();
  bool onlink = false;
  for (const auto& flag : shown[0]["flags"].GetArray()) onlink = onlink || std::string(flag.GetString()) == "onlink";
  EXPECT_TRUE(onlink);
  auto dumped = run(routes.dump_routes(kMainTable, kDefaultRouteProtocol));
  ASSERT_TRUE(dumped) << dumped.error().message;
  ASSERT_EQ(dumped->size(), 1u);
  EXPECT_EQ((*dumped)[0], route);

  // Deleting the device takes the route and the entries with it.
  EXPECT_TRUE(run(table_->delete_device(kDevice)));
  EXPECT_FALSE(run(table_->device_index(kDevice)));
  auto after = run(routes.dump_routes(kMainTable, kDefaultRouteProtocol));
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_TRUE(after->empty());
  EXPECT_TRUE(run(table_->delete_device(kDevice))) << "deleting nothing is not an error";
}

// --- change monitor ------------------------------------------------------------

class OverlayMonitorTest : public NetlinkOverlayTableTest {
 protected:
  std::optional<ChangeNotice> next_change(NetlinkChangeMonitor& monitor, std::chrono::milliseconds limit) {
    auto wait = [&]() -> asio::awaitable<std::optional<ChangeNotice>> {
      asio::steady_timer timer(co_await asio::this_coro::executor, limit);
      auto result = co_await (monitor.next_change() || timer.async_wait(asio::use_awaitable));
      if (result.index() == 0) co_return std::get<0>(result);
      co_return std::nullopt;
    };
    return run(wait());
  }
  static bool saw(const NetlinkChangeMonitor& monitor, const std::string& fragment) {
    for (const auto& event : monitor.last_events()) {
      if (event.find(fragment) != std::string::npos) return true;
    }
    return false;
  }
  static std::string events(const NetlinkChangeMonitor& monitor) {
    std::string out;
    for (const auto& event : monitor.last_events()) out += event + "\n";
    return out;
  }
};

TEST_F(OverlayMonitorTest, WakesOnEntriesDeletedOnTheDeviceAndOnItsDeletionOnly) {
  const std::uint32_t index = ensure(spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")},
                            {ChangeKind::add, fdb("203.0.113.9")}})[1]
                  .ok());
  NetlinkChangeMonitorOptions options;
  options.overlay_device = kDevice;
  NetlinkChangeMonitor monitor(io_.get_executor(), options);
  EXPECT_FALSE(next_change(monitor, std::chrono::milliseconds(200)));  // learns the links

  // Neighbour churn on another link is consumed silently.
  netns_->must("neigh add 198.51.100.50 lladdr 02:00:00:00:00:50 dev v0 nud permanent");
  netns_->must("neigh del 198.51.100.50 dev v0");
  // Our own adds on the device do not wake it either.
  ASSERT_TRUE(apply(index, {{ChangeKind::add, neighbour("10.244.3.0", "203.0.113.3")}})[0].ok());
  EXPECT_FALSE(next_change(monitor, std::chrono::milliseconds(200))) << events(monitor);

  netns_->must("neigh del 10.244.9.0 dev " + kDevice);
  auto notice = next_change(monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(notice->relevant);
  EXPECT_TRUE(saw(monitor, "RTM_DELNEIGH")) << events(monitor);
  EXPECT_TRUE(saw(monitor, "10.244.9.0")) << events(monitor);

  ASSERT_EQ(
      netns_->exec("bridge fdb del " + fdb("203.0.113.9").mac.to_string() + " dev " + kDevice + " dst 203.0.113.9 self")
          .status,
      0);
  notice = next_change(monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(saw(monitor, "RTM_DELNEIGH fdb " + fdb("203.0.113.9").mac.to_string())) << events(monitor);

  netns_->must("link del " + kDevice);
  notice = next_change(monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(saw(monitor, "RTM_DELLINK")) << events(monitor);
  EXPECT_TRUE(saw(monitor, "(" + kDevice + ")")) << events(monitor);

  // Recreated: the monitor follows the new index.
  const std::uint32_t recreated = ensure(spec()).index;
  next_change(monitor, std::chrono::milliseconds(300));  // the new link's events, if any wake it
  ASSERT_TRUE(apply(recreated, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")}})[0].ok());
  netns_->must("neigh del 10.244.9.0 dev " + kDevice);
  notice = next_change(monitor, std::chrono::seconds(2));
  ASSERT_TRUE(notice);
  EXPECT_TRUE(saw(monitor, "RTM_DELNEIGH")) << events(monitor);
}

TEST_F(OverlayMonitorTest, WithoutAnOverlayDeviceNeighbourEventsAreNotEvenReceived) {
  const std::uint32_t index = ensure(spec()).index;
  ASSERT_TRUE(apply(index, {{ChangeKind::add, neighbour("10.244.9.0", "203.0.113.9")}})[0].ok());
  NetlinkChangeMonitor monitor(io_.get_executor());
  EXPECT_FALSE(next_change(monitor, std::chrono::milliseconds(200)));
  const auto before = monitor.counters().messages;
  netns_->must("neigh del 10.244.9.0 dev " + kDevice);
  EXPECT_FALSE(next_change(monitor, std::chrono::milliseconds(200)));
  EXPECT_EQ(monitor.counters().messages, before);
}

}  // namespace
}  // namespace hostgw::routing

namespace hostgw::routing {
namespace {

// One node of the packet test: its namespace, underlay link and tables.
struct OverlayNode {
  std::unique_ptr<hostgw::testing::ScopedNetns> netns;
  std::unique_ptr<NetlinkOverlayTable> overlay;
  std::unique_ptr<NetlinkRouteTable> routes;
  std::uint32_t index = 0;
};

template <typename T>
T run_on(asio::io_context& io, asio::awaitable<T> work) {
  auto future = asio::co_spawn(io, std::move(work), asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

std::uint64_t device_counter(const hostgw::testing::ScopedNetns& netns, const char* direction) {
  auto shown = parse_json(netns.ip("-s -j link show " + kDevice));
  if (!shown.IsArray() || shown.Empty()) return 0;
  return shown[0]["stats64"][direction]["packets"].GetUint64();
}

// Two nodes on different subnets (198.51.100.0/24 and 203.0.113.0/24) joined
// by a router namespace; each gets the VXLAN device, the peer's neighbour and
// FDB entries and an onlink route to the peer's pod network; a pod address
// of one reaches a pod address of the other, over the tunnel.
TEST(OverlayPacketTest, PodsOnNodesInDifferentSubnetsReachEachOtherOverVxlan) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) to create network namespaces";
  asio::io_context io;
  // Created (and entered) in this order, left and deleted in reverse.
  auto router = std::make_unique<hostgw::testing::ScopedNetns>();
  OverlayNode a;
  OverlayNode b;
  struct Plan {
    OverlayNode* node;
    const char* underlay;  // this node's address
    const char* gateway;   // the router on its subnet
    const char* pod_cidr;
    const char* pod_address;
    const char* peer_underlay;
    const char* peer_cidr;
  };
  const Plan plans[] = {
      {&a, "198.51.100.2", "198.51.100.1", "10.244.1.0/24", "10.244.1.1", "203.0.113.2", "10.244.2.0/24"},
      {&b, "203.0.113.2", "203.0.113.1", "10.244.2.0/24", "10.244.2.1", "198.51.100.2", "10.244.1.0/24"},
  };
  router->must("link add r0 type veth peer name r0peer");
  router->must("link add r1 type veth peer name r1peer");
  router->must("addr add 198.51.100.1/24 dev r0");
  router->must("addr add 203.0.113.1/24 dev r1");
  router->must("link set r0 up");
  router->must("link set r1 up");
  ASSERT_EQ(router->exec("sysctl -qw net.ipv4.ip_forward=1").status, 0);

  for (const Plan& plan : plans) {
    OverlayNode& node = *plan.node;
    node.netns = std::make_unique<hostgw::testing::ScopedNetns>();  // entered from here on
    const std::string peer_end = plan.node == &a ? "r0peer" : "r1peer";
    router->must("link set " + peer_end + " netns " + node.netns->name());
    node.netns->must("link set " + peer_end + " name eth0");
    node.netns->must("addr add " + std::string(plan.underlay) + "/24 dev eth0");
    node.netns->must("link set eth0 up");
    node.netns->must("route add default via " + std::string(plan.gateway));
    node.netns->must("addr add " + std::string(plan.pod_address) + "/32 dev lo");
    const std::uint32_t eth0 = if_nametoindex("eth0");
    ASSERT_NE(eth0, 0u);

    node.overlay = std::make_unique<NetlinkOverlayTable>(io.get_executor());
    node.routes = std::make_unique<NetlinkRouteTable>(io.get_executor());
    VxlanDeviceSpec spec;
    spec.vni = 4097;
    spec.port = 4790;
    spec.local = IpAddress::parse(plan.underlay);
    spec.underlay_oif = eth0;
    spec.mtu = 1500 - kVxlanOverheadV4;
    spec.mac = *vtep_mac(spec.local);
    spec.address = IpPrefix(vtep_address(IpPrefix::parse(plan.pod_cidr)), 32);
    common::Result<EnsuredDevice> ensured = run_on(io, node.overlay->ensure_device(spec));
    ASSERT_TRUE(ensured) << ensured.error().message;
    node.index = ensured->index;

    const IpAddress peer = IpAddress::parse(plan.peer_underlay);
    const IpPrefix peer_cidr = IpPrefix::parse(plan.peer_cidr);
    for (const auto& r :
         run_on(io, node.overlay->apply(node.index,
                                        {{ChangeKind::add, NeighbourEntry{vtep_address(peer_cidr), *vtep_mac(peer)}},
                                         {ChangeKind::add, FdbEntry{*vtep_mac(peer), peer}}}))) {
      ASSERT_TRUE(r.ok()) << r.message;
    }
    Route route;
    route.destination = peer_cidr;
    route.gateway = vtep_address(peer_cidr);
    route.oif = node.index;
    route.onlink = true;
    auto routed = run_on(io, node.routes->apply({{ChangeKind::add, route}}));
    ASSERT_TRUE(routed[0].ok()) << routed[0].message;
  }

  // The underlay works without the overlay (the router forwards).
  ASSERT_EQ(a.netns->exec("ping -c 1 -W 2 203.0.113.2").status, 0);

  const std::uint64_t a_tx = device_counter(*a.netns, "tx");
  const std::uint64_t b_rx = device_counter(*b.netns, "rx");
  auto ping = a.netns->exec("ping -c 3 -i 0.2 -W 2 -I 10.244.1.1 10.244.2.1");
  EXPECT_EQ(ping.status, 0) << ping.output;
  auto back = b.netns->exec("ping -c 2 -i 0.2 -W 2 -I 10.244.2.1 10.244.1.1");
  EXPECT_EQ(back.status, 0) << back.output;
  EXPECT_GE(device_counter(*a.netns, "tx") - a_tx, 3u) << "the echo requests left through " << kDevice;
  EXPECT_GE(device_counter(*b.netns, "rx") - b_rx, 3u) << "and arrived through the peer's " << kDevice;

  // Negative control: without A's FDB entry the tunnel has no destination.
  const IpAddress b_underlay = IpAddress::parse("203.0.113.2");
  auto removed =
      run_on(io, a.overlay->apply(a.index, {{ChangeKind::remove, FdbEntry{*vtep_mac(b_underlay), b_underlay}}}));
  ASSERT_TRUE(removed[0].ok()) << removed[0].message;
  EXPECT_NE(a.netns->exec("ping -c 1 -W 1 -I 10.244.1.1 10.244.2.1").status, 0);

  // Sockets first, then namespaces, most recent first.
  for (OverlayNode* node : {&b, &a}) {
    node->overlay.reset();
    node->routes.reset();
  }
  b.netns.reset();
  a.netns.reset();
  router.reset();
}

}  // namespace
}  // namespace hostgw::routing
