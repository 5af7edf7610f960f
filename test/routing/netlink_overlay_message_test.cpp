#include "routing/netlink_overlay_message.hpp"

#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>

#include <cstring>

#include "routing/netlink_change_monitor.hpp"

namespace hostgw::routing::netlink {
namespace {

VxlanDeviceSpec spec() {
  VxlanDeviceSpec s;
  s.vni = 4097;
  s.port = 4790;
  s.local = IpAddress::parse("198.51.100.11");
  s.underlay_oif = 7;
  s.mtu = 1450;
  s.mac = *vtep_mac(s.local);
  s.address = IpPrefix::parse("10.244.1.0/32");
  return s;
}

nlmsghdr header_of(const std::vector<std::uint8_t>& bytes) {
  nlmsghdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  return header;
}

TEST(NetlinkOverlayMessageTest, VxlanCreateCarriesEveryAttributeAndParsesBack) {
  std::vector<std::uint8_t> buffer = {1, 2, 3, 4};  // appended after what is there
  const std::size_t length = append_vxlan_create(buffer, spec(), 42);
  ASSERT_EQ(buffer.size(), 4 + length);
  EXPECT_EQ(length % 4, 0u);
  std::vector<std::uint8_t> message(buffer.begin() + 4, buffer.end());
  nlmsghdr header = header_of(message);
  EXPECT_EQ(header.nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(header.nlmsg_len, length);
  EXPECT_EQ(header.nlmsg_seq, 42u);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);

  auto details = parse_link_details(message);
  ASSERT_TRUE(details);
  EXPECT_EQ(details->link.name, "hostgw.vxlan");
  EXPECT_EQ(details->link.mtu, 1450u);
  EXPECT_TRUE(details->link.flags & IFF_UP);
  EXPECT_EQ(details->mac, spec().mac);
  EXPECT_EQ(details->kind, "vxlan");
  EXPECT_EQ(details->vni, 4097u);
  EXPECT_EQ(details->port, 4790);
  EXPECT_EQ(details->local, IpAddress::parse("198.51.100.11"));
  EXPECT_EQ(details->underlay_oif, 7u);
  EXPECT_EQ(details->learning, false);

  // The port travels in network byte order: 4790 = 0x12b6 -> bytes 12 b6.
  const std::uint8_t port_bytes[] = {0x12, 0xb6};
  bool found = false;
  for (std::size_t i = 0; i + 6 <= message.size(); ++i) {
    std::uint16_t len, type;
    std::memcpy(&len, &message[i], 2);
    std::memcpy(&type, &message[i + 2], 2);
    if (len == 6 && type == IFLA_VXLAN_PORT && std::memcmp(&message[i + 4], port_bytes, 2) == 0) found = true;
  }
  EXPECT_TRUE(found);
}

TEST(NetlinkOverlayMessageTest, LinkUpdateSetsOnlyWhatIsGiven) {
  std::vector<std::uint8_t> buffer;
  append_link_update(buffer, 9, 1400u, std::nullopt, false, 5);
  nlmsghdr header = header_of(buffer);
  EXPECT_EQ(header.nlmsg_type, RTM_NEWLINK);
  EXPECT_EQ(header.nlmsg_flags & NLM_F_CREATE, 0);
  auto details = parse_link_details(buffer);
  ASSERT_TRUE(details);
  EXPECT_EQ(details->link.index, 9u);
  EXPECT_EQ(details->link.mtu, 1400u);
  EXPECT_FALSE(details->mac);
  EXPECT_EQ(details->link.change, 0u) << "up state untouched";
  EXPECT_TRUE(details->kind.empty());

  buffer.clear();
  append_link_update(buffer, 9, std::nullopt, MacAddress::parse("0e:68:01:02:03:04"), true, 6);
  details = parse_link_details(buffer);
  ASSERT_TRUE(details);
  EXPECT_EQ(details->link.mtu, 0u);
  EXPECT_EQ(details->mac, MacAddress::parse("0e:68:01:02:03:04"));
  EXPECT_EQ(details->link.change, static_cast<std::uint32_t>(IFF_UP));
  EXPECT_EQ(details->link.flags, static_cast<std::uint32_t>(IFF_UP));
}

TEST(NetlinkOverlayMessageTest, DeleteAndAddressMessages) {
  std::vector<std::uint8_t> buffer;
  append_link_delete(buffer, 12, 3);
  EXPECT_EQ(header_of(buffer).nlmsg_type, RTM_DELLINK);
  auto deleted = parse_link_message(buffer);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->index, 12u);

  buffer.clear();
  append_address_change(buffer, true, 12, IpPrefix::parse("10.244.1.0/32"), 4);
  EXPECT_EQ(header_of(buffer).nlmsg_flags & (NLM_F_CREATE | NLM_F_REPLACE), NLM_F_CREATE | NLM_F_REPLACE);
  auto address = parse_address_message(buffer);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->index, 12u);
  EXPECT_EQ(address->prefix_length, 32);
  EXPECT_EQ(address->local, IpAddress::parse("10.244.1.0"));
  EXPECT_EQ(address->flags & IFA_F_NODAD, 0u) << "IPv4 has no duplicate address detection to skip";
  buffer.clear();
  append_address_change(buffer, false, 12, IpPrefix::parse("10.244.1.0/32"), 4);
  EXPECT_EQ(header_of(buffer).nlmsg_type, RTM_DELADDR);
}

TEST(NetlinkOverlayMessageTest, Ipv6VtepAddressIsAddedWithoutDuplicateAddressDetection) {
  std::vector<std::uint8_t> buffer;
  append_address_change(buffer, true, 12, IpPrefix::parse("2001:db8:1::/128"), 4);
  auto address = parse_address_message(buffer);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->index, 12u);
  EXPECT_EQ(address->prefix_length, 128);
  EXPECT_EQ(address->scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(address->local, IpAddress::parse("2001:db8:1::"));
  EXPECT_NE(address->flags & IFA_F_NODAD, 0u);
  ifaddrmsg ifa;
  std::memcpy(&ifa, buffer.data() + NLMSG_HDRLEN, sizeof ifa);
  EXPECT_EQ(ifa.ifa_family, AF_INET6);
  buffer.clear();
  append_address_change(buffer, false, 12, IpPrefix::parse("2001:db8:1::/128"), 5);
  EXPECT_EQ(header_of(buffer).nlmsg_type, RTM_DELADDR);
  address = parse_address_message(buffer);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->local, IpAddress::parse("2001:db8:1::"));
  // A stale address is deleted as the kernel holds it, host bits included.
  buffer.clear();
  append_address_change(buffer, false, 12, IpAddress::parse("2001:db8:99::1"), 64, 6);
  address = parse_address_message(buffer);
  ASSERT_TRUE(address);
  EXPECT_EQ(address->local, IpAddress::parse("2001:db8:99::1"));
  EXPECT_EQ(address->prefix_length, 64);
}

TEST(NetlinkOverlayMessageTest, Ipv6NeighbourChangesAreAfInet6AndParseBack) {
  const MacAddress mac = *vtep_mac(IpAddress::parse("203.0.113.9"));
  std::vector<std::uint8_t> buffer;
  append_overlay_change(buffer, 5, {ChangeKind::replace, NeighbourEntry{IpAddress::parse("2001:db8:9::"), mac}}, 7);
  append_overlay_change(buffer, 5, {ChangeKind::remove, NeighbourEntry{IpAddress::parse("2001:db8:8::"), mac}}, 8);
  std::vector<NeighbourMessage> parsed;
  ASSERT_TRUE(for_each_message(buffer, [&](const MessageHeader&, std::span<const std::uint8_t> message) {
    auto entry = parse_neighbour_message(message);
    ASSERT_TRUE(entry);
    parsed.push_back(*entry);
  }));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].header.type, RTM_NEWNEIGH);
  EXPECT_EQ(parsed[0].family, AF_INET6);
  EXPECT_EQ(parsed[0].state, NUD_PERMANENT);
  EXPECT_EQ(parsed[0].index, 5u);
  EXPECT_EQ(parsed[0].destination, IpAddress::parse("2001:db8:9::"));
  EXPECT_EQ(parsed[0].lladdr, mac);
  EXPECT_EQ(parsed[1].header.type, RTM_DELNEIGH);
  EXPECT_EQ(parsed[1].family, AF_INET6);
  EXPECT_EQ(parsed[1].destination, IpAddress::parse("2001:db8:8::"));
  // The dump request of that family filters the device like the IPv4 one.
  auto request = neighbour_dump_request(AF_INET6, 17, 9);
  ndmsg ndm;
  std::memcpy(&ndm, request.data() + NLMSG_HDRLEN, sizeof ndm);
  EXPECT_EQ(ndm.ndm_family, AF_INET6);
  EXPECT_EQ(ndm.ndm_ifindex, 0);
}

TEST(NetlinkOverlayMessageTest, NeighbourAndFdbChangesParseBack) {
  const IpAddress node = IpAddress::parse("203.0.113.9");
  const MacAddress mac = *vtep_mac(node);
  std::vector<std::uint8_t> buffer;
  const std::size_t first =
      append_overlay_change(buffer, 5, {ChangeKind::add, NeighbourEntry{IpAddress::parse("10.244.9.0"), mac}}, 100);
  append_overlay_change(buffer, 5, {ChangeKind::remove, FdbEntry{mac, node}}, 101);

  std::vector<NeighbourMessage> parsed;
  std::vector<std::uint16_t> flags;
  ASSERT_TRUE(for_each_message(buffer, [&](const MessageHeader& header, std::span<const std::uint8_t> message) {
    flags.push_back(header.flags);
    auto entry = parse_neighbour_message(message);
    ASSERT_TRUE(entry);
    parsed.push_back(*entry);
  }));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(header_of(buffer).nlmsg_len, first);
  EXPECT_EQ(parsed[0].header.type, RTM_NEWNEIGH);
  EXPECT_EQ(flags[0], NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  EXPECT_EQ(parsed[0].family, AF_INET);
  EXPECT_EQ(parsed[0].index, 5u);
  EXPECT_EQ(parsed[0].state, NUD_PERMANENT);
  EXPECT_EQ(parsed[0].destination, IpAddress::parse("10.244.9.0"));
  EXPECT_EQ(parsed[0].lladdr, mac);

  EXPECT_EQ(parsed[1].header.type, RTM_DELNEIGH);
  EXPECT_EQ(parsed[1].header.seq, 101u);
  EXPECT_EQ(flags[1], NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(parsed[1].family, AF_BRIDGE);
  EXPECT_EQ(parsed[1].flags, NTF_SELF);
  EXPECT_EQ(parsed[1].destination, node);
  EXPECT_EQ(parsed[1].lladdr, mac);
  EXPECT_EQ(neighbour_message_index(std::span<const std::uint8_t>(buffer).first(first)), 5u);
}

TEST(CheckOverlayChangeTest, NeighboursOfBothFamiliesFdbDestinationsIpv4Only) {
  const MacAddress mac = MacAddress::parse("0e:68:cb:00:71:09");
  EXPECT_EQ(check_overlay_change({ChangeKind::add, NeighbourEntry{IpAddress::parse("10.244.9.0"), mac}}), "");
  EXPECT_EQ(check_overlay_change({ChangeKind::add, FdbEntry{mac, IpAddress::parse("203.0.113.9")}}), "");
  EXPECT_EQ(check_overlay_change({ChangeKind::add, NeighbourEntry{IpAddress::parse("2001:db8:9::"), mac}}), "");
  EXPECT_NE(check_overlay_change({ChangeKind::add, NeighbourEntry{IpAddress::parse("ff02::1"), mac}}).find("unicast"),
            std::string::npos);
  EXPECT_NE(check_overlay_change({ChangeKind::add, NeighbourEntry{IpAddress::parse("::"), mac}}).find("unicast"),
            std::string::npos);
  EXPECT_NE(check_overlay_change({ChangeKind::add, NeighbourEntry{IpAddress::parse("10.244.9.0"),
                                                                  MacAddress::parse("01:00:5e:00:00:01")}})
                .find("multicast MAC"),
            std::string::npos);
  EXPECT_NE(check_overlay_change({ChangeKind::add, FdbEntry{mac, IpAddress::parse("2001:db8::9")}}).find("IPv6"),
            std::string::npos);
  EXPECT_NE(check_overlay_change(
                {ChangeKind::add, FdbEntry{MacAddress::parse("01:00:5e:00:00:01"), IpAddress::parse("203.0.113.9")}})
                .find("multicast"),
            std::string::npos);
}

TEST(NetlinkOverlayMessageTest, DumpRequestsFilterTheDevice) {
  auto neighbours = neighbour_dump_request(AF_INET, 17, 9);
  nlmsghdr header = header_of(neighbours);
  EXPECT_EQ(header.nlmsg_type, RTM_GETNEIGH);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  ndmsg ndm;
  std::memcpy(&ndm, neighbours.data() + NLMSG_HDRLEN, sizeof ndm);
  EXPECT_EQ(ndm.ndm_family, AF_INET);
  EXPECT_EQ(ndm.ndm_ifindex, 0) << "strict checking refuses a neighbour dump with ndm_ifindex";
  ASSERT_EQ(neighbours.size(), NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg)) + 8);
  std::uint16_t type;
  std::uint32_t value;
  std::memcpy(&type, neighbours.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg)) + 2, 2);
  std::memcpy(&value, neighbours.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg)) + 4, 4);
  EXPECT_EQ(type, NDA_IFINDEX);
  EXPECT_EQ(value, 17u);

  auto fdb = neighbour_dump_request(AF_BRIDGE, 17, 10);
  std::memcpy(&ndm, fdb.data() + NLMSG_HDRLEN, sizeof ndm);
  EXPECT_EQ(ndm.ndm_family, AF_BRIDGE);
  EXPECT_EQ(ndm.ndm_ifindex, 17);

  auto get = link_get_request("hostgw.vxlan", 11);
  EXPECT_EQ(header_of(get).nlmsg_type, RTM_GETLINK);
  EXPECT_EQ(header_of(get).nlmsg_flags, NLM_F_REQUEST);
  auto by_index = link_get_request(std::uint32_t{23}, 12);
  EXPECT_EQ(header_of(by_index).nlmsg_flags, NLM_F_REQUEST);
  ifinfomsg ifi;
  std::memcpy(&ifi, by_index.data() + NLMSG_HDRLEN, sizeof ifi);
  EXPECT_EQ(ifi.ifi_index, 23);
}

TEST(NetlinkOverlayMessageTest, MalformedRepliesAreRefusedWithAReason) {
  std::vector<std::uint8_t> buffer;
  append_vxlan_create(buffer, spec(), 1);
  // Corrupt the length of the last attribute so it runs past the message.
  // (The create message ends inside IFLA_LINKINFO; grow its nest length.)
  std::vector<std::uint8_t> corrupt = buffer;
  const std::size_t attributes = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifinfomsg));
  std::uint16_t length;
  std::memcpy(&length, &corrupt[attributes], 2);
  length = 0xfff0;
  std::memcpy(&corrupt[attributes], &length, 2);
  std::string error;
  EXPECT_FALSE(parse_link_details(corrupt, &error));
  EXPECT_NE(error.find("past the"), std::string::npos) << error;

  std::vector<std::uint8_t> short_neighbour(NLMSG_HDRLEN + 4, 0);
  nlmsghdr header{};
  header.nlmsg_len = static_cast<std::uint32_t>(short_neighbour.size());
  header.nlmsg_type = RTM_NEWNEIGH;
  std::memcpy(short_neighbour.data(), &header, sizeof header);
  EXPECT_FALSE(parse_neighbour_message(short_neighbour, &error));
  EXPECT_NE(error.find("shorter than"), std::string::npos) << error;
  EXPECT_FALSE(neighbour_message_index(short_neighbour));

  // An NDA_DST of 3 bytes (padded to 4, so the next attribute still lines
  // up) is neither IPv4 nor IPv6.
  std::vector<std::uint8_t> odd;
  append_overlay_change(
      odd, 5, {ChangeKind::add, NeighbourEntry{IpAddress::parse("10.244.9.0"), MacAddress::parse("0e:68:00:00:00:01")}},
      1);
  const std::size_t dst = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg));
  std::uint16_t three = 4 + 3;
  std::memcpy(&odd[dst], &three, 2);
  EXPECT_FALSE(parse_neighbour_message(odd, &error));
  EXPECT_NE(error.find("NDA_DST of 3 bytes"), std::string::npos) << error;

  // An IPv4 neighbour carrying an IPv6 address (and the reverse) is refused:
  // written back, it would change family (found by the netlink_overlay fuzzer).
  struct Mixed {
    const char* address;
    std::uint8_t claimed_family;
    const char* message;
  };
  for (const Mixed& mixed : {Mixed{"2001:db8:9::", AF_INET, "NDA_DST of 16 bytes in an IPv4 neighbour"},
                             Mixed{"10.244.9.0", AF_INET6, "NDA_DST of 4 bytes in an IPv6 neighbour"}}) {
    std::vector<std::uint8_t> message;
    append_overlay_change(
        message, 5,
        {ChangeKind::add, NeighbourEntry{IpAddress::parse(mixed.address), MacAddress::parse("0e:68:00:00:00:01")}}, 1);
    ASSERT_TRUE(parse_neighbour_message(message, &error)) << error;
    reinterpret_cast<ndmsg*>(message.data() + NLMSG_HDRLEN)->ndm_family = mixed.claimed_family;
    EXPECT_FALSE(parse_neighbour_message(message, &error)) << mixed.address;
    EXPECT_NE(error.find(mixed.message), std::string::npos) << error;
  }
}

// --- ChangeFilter's overlay events (pure, no socket) ------------------------------

std::vector<std::uint8_t> link_event(std::uint16_t type, std::uint32_t index, const char* name, std::uint32_t flags) {
  std::vector<std::uint8_t> buffer(256, 0);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data());
  header->nlmsg_type = type;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  ifi->ifi_index = static_cast<int>(index);
  ifi->ifi_flags = flags;
  mnl_attr_put_strz(header, IFLA_IFNAME, name);
  buffer.resize(header->nlmsg_len);
  return buffer;
}

std::vector<std::uint8_t> neighbour_event(std::uint16_t type, std::uint32_t index, const OverlayEntry& entry) {
  std::vector<std::uint8_t> buffer;
  append_overlay_change(buffer, index, {ChangeKind::add, entry}, 0);
  nlmsghdr header;
  std::memcpy(&header, buffer.data(), sizeof header);
  header.nlmsg_type = type;
  header.nlmsg_flags = 0;
  std::memcpy(buffer.data(), &header, sizeof header);
  return buffer;
}

std::optional<std::string> feed(ChangeFilter& filter, const std::vector<std::uint8_t>& message) {
  auto header = parse_header(message);
  EXPECT_TRUE(header);
  return filter.relevant(*header, message);
}

TEST(OverlayChangeFilterTest, DeletedEntriesOnTheWatchedDeviceWakeOthersDoNot) {
  const MacAddress mac = MacAddress::parse("0e:68:cb:00:71:09");
  const NeighbourEntry neighbour{IpAddress::parse("10.244.9.0"), mac};
  const FdbEntry fdb{mac, IpAddress::parse("203.0.113.9")};
  ChangeFilter filter(kDefaultRouteProtocol, kMainTable);
  filter.watch_overlay_device("hostgw.vxlan");
  EXPECT_FALSE(feed(filter, neighbour_event(RTM_DELNEIGH, 9, neighbour))) << "index not known yet";

  feed(filter, link_event(RTM_NEWLINK, 9, "hostgw.vxlan", IFF_UP));
  EXPECT_EQ(filter.overlay_index(), 9u);
  auto woke = feed(filter, neighbour_event(RTM_DELNEIGH, 9, neighbour));
  ASSERT_TRUE(woke);
  EXPECT_EQ(*woke, "RTM_DELNEIGH 0e:68:cb:00:71:09 10.244.9.0 dev hostgw.vxlan");
  woke = feed(filter, neighbour_event(RTM_DELNEIGH, 9, fdb));
  ASSERT_TRUE(woke);
  EXPECT_EQ(*woke, "RTM_DELNEIGH fdb 0e:68:cb:00:71:09 203.0.113.9 dev hostgw.vxlan");
  EXPECT_FALSE(feed(filter, neighbour_event(RTM_NEWNEIGH, 9, neighbour))) << "adds and state changes do not wake";
  EXPECT_FALSE(feed(filter, neighbour_event(RTM_DELNEIGH, 3, neighbour))) << "another link's churn";

  // A deleted entry we cannot read still wakes (something changed).
  auto broken = neighbour_event(RTM_DELNEIGH, 9, neighbour);
  const std::size_t first_attribute = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg));
  std::uint16_t too_long = 200;
  std::memcpy(&broken[first_attribute], &too_long, 2);
  woke = feed(filter, broken);
  ASSERT_TRUE(woke);
  EXPECT_NE(woke->find("unreadable"), std::string::npos) << *woke;

  // The device goes away (that RTM_DELLINK wakes as any link's does), then
  // comes back with another index: the filter follows it.
  EXPECT_TRUE(feed(filter, link_event(RTM_DELLINK, 9, "hostgw.vxlan", 0)));
  EXPECT_EQ(filter.overlay_index(), 0u);
  EXPECT_FALSE(feed(filter, neighbour_event(RTM_DELNEIGH, 9, neighbour)));
  feed(filter, link_event(RTM_NEWLINK, 14, "hostgw.vxlan", IFF_UP));
  EXPECT_EQ(filter.overlay_index(), 14u);
  EXPECT_TRUE(feed(filter, neighbour_event(RTM_DELNEIGH, 14, neighbour)));
}

TEST(OverlayChangeFilterTest, WithoutAWatchedDeviceNeighbourEventsNeverWake) {
  ChangeFilter filter(kDefaultRouteProtocol, kMainTable);
  feed(filter, link_event(RTM_NEWLINK, 9, "hostgw.vxlan", IFF_UP));
  EXPECT_EQ(filter.overlay_index(), 0u);
  EXPECT_FALSE(feed(
      filter, neighbour_event(RTM_DELNEIGH, 9,
                              NeighbourEntry{IpAddress::parse("10.244.9.0"), MacAddress::parse("0e:68:cb:00:71:09")})));
}

}  // namespace
}  // namespace hostgw::routing::netlink
