// Unit tests for ChangeFilter (routing/netlink_change_monitor.hpp): which
// kernel events wake the controller. No sockets, no root.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/nexthop.h>

#include "netlink_test_messages.hpp"
#include "routing/netlink_change_monitor.hpp"
#include "routing/netlink_nexthop_message.hpp"

namespace hostgw::routing {
namespace {

using hostgw::testing::address_message;
using hostgw::testing::link_message;

std::vector<std::uint8_t> route_event(ChangeKind kind, std::uint8_t protocol, std::uint32_t table = kMainTable,
                                      std::uint32_t port = 0) {
  Route r;
  r.destination = IpPrefix::parse("10.244.2.0/24");
  r.gateway = IpAddress::parse("198.51.100.12");
  r.oif = 3;
  r.protocol = protocol;
  r.table = table;
  std::vector<std::uint8_t> bytes;
  netlink::append_route_change(bytes, {kind, r}, 0);
  auto* header = reinterpret_cast<nlmsghdr*>(bytes.data());
  header->nlmsg_pid = port;
  header->nlmsg_flags = 0;
  return bytes;
}

std::optional<std::string> feed(ChangeFilter& filter, const std::vector<std::uint8_t>& bytes) {
  auto header = netlink::parse_header(bytes);
  EXPECT_TRUE(header);
  return filter.relevant(*header, bytes);
}

TEST(ChangeFilterTest, OwnedRouteDeletedOrChangedIsRelevant) {
  ChangeFilter filter(44, kMainTable);
  auto deleted = feed(filter, route_event(ChangeKind::remove, 44));
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, "RTM_DELROUTE 10.244.2.0/24 table 254 proto 44 metric 0");
  auto changed = feed(filter, route_event(ChangeKind::replace, 44));
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->rfind("RTM_NEWROUTE 10.244.2.0/24 via 198.51.100.12 dev #3", 0), 0u) << *changed;
}

TEST(ChangeFilterTest, OtherProtocolsTablesAndOurOwnEchoesAreNot) {
  ChangeFilter filter(44, kMainTable);
  filter.ignore_port(4242);
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::remove, 4)));    // static
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::remove, 186)));  // bgp
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::remove, 44, 300)));
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::add, 44, kMainTable, 4242)));
  EXPECT_TRUE(feed(filter, route_event(ChangeKind::add, 44, kMainTable, 4243)));
}

// --adopt-protocol boot: a boot route added inside the cluster CIDR wakes the
// caller (not as an owned route: a full pass adopts it); its deletion, a boot
// route outside the CIDR or in another table, and other protocols do not.
TEST(ChangeFilterTest, AdoptableRoutesAddedWakeTheCallerForAFullPass) {
  ChangeFilter filter(44, kMainTable);
  filter.watch_adoptable({{3}, kMainTable, {IpPrefix::parse("10.244.0.0/16")}});
  auto added = feed(filter, route_event(ChangeKind::add, 3));
  ASSERT_TRUE(added);
  EXPECT_NE(added->find("(adoptable)"), std::string::npos) << *added;
  EXPECT_FALSE(filter.last_owned_route());
  EXPECT_TRUE(feed(filter, route_event(ChangeKind::replace, 3)));
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::remove, 3)));
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::add, 3, 100)));
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::add, 4)));
  ChangeFilter outside(44, kMainTable);
  outside.watch_adoptable({{3}, kMainTable, {IpPrefix::parse("10.96.0.0/16")}});
  EXPECT_FALSE(feed(outside, route_event(ChangeKind::add, 3)));
  // Our own routes keep waking it as before.
  EXPECT_TRUE(feed(filter, route_event(ChangeKind::remove, 44)));
  EXPECT_TRUE(filter.last_owned_route());
}

TEST(ChangeFilterTest, LinkUpDownIsRelevantStatisticsUpdatesAreNot) {
  ChangeFilter filter(44, kMainTable);
  const unsigned up = IFF_UP | IFF_RUNNING | IFF_LOWER_UP;
  // Learned from our own link dump (port 7, seq 1): not a wake-up.
  filter.expect_link_dump(7, 1);
  EXPECT_FALSE(feed(filter, link_message(RTM_NEWLINK, 3, up, 0, "v0", 7, 1)));
  EXPECT_EQ(filter.link_flags(3), up);
  // A statistics/MTU update: same flags, ifi_change 0.
  EXPECT_FALSE(feed(filter, link_message(RTM_NEWLINK, 3, up, 0, "v0")));
  // Carrier lost: ifi_change is 0 for linkwatch events, the flags tell.
  auto carrier = feed(filter, link_message(RTM_NEWLINK, 3, IFF_UP, 0, "v0"));
  ASSERT_TRUE(carrier);
  EXPECT_EQ(*carrier, "RTM_NEWLINK link 3 (v0) up, no carrier");
  // Administratively up again, ifi_change names the flag.
  auto back = feed(filter, link_message(RTM_NEWLINK, 3, up, IFF_UP, "v0"));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "RTM_NEWLINK link 3 (v0) up");
  // Unknown link reporting a state change.
  EXPECT_TRUE(feed(filter, link_message(RTM_NEWLINK, 9, 0, IFF_UP, "v9")));
  // Gone.
  EXPECT_EQ(feed(filter, link_message(RTM_DELLINK, 3, 0, 0, "v0")).value_or(""), "RTM_DELLINK link 3 (v0)");
  // Loopback never matters.
  EXPECT_FALSE(feed(filter, link_message(RTM_NEWLINK, 1, IFF_LOOPBACK, IFF_UP, "lo")));
}

TEST(ChangeFilterTest, GlobalAddressChangesAreRelevantOtherScopesAreNot) {
  ChangeFilter filter(44, kMainTable);
  in_addr v4{};
  inet_pton(AF_INET, "198.51.100.1", &v4);
  auto removed = feed(filter, address_message(RTM_DELADDR, AF_INET, &v4, 4, 24, RT_SCOPE_UNIVERSE, 3));
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, "RTM_DELADDR 198.51.100.1/24 link 3");
  in_addr loopback{};
  inet_pton(AF_INET, "127.0.0.1", &loopback);
  EXPECT_FALSE(feed(filter, address_message(RTM_NEWADDR, AF_INET, &loopback, 4, 8, RT_SCOPE_HOST, 1)));
  // A link-local address (a veth coming up, DAD finishing) makes no connected network.
  in6_addr link_local{};
  inet_pton(AF_INET6, "fe80::1", &link_local);
  EXPECT_FALSE(feed(filter, address_message(RTM_NEWADDR, AF_INET6, &link_local, 16, 64, RT_SCOPE_LINK, 3)));
  EXPECT_FALSE(feed(filter, address_message(RTM_DELADDR, AF_INET6, &link_local, 16, 64, RT_SCOPE_LINK, 3)));
}

TEST(ChangeFilterTest, UnreadableRouteMessageWakesTheCaller) {
  ChangeFilter filter(44, kMainTable);
  auto bytes = route_event(ChangeKind::remove, 44);
  bytes.resize(NLMSG_HDRLEN + 4);
  const auto length = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(bytes.data(), &length, 4);
  auto what = feed(filter, bytes);
  ASSERT_TRUE(what);
  EXPECT_NE(what->find("unreadable"), std::string::npos) << *what;
}

TEST(ChangeFilterTest, OwnedRouteEventNamesTheRoute) {
  ChangeFilter filter(44, kMainTable);
  ASSERT_TRUE(feed(filter, route_event(ChangeKind::remove, 44)));
  ASSERT_TRUE(filter.last_owned_route());
  EXPECT_TRUE(filter.last_owned_route()->deleted);
  EXPECT_EQ(filter.last_owned_route()->route.destination, IpPrefix::parse("10.244.2.0/24"));
  EXPECT_EQ(filter.last_owned_route()->route.protocol, 44);
  ASSERT_TRUE(feed(filter, route_event(ChangeKind::replace, 44)));
  ASSERT_TRUE(filter.last_owned_route());
  EXPECT_FALSE(filter.last_owned_route()->deleted);
  EXPECT_EQ(filter.last_owned_route()->route.gateway, IpAddress::parse("198.51.100.12"));
  EXPECT_EQ(filter.last_owned_route()->route.oif, 3u);
  // Anything else leaves it empty.
  EXPECT_FALSE(feed(filter, route_event(ChangeKind::remove, 4)));
  EXPECT_FALSE(filter.last_owned_route());
  EXPECT_TRUE(feed(filter, link_message(RTM_NEWLINK, 9, 0, IFF_UP, "v9")));
  EXPECT_FALSE(filter.last_owned_route());
}

TEST(ChangeFilterTest, ForeignProtocolIsSkippedBeforeItsAttributesAreRead) {
  ChangeFilter filter(44, kMainTable);
  // A route of protocol 4 whose attributes are garbage: its fixed header says
  // it is not ours, so it is not even parsed (and so not "unreadable").
  auto bytes = route_event(ChangeKind::remove, 4);
  bytes.resize(bytes.size() + 4, 0xff);
  const auto length = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(bytes.data(), &length, 4);
  EXPECT_FALSE(feed(filter, bytes));
  // The same garbage on one of ours is reported.
  bytes = route_event(ChangeKind::remove, 44);
  bytes.resize(bytes.size() + 4, 0xff);
  std::memcpy(bytes.data(), &length, 4);
  auto what = feed(filter, bytes);
  ASSERT_TRUE(what);
  EXPECT_NE(what->find("unreadable"), std::string::npos) << *what;
}

}  // namespace
}  // namespace hostgw::routing

namespace hostgw::routing {
namespace {

std::vector<std::uint8_t> nexthop_event(ChangeKind kind, std::uint8_t protocol, std::uint32_t port = 0) {
  std::vector<std::uint8_t> bytes;
  netlink::append_nexthop_change(bytes, {kind, {kNexthopIdFirst, IpAddress::parse("198.51.100.12"), 3, protocol}}, 0);
  auto* header = reinterpret_cast<nlmsghdr*>(bytes.data());
  header->nlmsg_pid = port;
  header->nlmsg_flags = 0;
  if (kind == ChangeKind::remove) {
    // The kernel's RTM_DELNEXTHOP carries the whole nexthop, protocol included.
    auto* nhm = reinterpret_cast<nhmsg*>(bytes.data() + NLMSG_HDRLEN);
    nhm->nh_protocol = protocol;
  }
  return bytes;
}

TEST(ChangeFilterTest, OwnedNexthopDeletedOrChangedBySomeoneElseIsRelevantButNoOwnedRoute) {
  ChangeFilter filter(44, kMainTable);
  filter.ignore_port(777);
  auto bytes = nexthop_event(ChangeKind::remove, 44, 1234);
  auto header = netlink::parse_header(bytes);
  ASSERT_TRUE(header);
  auto deleted = filter.relevant(*header, bytes);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->rfind("RTM_DELNEXTHOP id " + std::to_string(kNexthopIdFirst), 0), 0u) << *deleted;
  // Not an owned route: the caller must run a full pass (the routes went with it).
  EXPECT_FALSE(filter.last_owned_route());
  bytes = nexthop_event(ChangeKind::replace, 44, 0);  // the kernel's own (link gone)
  header = netlink::parse_header(bytes);
  EXPECT_TRUE(filter.relevant(*header, bytes));
  // Another protocol's nexthops and our own echoes are not.
  bytes = nexthop_event(ChangeKind::add, 12, 1234);
  header = netlink::parse_header(bytes);
  EXPECT_FALSE(filter.relevant(*header, bytes));
  bytes = nexthop_event(ChangeKind::add, 44, 777);
  header = netlink::parse_header(bytes);
  EXPECT_FALSE(filter.relevant(*header, bytes));
}

}  // namespace
}  // namespace hostgw::routing
