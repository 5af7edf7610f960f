#include "routing/netlink_nexthop_message.hpp"

#include <gtest/gtest.h>
#include <linux/nexthop.h>

#include "netlink_test_messages.hpp"

namespace hostgw::routing::netlink {
namespace {

using hostgw::testing::MessageBuilder;

Nexthop nexthop(const char* via, std::uint32_t id = kNexthopIdFirst, std::uint32_t oif = 3) {
  return {id, IpAddress::parse(via), oif};
}

std::vector<std::uint8_t> build(ChangeKind kind, const Nexthop& n, std::uint32_t seq = 7) {
  std::vector<std::uint8_t> buffer{0xAA, 0xBB, 0xCC, 0xDD};  // a message already in the batch
  std::size_t length = append_nexthop_change(buffer, {kind, n}, seq);
  EXPECT_EQ(length + 4, buffer.size());
  EXPECT_EQ(length % 4, 0u);
  EXPECT_LE(length, kMaxNexthopMessageSize);
  return {buffer.begin() + 4, buffer.end()};
}

struct Attr {
  std::uint16_t type;
  std::vector<std::uint8_t> payload;
};
std::vector<Attr> attributes(const std::vector<std::uint8_t>& bytes) {
  std::vector<Attr> out;
  std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nhmsg));
  while (offset + sizeof(nlattr) <= bytes.size()) {
    nlattr attr;
    std::memcpy(&attr, bytes.data() + offset, sizeof attr);
    out.push_back({attr.nla_type, {bytes.begin() + offset + sizeof attr, bytes.begin() + offset + attr.nla_len}});
    offset += NLMSG_ALIGN(attr.nla_len);
  }
  return out;
}
std::uint32_t u32_of(const Attr& attr) {
  std::uint32_t value = 0;
  EXPECT_EQ(attr.payload.size(), 4u);
  std::memcpy(&value, attr.payload.data(), sizeof value);
  return value;
}

TEST(NetlinkNexthopMessageTest, AddIsNewNexthopWithCreateExclProtocolIdGatewayAndLink) {
  auto bytes = build(ChangeKind::add, nexthop("198.51.100.12"), 42);
  nlmsghdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  EXPECT_EQ(header.nlmsg_type, RTM_NEWNEXTHOP);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(header.nlmsg_seq, 42u);
  EXPECT_EQ(header.nlmsg_len, bytes.size());
  nhmsg nhm;
  std::memcpy(&nhm, bytes.data() + NLMSG_HDRLEN, sizeof nhm);
  EXPECT_EQ(nhm.nh_family, AF_INET);
  EXPECT_EQ(nhm.nh_protocol, 44);
  EXPECT_EQ(nhm.nh_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(nhm.nh_flags, 0u);
  auto attrs = attributes(bytes);
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[0].type, NHA_ID);
  EXPECT_EQ(u32_of(attrs[0]), kNexthopIdFirst);
  EXPECT_EQ(attrs[1].type, NHA_GATEWAY);
  EXPECT_EQ(attrs[1].payload, (std::vector<std::uint8_t>{198, 51, 100, 12}));
  EXPECT_EQ(attrs[2].type, NHA_OIF);
  EXPECT_EQ(u32_of(attrs[2]), 3u);
}

TEST(NetlinkNexthopMessageTest, ReplaceOfAnIpv6OnlinkNexthop) {
  Nexthop n = nexthop("2001:db8:1::2", 77, 5);
  n.onlink = true;
  n.protocol = 99;
  auto bytes = build(ChangeKind::replace, n);
  nlmsghdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE);
  nhmsg nhm;
  std::memcpy(&nhm, bytes.data() + NLMSG_HDRLEN, sizeof nhm);
  EXPECT_EQ(nhm.nh_family, AF_INET6);
  EXPECT_EQ(nhm.nh_protocol, 99);
  EXPECT_EQ(nhm.nh_flags, static_cast<unsigned>(RTNH_F_ONLINK));
  auto attrs = attributes(bytes);
  ASSERT_EQ(attrs.size(), 3u);
  EXPECT_EQ(attrs[1].payload.size(), 16u);
}

TEST(NetlinkNexthopMessageTest, RemoveIsDelNexthopWithTheIdOnly) {
  auto bytes = build(ChangeKind::remove, nexthop("198.51.100.12", 1234));
  nlmsghdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  EXPECT_EQ(header.nlmsg_type, RTM_DELNEXTHOP);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  auto attrs = attributes(bytes);
  ASSERT_EQ(attrs.size(), 1u);
  EXPECT_EQ(attrs[0].type, NHA_ID);
  EXPECT_EQ(u32_of(attrs[0]), 1234u);
}

TEST(NetlinkNexthopMessageTest, CheckRefusesIdZeroAndAMissingLink) {
  EXPECT_EQ(check_nexthop(ChangeKind::add, nexthop("198.51.100.12")), "");
  EXPECT_NE(check_nexthop(ChangeKind::add, nexthop("198.51.100.12", 0)).find("id 0"), std::string::npos);
  EXPECT_NE(check_nexthop(ChangeKind::replace, nexthop("198.51.100.12", 5, 0)).find("no output link"),
            std::string::npos);
  EXPECT_EQ(check_nexthop(ChangeKind::remove, nexthop("198.51.100.12", 5, 0)), "");
}

TEST(NetlinkNexthopMessageTest, DumpRequestIsGetNexthopWithAnEmptyHeader) {
  auto bytes = nexthop_dump_request(9);
  nlmsghdr header;
  std::memcpy(&header, bytes.data(), sizeof header);
  EXPECT_EQ(header.nlmsg_type, RTM_GETNEXTHOP);
  EXPECT_EQ(header.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(header.nlmsg_seq, 9u);
  EXPECT_EQ(bytes.size(), NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nhmsg)));
  // Strict checking refuses any header field set in a dump request.
  nhmsg nhm;
  std::memcpy(&nhm, bytes.data() + NLMSG_HDRLEN, sizeof nhm);
  EXPECT_EQ(nhm.nh_family, AF_UNSPEC);
  EXPECT_EQ(nhm.nh_protocol, 0);
  EXPECT_EQ(nhm.nh_flags, 0u);
}

TEST(NetlinkNexthopMessageTest, BuiltMessageParsesBack) {
  for (const Nexthop& n : {nexthop("198.51.100.12", 11, 3), nexthop("2001:db8:1::2", 12, 4)}) {
    auto bytes = build(ChangeKind::add, n);
    std::string error;
    auto parsed = parse_nexthop_message(bytes, &error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(parsed->nexthop, n);
    EXPECT_TRUE(parsed->single_gateway);
  }
}

nhmsg header_fields(std::uint8_t family, std::uint8_t protocol, std::uint32_t flags = 0) {
  nhmsg nhm{};
  nhm.nh_family = family;
  nhm.nh_protocol = protocol;
  nhm.nh_flags = flags;
  return nhm;
}

TEST(NetlinkNexthopMessageTest, ParsesAKernelDumpEntry) {
  const std::uint8_t gateway[4] = {198, 51, 100, 7};
  auto bytes = MessageBuilder(RTM_NEWNEXTHOP, NLM_F_MULTI, 5, 0)
                   .fixed(header_fields(AF_INET, 44, RTNH_F_ONLINK))
                   .u32(NHA_ID, 99)
                   .attribute(NHA_GATEWAY, gateway, 4)
                   .u32(NHA_OIF, 2)
                   .bytes();
  auto parsed = parse_nexthop_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->header.seq, 5u);
  EXPECT_EQ(parsed->nexthop, (Nexthop{99, IpAddress::parse("198.51.100.7"), 2, 44, true}));
  EXPECT_TRUE(parsed->single_gateway);
}

TEST(NetlinkNexthopMessageTest, GroupsAndBlackholesAreOnlyIdsInUse) {
  const std::uint32_t group[2] = {1, 0};  // struct nexthop_grp {id, weight...}
  auto grouped = MessageBuilder(RTM_NEWNEXTHOP, NLM_F_MULTI, 5, 0)
                     .fixed(header_fields(AF_UNSPEC, 44))
                     .u32(NHA_ID, 7)
                     .attribute(NHA_GROUP, group, sizeof group)
                     .bytes();
  auto parsed = parse_nexthop_message(grouped);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->nexthop.id, 7u);
  EXPECT_FALSE(parsed->single_gateway);
  auto blackhole = MessageBuilder(RTM_NEWNEXTHOP, NLM_F_MULTI, 5, 0)
                       .fixed(header_fields(AF_INET, 44))
                       .u32(NHA_ID, 8)
                       .attribute(NHA_BLACKHOLE, nullptr, 0)
                       .bytes();
  parsed = parse_nexthop_message(blackhole);
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->single_gateway);
}

TEST(NetlinkNexthopMessageTest, MalformedMessagesAreRefusedWithAReason) {
  std::string error;
  const std::uint8_t short_gateway[3] = {1, 2, 3};
  auto no_id = MessageBuilder(RTM_NEWNEXTHOP, 0, 1, 0).fixed(header_fields(AF_INET, 44)).u32(NHA_OIF, 2).bytes();
  EXPECT_FALSE(parse_nexthop_message(no_id, &error));
  EXPECT_NE(error.find("NHA_ID"), std::string::npos) << error;
  auto bad_gateway = MessageBuilder(RTM_NEWNEXTHOP, 0, 1, 0)
                         .fixed(header_fields(AF_INET, 44))
                         .u32(NHA_ID, 1)
                         .attribute(NHA_GATEWAY, short_gateway, 3)
                         .bytes();
  EXPECT_FALSE(parse_nexthop_message(bad_gateway, &error));
  EXPECT_NE(error.find("NHA_GATEWAY"), std::string::npos) << error;
  const std::uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  auto mismatched = MessageBuilder(RTM_NEWNEXTHOP, 0, 1, 0)
                        .fixed(header_fields(AF_INET, 44))
                        .u32(NHA_ID, 1)
                        .attribute(NHA_GATEWAY, v6, 16)
                        .bytes();
  EXPECT_FALSE(parse_nexthop_message(mismatched, &error));
  auto route = MessageBuilder(RTM_NEWROUTE, 0, 1, 0).fixed(header_fields(AF_INET, 44)).bytes();
  EXPECT_FALSE(parse_nexthop_message(route, &error));
  EXPECT_NE(error.find("expected a nexthop message"), std::string::npos) << error;
  auto truncated = MessageBuilder(RTM_NEWNEXTHOP, 0, 1, 0).bytes();
  EXPECT_FALSE(parse_nexthop_message(truncated, &error));
}

TEST(NexthopTest, FreeIdsSkipEveryIdInUse) {
  EXPECT_EQ(free_nexthop_id({}), kNexthopIdFirst);
  EXPECT_EQ(free_nexthop_id({kNexthopIdFirst, kNexthopIdFirst + 1, kNexthopIdFirst + 3}), kNexthopIdFirst + 2);
  EXPECT_EQ(free_nexthop_id({1, 2, kNexthopIdFirst + 3}, kNexthopIdFirst + 3), kNexthopIdFirst + 4);
  EXPECT_EQ(free_nexthop_id({}, 5), kNexthopIdFirst);  // never below the range
  EXPECT_EQ(free_nexthop_id({kNexthopIdLast}, kNexthopIdLast), 0u);
}

// --- routes naming a nexthop -------------------------------------------------

TEST(NetlinkNexthopMessageTest, RouteThroughANexthopCarriesRtaNhIdOnly) {
  Route r;
  r.destination = IpPrefix::parse("10.244.2.0/24");
  r.nexthop_id = 4711;
  EXPECT_EQ(check_route(r), "");
  std::vector<std::uint8_t> bytes;
  append_route_change(bytes, {ChangeKind::replace, r}, 3);
  std::vector<std::uint16_t> types;
  std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(rtmsg));
  while (offset + sizeof(nlattr) <= bytes.size()) {
    nlattr attr;
    std::memcpy(&attr, bytes.data() + offset, sizeof attr);
    types.push_back(attr.nla_type);
    offset += NLMSG_ALIGN(attr.nla_len);
  }
  EXPECT_EQ(types, (std::vector<std::uint16_t>{RTA_DST, RTA_NH_ID, RTA_TABLE}));
  rtmsg rtm;
  std::memcpy(&rtm, bytes.data() + NLMSG_HDRLEN, sizeof rtm);
  EXPECT_EQ(rtm.rtm_scope, RT_SCOPE_UNIVERSE);
  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route, r);

  Route both = r;
  both.gateway = IpAddress::parse("198.51.100.2");
  EXPECT_NE(check_route(both).find("nexthop 4711"), std::string::npos);
}

TEST(NetlinkNexthopMessageTest, DumpedRouteThroughANexthopDropsTheCompatGateway) {
  // nexthop_compat_mode=1 (the default): the kernel adds the nexthop's gateway, link and flags.
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 24;
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_protocol = 44;
  rtm.rtm_type = RTN_UNICAST;
  rtm.rtm_flags = RTNH_F_ONLINK;
  const std::uint8_t dst[4] = {10, 244, 2, 0};
  const std::uint8_t gateway[4] = {198, 51, 100, 2};
  auto bytes = MessageBuilder(RTM_NEWROUTE, NLM_F_MULTI, 1, 0)
                   .fixed(rtm)
                   .u32(RTA_TABLE, RT_TABLE_MAIN)
                   .attribute(RTA_DST, dst, 4)
                   .u32(RTA_NH_ID, 4711)
                   .attribute(RTA_GATEWAY, gateway, 4)
                   .u32(RTA_OIF, 2)
                   .bytes();
  auto parsed = parse_route_message(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->is_plain_unicast());
  EXPECT_EQ(parsed->route.nexthop_id, 4711u);
  EXPECT_FALSE(parsed->route.gateway);
  EXPECT_EQ(parsed->route.oif, 0u);
  EXPECT_FALSE(parsed->route.onlink);
  EXPECT_EQ(parsed->route.to_string(), "10.244.2.0/24 nhid 4711 table 254 proto 44 metric 0");
}

}  // namespace
}  // namespace hostgw::routing::netlink
