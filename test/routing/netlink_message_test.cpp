#include "routing/netlink_message.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cerrno>

#include "netlink_test_messages.hpp"

namespace hostgw::routing::netlink {
namespace {

using hostgw::testing::MessageBuilder;

Route route(const char* dst, const char* via, std::uint32_t oif = 3) {
  Route r;
  r.destination = IpPrefix::parse(dst);
  r.gateway = IpAddress::parse(via);
  r.oif = oif;
  return r;
}

std::vector<std::uint8_t> build(ChangeKind kind, const Route& r, std::uint32_t seq = 7) {
  std::vector<std::uint8_t> buffer;
  std::size_t length = append_route_change(buffer, {kind, r}, seq);
  EXPECT_EQ(length, buffer.size());
  EXPECT_EQ(length % 4, 0u);
  return buffer;
}

const nlmsghdr& header_of(const std::vector<std::uint8_t>& bytes) {
  return *reinterpret_cast<const nlmsghdr*>(bytes.data());
}
const rtmsg& rtmsg_of(const std::vector<std::uint8_t>& bytes) {
  return *reinterpret_cast<const rtmsg*>(bytes.data() + NLMSG_HDRLEN);
}

// Attribute types present in a built message, in order.
std::vector<std::uint16_t> attribute_types(const std::vector<std::uint8_t>& bytes, std::size_t fixed) {
  std::vector<std::uint16_t> types;
  std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(fixed);
  while (offset + sizeof(nlattr) <= bytes.size()) {
    const auto* attr = reinterpret_cast<const nlattr*>(bytes.data() + offset);
    types.push_back(attr->nla_type);
    offset += NLMSG_ALIGN(attr->nla_len);
  }
  return types;
}

TEST(NetlinkMessageTest, AddIsNewRouteWithCreateExclAndAck) {
  Route r = route("10.244.2.0/24", "198.51.100.12");
  auto bytes = build(ChangeKind::add, r, 42);
  const nlmsghdr& header = header_of(bytes);
  EXPECT_EQ(header.nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(header.nlmsg_seq, 42u);
  EXPECT_EQ(header.nlmsg_len, bytes.size());
  const rtmsg& rtm = rtmsg_of(bytes);
  EXPECT_EQ(rtm.rtm_family, AF_INET);
  EXPECT_EQ(rtm.rtm_dst_len, 24);
  EXPECT_EQ(rtm.rtm_protocol, 44);
  EXPECT_EQ(rtm.rtm_table, RT_TABLE_MAIN);
  EXPECT_EQ(rtm.rtm_type, RTN_UNICAST);
  EXPECT_EQ(rtm.rtm_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(rtm.rtm_flags, 0u);
  EXPECT_EQ(attribute_types(bytes, sizeof(rtmsg)),
            (std::vector<std::uint16_t>{RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_TABLE}));

  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route, r);
  EXPECT_EQ(parsed->header.seq, 42u);
  EXPECT_TRUE(parsed->is_plain_unicast());
}

TEST(NetlinkMessageTest, ReplaceUsesCreateReplace) {
  auto bytes = build(ChangeKind::replace, route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_EQ(header_of(bytes).nlmsg_type, RTM_NEWROUTE);
  EXPECT_EQ(header_of(bytes).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
}

TEST(NetlinkMessageTest, DeleteCarriesProtocolTableDestinationMetricButNoNextHop) {
  Route r = route("10.244.2.0/24", "198.51.100.12");
  r.metric = 20;
  r.protocol = 77;
  auto bytes = build(ChangeKind::remove, r);
  EXPECT_EQ(header_of(bytes).nlmsg_type, RTM_DELROUTE);
  EXPECT_EQ(header_of(bytes).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  const rtmsg& rtm = rtmsg_of(bytes);
  EXPECT_EQ(rtm.rtm_protocol, 77);
  EXPECT_EQ(rtm.rtm_scope, RT_SCOPE_NOWHERE);
  EXPECT_EQ(attribute_types(bytes, sizeof(rtmsg)), (std::vector<std::uint16_t>{RTA_DST, RTA_PRIORITY, RTA_TABLE}));
  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route.destination, r.destination);
  EXPECT_EQ(parsed->route.metric, 20u);
  EXPECT_EQ(parsed->route.protocol, 77);
  EXPECT_FALSE(parsed->route.gateway);
}

TEST(NetlinkMessageTest, Ipv6RouteRoundTripsWithTheMetricAsSent) {
  Route r = route("2001:db8:244:2::/64", "2001:db8:1::12", 4);
  auto bytes = build(ChangeKind::add, r);
  EXPECT_EQ(rtmsg_of(bytes).rtm_family, AF_INET6);
  EXPECT_EQ(rtmsg_of(bytes).rtm_dst_len, 64);
  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route, r);

  // What the kernel sends back for an IPv6 route added with metric 0: no remapping.
  Route as_kernel_stores_it = r;
  as_kernel_stores_it.metric = kIpv6DefaultMetric;
  auto dumped = parse_route_message(build(ChangeKind::add, as_kernel_stores_it));
  ASSERT_TRUE(dumped);
  EXPECT_EQ(dumped->route.metric, 1024u);
  EXPECT_EQ(dumped->route, as_kernel_stores_it);
}

TEST(NetlinkMessageTest, LargeTableGoesInRtaTableOnly) {
  Route r = route("10.244.2.0/24", "198.51.100.12");
  r.table = 1000;
  auto bytes = build(ChangeKind::add, r);
  EXPECT_EQ(rtmsg_of(bytes).rtm_table, RT_TABLE_UNSPEC);
  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route.table, 1000u);
}

TEST(NetlinkMessageTest, OnlinkSetsRtnhFOnlink) {
  Route r = route("10.244.2.0/24", "100.64.0.9");
  r.onlink = true;
  auto bytes = build(ChangeKind::add, r);
  EXPECT_EQ(rtmsg_of(bytes).rtm_flags, static_cast<unsigned>(RTNH_F_ONLINK));
  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->route.onlink);
  EXPECT_EQ(parsed->route, r);
}

TEST(NetlinkMessageTest, DirectRouteHasLinkScopeAndNoGateway) {
  Route r;
  r.destination = IpPrefix::parse("10.244.9.0/24");
  r.oif = 5;
  auto bytes = build(ChangeKind::add, r);
  EXPECT_EQ(rtmsg_of(bytes).rtm_scope, RT_SCOPE_LINK);
  EXPECT_EQ(attribute_types(bytes, sizeof(rtmsg)), (std::vector<std::uint16_t>{RTA_DST, RTA_OIF, RTA_TABLE}));
}

TEST(NetlinkMessageTest, CheckRouteRefusesWhatTheKernelWouldMisread) {
  EXPECT_EQ(check_route(route("10.244.2.0/24", "198.51.100.12")), "");
  EXPECT_EQ(check_route(route("10.244.2.0/24", "2001:db8::1")),
            "gateway 2001:db8::1 is IPv6 but destination 10.244.2.0/24 is IPv4");
  Route onlink = route("10.244.2.0/24", "198.51.100.12", 0);
  onlink.onlink = true;
  EXPECT_NE(check_route(onlink).find("onlink but names no output link"), std::string::npos);
  Route nowhere;
  nowhere.destination = IpPrefix::parse("10.244.2.0/24");
  EXPECT_NE(check_route(nowhere).find("neither a gateway nor an output link"), std::string::npos);
}

TEST(NetlinkMessageTest, BatchOfMessagesIsWalkedMessageByMessage) {
  std::vector<std::uint8_t> batch;
  std::vector<std::size_t> ends;
  for (std::uint32_t i = 0; i < 5; ++i) {
    Route r = route(i % 2 ? "2001:db8:244::/64" : "10.244.0.0/24", i % 2 ? "2001:db8:1::2" : "198.51.100.2");
    append_route_change(batch, {ChangeKind::add, r}, 100 + i);
    ends.push_back(batch.size());
  }
  std::vector<std::uint32_t> seqs;
  std::string error;
  EXPECT_TRUE(for_each_message(
      batch,
      [&](const MessageHeader& header, std::span<const std::uint8_t> message) {
        seqs.push_back(header.seq);
        EXPECT_TRUE(parse_route_message(message));
      },
      &error))
      << error;
  EXPECT_EQ(seqs, (std::vector<std::uint32_t>{100, 101, 102, 103, 104}));
}

TEST(NetlinkMessageTest, TruncatedAndInconsistentMessagesAreRefusedWithReasons) {
  auto bytes = build(ChangeKind::add, route("10.244.2.0/24", "198.51.100.12"));
  std::string error;
  std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + 10);
  EXPECT_FALSE(for_each_message(
      cut, [](auto&&...) {}, &error));
  EXPECT_NE(error.find("truncated netlink header"), std::string::npos) << error;

  std::vector<std::uint8_t> lying = bytes;
  std::uint32_t too_long = 4096;
  std::memcpy(lying.data(), &too_long, 4);
  EXPECT_FALSE(for_each_message(
      lying, [](auto&&...) {}, &error));
  EXPECT_NE(error.find("does not fit"), std::string::npos) << error;

  // An attribute whose length runs past the end.
  std::vector<std::uint8_t> bad_attr = bytes;
  auto* attr = reinterpret_cast<nlattr*>(bad_attr.data() + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg)));
  attr->nla_len = 200;
  EXPECT_FALSE(parse_route_message(bad_attr, &error));
  EXPECT_NE(error.find("past the message end"), std::string::npos) << error;

  // A gateway of the wrong size.
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 24;
  std::uint8_t three[3] = {1, 2, 3};
  auto odd = MessageBuilder(RTM_NEWROUTE, 0, 1, 0).fixed(rtm).attribute(RTA_GATEWAY, three, 3).bytes();
  EXPECT_FALSE(parse_route_message(odd, &error));
  EXPECT_NE(error.find("RTA_GATEWAY of 3 bytes"), std::string::npos) << error;

  // Host bits past the prefix length.
  std::uint8_t host[4] = {10, 244, 2, 1};
  auto hosty = MessageBuilder(RTM_NEWROUTE, 0, 1, 0).fixed(rtm).attribute(RTA_DST, host, 4).bytes();
  EXPECT_FALSE(parse_route_message(hosty, &error));
  EXPECT_NE(error.find("host bits"), std::string::npos) << error;

  // Not a route message at all.
  EXPECT_FALSE(parse_route_message(hostgw::testing::link_message(RTM_NEWLINK, 1, 0, 0, "lo"), &error));
  EXPECT_NE(error.find("expected a route message, got RTM_NEWLINK"), std::string::npos) << error;
}

TEST(NetlinkMessageTest, ClonedAndNonUnicastRoutesAreNotPlainUnicast) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET6;
  rtm.rtm_dst_len = 128;
  rtm.rtm_type = RTN_UNICAST;
  rtm.rtm_flags = RTM_F_CLONED;
  rtm.rtm_protocol = 44;
  std::uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8};
  auto cloned =
      parse_route_message(MessageBuilder(RTM_NEWROUTE, 0, 1, 0).fixed(rtm).attribute(RTA_DST, dst, 16).bytes());
  ASSERT_TRUE(cloned);
  EXPECT_FALSE(cloned->is_plain_unicast());
  rtm.rtm_flags = 0;
  rtm.rtm_type = RTN_LOCAL;
  auto local =
      parse_route_message(MessageBuilder(RTM_NEWROUTE, 0, 1, 0).fixed(rtm).attribute(RTA_DST, dst, 16).bytes());
  ASSERT_TRUE(local);
  EXPECT_FALSE(local->is_plain_unicast());
  rtm.rtm_type = RTN_UNICAST;
  auto multipath = parse_route_message(MessageBuilder(RTM_NEWROUTE, 0, 1, 0)
                                           .fixed(rtm)
                                           .attribute(RTA_DST, dst, 16)
                                           .attribute(RTA_MULTIPATH, dst, 8)
                                           .bytes());
  ASSERT_TRUE(multipath);
  EXPECT_FALSE(multipath->is_plain_unicast());
}

Route unreachable(const char* dst, std::uint32_t metric) {
  Route r;
  r.destination = IpPrefix::parse(dst);
  r.type = RouteType::unreachable;
  r.metric = metric;
  return r;
}

TEST(NetlinkMessageTest, UnreachableRouteHasItsTypeUniverseScopeAndNoNextHop) {
  for (const char* dst : {"10.244.1.0/24", "2001:db8:244:1::/64"}) {
    Route r = unreachable(dst, 4278198272u);
    ASSERT_EQ(check_route(r), "");
    auto bytes = build(ChangeKind::add, r);
    EXPECT_EQ(header_of(bytes).nlmsg_type, RTM_NEWROUTE);
    EXPECT_EQ(rtmsg_of(bytes).rtm_type, RTN_UNREACHABLE);
    EXPECT_EQ(rtmsg_of(bytes).rtm_scope, RT_SCOPE_UNIVERSE);
    EXPECT_EQ(rtmsg_of(bytes).rtm_protocol, 44);
    EXPECT_EQ(attribute_types(bytes, sizeof(rtmsg)), (std::vector<std::uint16_t>{RTA_DST, RTA_PRIORITY, RTA_TABLE}));
    // Read back (as a dump would deliver it): the same value.
    auto parsed = parse_route_message(bytes);
    ASSERT_TRUE(parsed);
    EXPECT_TRUE(parsed->is_plain_unicast_or_unreachable());
    EXPECT_FALSE(parsed->is_plain_unicast());
    EXPECT_EQ(parsed->route, r) << parsed->route.to_string();
  }
}

TEST(NetlinkMessageTest, UnreachableRouteDeleteCarriesTheType) {
  // IPv4 deletes only a route whose type matches the request's rtm_type.
  auto bytes = build(ChangeKind::remove, unreachable("10.244.1.0/24", 4278198272u));
  EXPECT_EQ(header_of(bytes).nlmsg_type, RTM_DELROUTE);
  EXPECT_EQ(rtmsg_of(bytes).rtm_type, RTN_UNREACHABLE);
  EXPECT_EQ(rtmsg_of(bytes).rtm_protocol, 44);
  auto unicast = build(ChangeKind::remove, route("10.244.1.0/24", "198.51.100.2"));
  EXPECT_EQ(rtmsg_of(unicast).rtm_type, RTN_UNICAST);
}

TEST(NetlinkMessageTest, UnreachableRouteDumpedWithLoopbackLinkReadsBackWithoutIt) {
  // IPv6 dumps its reject routes with RTA_OIF = lo.
  rtmsg rtm{};
  rtm.rtm_family = AF_INET6;
  rtm.rtm_dst_len = 64;
  rtm.rtm_type = RTN_UNREACHABLE;
  rtm.rtm_protocol = 44;
  rtm.rtm_table = RT_TABLE_MAIN;
  std::uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0x02, 0x44, 0x00, 0x01};
  std::uint32_t lo = 1;
  std::uint32_t metric = 4278198272u;
  auto parsed = parse_route_message(MessageBuilder(RTM_NEWROUTE, 0, 1, 0)
                                        .fixed(rtm)
                                        .attribute(RTA_DST, dst, 16)
                                        .attribute(RTA_OIF, &lo, 4)
                                        .attribute(RTA_PRIORITY, &metric, 4)
                                        .bytes());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route, unreachable("2001:db8:244:1::/64", 4278198272u)) << parsed->route.to_string();
}

TEST(NetlinkMessageTest, CheckRouteRefusesAnUnreachableRouteWithANextHop) {
  Route r = unreachable("10.244.1.0/24", 1);
  r.gateway = IpAddress::parse("198.51.100.2");
  EXPECT_EQ(check_route(r),
            "unreachable route to 10.244.1.0/24 has a gateway (198.51.100.2); an unreachable route has none");
  r.gateway.reset();
  r.oif = 3;
  EXPECT_EQ(check_route(r), "unreachable route to 10.244.1.0/24 names an output link; it has none");
}

TEST(NetlinkMessageTest, CappedErrorAckCarriesErrnoAndExtAckText) {
  nlmsgerr err{};
  err.error = -ENETUNREACH;
  err.msg.nlmsg_len = 60;  // the original request's length; capped: only its header is echoed
  err.msg.nlmsg_type = RTM_NEWROUTE;
  err.msg.nlmsg_seq = 1234;
  auto bytes = MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 1234, 99)
                   .fixed(err)
                   .text(NLMSGERR_ATTR_MSG, "Nexthop has invalid gateway")
                   .u32(NLMSGERR_ATTR_OFFS, 32)
                   .bytes();
  auto ack = parse_ack(bytes);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->acked_seq, 1234u);
  EXPECT_EQ(ack->error, ENETUNREACH);
  EXPECT_EQ(ack->message, "Nexthop has invalid gateway");
  EXPECT_EQ(ack->header.port, 99u);
}

TEST(NetlinkMessageTest, UncappedErrorAckSkipsTheEchoedRequest) {
  auto request = build(ChangeKind::add, route("10.244.2.0/24", "198.51.100.12"), 5);
  // Without NETLINK_CAP_ACK the kernel echoes the whole request after the errno.
  const int error = -EEXIST;
  MessageBuilder builder(NLMSG_ERROR, NLM_F_ACK_TLVS, 5, 0);
  builder.fixed(error);
  builder.attribute(0, nullptr, 0);  // placeholder, replaced below
  std::vector<std::uint8_t> bytes = builder.bytes();
  bytes.resize(NLMSG_HDRLEN + sizeof(int));
  bytes.insert(bytes.end(), request.begin(), request.end());
  auto tail = MessageBuilder(0, 0, 0, 0).text(NLMSGERR_ATTR_MSG, "File exists").bytes();
  bytes.insert(bytes.end(), tail.begin() + NLMSG_HDRLEN, tail.end());
  const auto length = static_cast<std::uint32_t>(bytes.size());
  std::memcpy(bytes.data(), &length, 4);

  auto ack = parse_ack(bytes);
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->error, EEXIST);
  EXPECT_EQ(ack->acked_seq, 5u);
  EXPECT_EQ(ack->message, "File exists");
}

TEST(NetlinkMessageTest, SuccessAckAndDone) {
  nlmsgerr err{};
  err.msg.nlmsg_seq = 8;
  auto ack = parse_ack(MessageBuilder(NLMSG_ERROR, NLM_F_CAPPED, 8, 0).fixed(err).bytes());
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->error, 0);
  EXPECT_EQ(ack->acked_seq, 8u);
  EXPECT_TRUE(ack->message.empty());

  int done_error = -EINTR;
  auto done = parse_ack(MessageBuilder(NLMSG_DONE, NLM_F_MULTI, 9, 0).fixed(done_error).bytes());
  ASSERT_TRUE(done);
  EXPECT_EQ(done->error, EINTR);
  EXPECT_EQ(done->acked_seq, 9u);

  std::string error;
  EXPECT_FALSE(parse_ack(MessageBuilder(NLMSG_ERROR, 0, 8, 0).fixed(std::uint16_t{1}).bytes(), &error));
  EXPECT_NE(error.find("too short for nlmsgerr"), std::string::npos) << error;
}

TEST(NetlinkMessageTest, DumpRequestsCarryTheFilter) {
  auto bytes = route_dump_request(Family::v6, 254, 44, 3);
  EXPECT_EQ(header_of(bytes).nlmsg_type, RTM_GETROUTE);
  EXPECT_EQ(header_of(bytes).nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(header_of(bytes).nlmsg_seq, 3u);
  EXPECT_EQ(rtmsg_of(bytes).rtm_family, AF_INET6);
  EXPECT_EQ(rtmsg_of(bytes).rtm_protocol, 44);
  EXPECT_EQ(rtmsg_of(bytes).rtm_table, 254);
  EXPECT_EQ(attribute_types(bytes, sizeof(rtmsg)), (std::vector<std::uint16_t>{RTA_TABLE}));

  auto get = route_get_request(IpAddress::parse("198.51.100.7"), 4);
  EXPECT_EQ(header_of(get).nlmsg_flags, NLM_F_REQUEST);
  EXPECT_EQ(rtmsg_of(get).rtm_dst_len, 32);
  EXPECT_EQ(header_of(link_dump_request(5)).nlmsg_type, RTM_GETLINK);
  EXPECT_EQ(header_of(address_dump_request(6)).nlmsg_type, RTM_GETADDR);
  EXPECT_EQ(header_of(address_dump_request(6)).nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
}

TEST(NetlinkMessageTest, LinkAndAddressMessagesParse) {
  auto link = parse_link_message(hostgw::testing::link_message(RTM_NEWLINK, 3, IFF_UP | IFF_RUNNING, IFF_UP, "veth0"));
  ASSERT_TRUE(link);
  EXPECT_EQ(link->index, 3u);
  EXPECT_EQ(link->name, "veth0");
  EXPECT_EQ(link->mtu, 1500u);
  EXPECT_EQ(link->flags, static_cast<unsigned>(IFF_UP | IFF_RUNNING));
  EXPECT_EQ(link->change, static_cast<unsigned>(IFF_UP));

  in_addr v4{};
  inet_pton(AF_INET, "198.51.100.1", &v4);
  auto address =
      parse_address_message(hostgw::testing::address_message(RTM_NEWADDR, AF_INET, &v4, 4, 24, RT_SCOPE_UNIVERSE, 3));
  ASSERT_TRUE(address);
  EXPECT_EQ(address->local.to_string(), "198.51.100.1");
  EXPECT_EQ(address->prefix_length, 24);
  EXPECT_EQ(address->index, 3u);

  in6_addr v6{};
  inet_pton(AF_INET6, "2001:db8:1::1", &v6);
  auto address6 =
      parse_address_message(hostgw::testing::address_message(RTM_DELADDR, AF_INET6, &v6, 16, 64, RT_SCOPE_UNIVERSE, 3));
  ASSERT_TRUE(address6);
  EXPECT_EQ(address6->local.to_string(), "2001:db8:1::1");
  EXPECT_EQ(address6->header.type, RTM_DELADDR);

  std::string error;
  EXPECT_FALSE(parse_address_message(
      hostgw::testing::address_message(RTM_NEWADDR, AF_INET, &v4, 4, 40, RT_SCOPE_UNIVERSE, 3), &error));
  EXPECT_NE(error.find("prefix length /40"), std::string::npos) << error;
}

TEST(NetlinkMessageTest, MessageTypeNames) {
  EXPECT_EQ(message_type_name(RTM_DELROUTE), "RTM_DELROUTE");
  EXPECT_EQ(message_type_name(NLMSG_ERROR), "NLMSG_ERROR");
  EXPECT_EQ(message_type_name(999), "type 999");
}

}  // namespace
}  // namespace hostgw::routing::netlink
