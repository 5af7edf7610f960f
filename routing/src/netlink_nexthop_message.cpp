#include "routing/netlink_nexthop_message.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "netlink_attributes.hpp"

namespace hostgw::routing::netlink {

using detail::attributes_of;
using detail::fail;
using detail::fixed_part;
using detail::for_each_attribute;

std::string check_nexthop(ChangeKind kind, const Nexthop& nexthop) {
  if (nexthop.id == 0) return "nexthop " + nexthop.to_string() + " has id 0 (the kernel would pick one)";
  if (kind == ChangeKind::remove) return {};
  if (nexthop.oif == 0) return "nexthop " + nexthop.to_string() + " names no output link (the kernel requires one)";
  return {};
}

std::size_t append_nexthop_change(std::vector<std::uint8_t>& buffer, const NexthopChange& change, std::uint32_t seq) {
  const Nexthop& nexthop = change.nexthop;
  std::size_t start = 0;
  nlmsghdr* header = detail::begin_message(buffer, start, kMaxNexthopMessageSize, 0, NLM_F_REQUEST | NLM_F_ACK, seq);
  auto* nhm = static_cast<nhmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nhmsg)));
  if (change.kind == ChangeKind::remove) {
    header->nlmsg_type = RTM_DELNEXTHOP;
    nhm->nh_family = AF_UNSPEC;
    mnl_attr_put_u32(header, NHA_ID, nexthop.id);
    return detail::end_message(buffer, start, header);
  }
  header->nlmsg_type = RTM_NEWNEXTHOP;
  header->nlmsg_flags |= NLM_F_CREATE | (change.kind == ChangeKind::add ? NLM_F_EXCL : NLM_F_REPLACE);
  nhm->nh_family = nexthop.family() == Family::v4 ? AF_INET : AF_INET6;
  nhm->nh_scope = RT_SCOPE_UNIVERSE;
  nhm->nh_protocol = nexthop.protocol;
  if (nexthop.onlink) nhm->nh_flags |= RTNH_F_ONLINK;
  mnl_attr_put_u32(header, NHA_ID, nexthop.id);
  mnl_attr_put(header, NHA_GATEWAY, nexthop.gateway.size(), nexthop.gateway.data());
  mnl_attr_put_u32(header, NHA_OIF, nexthop.oif);
  return detail::end_message(buffer, start, header);
}

std::vector<std::uint8_t> nexthop_dump_request(std::uint32_t seq) {
  std::vector<std::uint8_t> buffer;
  std::size_t start = 0;
  nlmsghdr* header = detail::begin_message(buffer, start, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nhmsg)), RTM_GETNEXTHOP,
                                           NLM_F_REQUEST | NLM_F_DUMP, seq);
  auto* nhm = static_cast<nhmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nhmsg)));
  nhm->nh_family = AF_UNSPEC;
  detail::end_message(buffer, start, header);
  return buffer;
}

std::optional<NexthopMessage> parse_nexthop_message(std::span<const std::uint8_t> message, std::string* error) {
  auto header = parse_header(message, error);
  if (!header) return std::nullopt;
  if (header->type != RTM_NEWNEXTHOP && header->type != RTM_DELNEXTHOP) {
    return fail<NexthopMessage>(error, "expected a nexthop message, got " + message_type_name(header->type));
  }
  const auto nhm = fixed_part<nhmsg>(message, error, "nexthop");
  if (!nhm) return std::nullopt;
  NexthopMessage out;
  out.header = *header;
  out.nexthop.protocol = nhm->nh_protocol;
  out.nexthop.onlink = (nhm->nh_flags & RTNH_F_ONLINK) != 0;
  bool has_id = false;
  bool has_gateway = false;
  bool has_oif = false;
  bool special = false;  // group, blackhole, FDB
  std::string problem;
  const bool ok = for_each_attribute(attributes_of(message, sizeof(nhmsg)), error, "nexthop",
                                     [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
                                       switch (type) {
                                         case NHA_ID:
                                           if (auto id = detail::read_value<std::uint32_t>(payload)) {
                                             out.nexthop.id = *id;
                                             has_id = true;
                                           }
                                           break;
                                         case NHA_GATEWAY:
                                           if (auto gateway = IpAddress::from_bytes(payload.data(), payload.size())) {
                                             out.nexthop.gateway = *gateway;
                                             has_gateway = true;
                                           } else {
                                             problem = "NHA_GATEWAY of " + std::to_string(payload.size()) + " bytes";
                                           }
                                           break;
                                         case NHA_OIF:
                                           if (auto oif = detail::read_value<std::uint32_t>(payload)) {
                                             out.nexthop.oif = *oif;
                                             has_oif = true;
                                           }
                                           break;
                                         case NHA_GROUP:
                                         case NHA_BLACKHOLE:
                                         case NHA_FDB:
                                           special = true;
                                           break;
                                         default:
                                           break;
                                       }
                                     });
  if (!ok) return std::nullopt;
  if (!problem.empty()) return fail<NexthopMessage>(error, "malformed nexthop message: " + problem);
  if (!has_id) return fail<NexthopMessage>(error, "nexthop message without NHA_ID");
  if (has_gateway && (nhm->nh_family == AF_INET) != out.nexthop.gateway.is_v4()) {
    return fail<NexthopMessage>(error, "nexthop " + std::to_string(out.nexthop.id) + " of family " +
                                           std::to_string(nhm->nh_family) + " has gateway " +
                                           out.nexthop.gateway.to_string());
  }
  out.single_gateway = has_gateway && has_oif && !special;
  return out;
}

}  // namespace hostgw::routing::netlink
