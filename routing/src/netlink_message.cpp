#include "routing/netlink_message.hpp"

#include <limits>

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks
// (IFF_LOWER_UP). Separate blocks keep clang-format from swapping them.
#include <net/if.h>

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "netlink_attributes.hpp"

namespace hostgw::routing::netlink {

namespace {

std::uint8_t family_of(Family family) {
  return family == Family::v4 ? AF_INET : AF_INET6;
}

// A request with just a fixed part, for dumps.
template <typename Fixed>
std::vector<std::uint8_t> simple_request(std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
                                         const Fixed& fixed) {
  std::vector<std::uint8_t> buffer;
  std::size_t start = 0;
  nlmsghdr* header = detail::begin_message(buffer, start, NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(Fixed)), type, flags, seq);
  auto* body = static_cast<Fixed*>(mnl_nlmsg_put_extra_header(header, sizeof(Fixed)));
  *body = fixed;
  detail::end_message(buffer, start, header);
  return buffer;
}

using detail::attributes_of;
using detail::fail;
using detail::fixed_part;
using detail::for_each_attribute;
using detail::read_string;

std::optional<std::uint32_t> read_u32(std::span<const std::uint8_t> payload) {
  return detail::read_value<std::uint32_t>(payload);
}

}  // namespace

std::string check_route(const Route& route) {
  if (route.nexthop_id != 0) {
    if (route.type != RouteType::unicast || route.gateway || route.oif != 0 || route.onlink) {
      return "route to " + route.destination.to_string() + " names nexthop " + std::to_string(route.nexthop_id) +
             " and a gateway, output link, onlink flag or type of its own; the nexthop carries them";
    }
    return {};
  }
  if (route.type == RouteType::unreachable) {
    if (route.gateway) {
      return "unreachable route to " + route.destination.to_string() + " has a gateway (" + route.gateway->to_string() +
             "); an unreachable route has none";
    }
    if (route.oif != 0 || route.onlink) {
      return "unreachable route to " + route.destination.to_string() + " names an output link; it has none";
    }
    return {};
  }
  if (route.gateway && route.gateway->family() != route.family()) {
    return "gateway " + route.gateway->to_string() + " is " + std::string(to_string(route.gateway->family())) +
           " but destination " + route.destination.to_string() + " is " + std::string(to_string(route.family()));
  }
  if (route.onlink && route.oif == 0) {
    return "route to " + route.destination.to_string() + " is onlink but names no output link (oif)";
  }
  if (!route.gateway && route.oif == 0) {
    return "route to " + route.destination.to_string() + " has neither a gateway nor an output link";
  }
  return {};
}

std::size_t append_route_change(std::vector<std::uint8_t>& buffer, const RouteChange& change, std::uint32_t seq) {
  const Route& route = change.route;
  std::size_t start = 0;
  nlmsghdr* header = detail::begin_message(buffer, start, kMaxRouteMessageSize, 0, NLM_F_REQUEST | NLM_F_ACK, seq);
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(rtmsg)));
  rtm->rtm_family = family_of(route.family());
  rtm->rtm_dst_len = static_cast<std::uint8_t>(route.destination.length());
  rtm->rtm_protocol = route.protocol;
  rtm->rtm_table = route.table < 256 ? static_cast<std::uint8_t>(route.table) : std::uint8_t{RT_TABLE_UNSPEC};
  // The type goes into deletes too: IPv4 only deletes a route whose type matches.
  rtm->rtm_type = route.type == RouteType::unreachable ? std::uint8_t{RTN_UNREACHABLE} : std::uint8_t{RTN_UNICAST};
  switch (change.kind) {
    case ChangeKind::add:
    case ChangeKind::replace:
      header->nlmsg_type = RTM_NEWROUTE;
      header->nlmsg_flags |= NLM_F_CREATE | (change.kind == ChangeKind::add ? NLM_F_EXCL : NLM_F_REPLACE);
      rtm->rtm_scope = route.gateway || route.nexthop_id != 0 || route.type == RouteType::unreachable
                           ? RT_SCOPE_UNIVERSE
                           : RT_SCOPE_LINK;
      if (route.onlink) rtm->rtm_flags |= RTNH_F_ONLINK;
      break;
    case ChangeKind::remove:
      header->nlmsg_type = RTM_DELROUTE;
      // Any scope matches; the protocol must (the kernel refuses to delete a
      // route carrying another one, which is what keeps us off foreign routes).
      rtm->rtm_scope = RT_SCOPE_NOWHERE;
      break;
  }
  mnl_attr_put(header, RTA_DST, route.destination.address().size(), route.destination.address().data());
  if (change.kind != ChangeKind::remove) {
    if (route.gateway) mnl_attr_put(header, RTA_GATEWAY, route.gateway->size(), route.gateway->data());
    if (route.oif != 0) mnl_attr_put_u32(header, RTA_OIF, route.oif);
    if (route.nexthop_id != 0) mnl_attr_put_u32(header, RTA_NH_ID, route.nexthop_id);
  }
  if (route.metric != 0) mnl_attr_put_u32(header, RTA_PRIORITY, route.metric);
  mnl_attr_put_u32(header, RTA_TABLE, route.table);
  return detail::end_message(buffer, start, header);
}

std::vector<std::uint8_t> route_dump_request(Family family, std::uint32_t table, std::uint8_t protocol,
                                             std::uint32_t seq) {
  rtmsg rtm{};
  rtm.rtm_family = family_of(family);
  rtm.rtm_table = table < 256 ? static_cast<std::uint8_t>(table) : std::uint8_t{RT_TABLE_UNSPEC};
  rtm.rtm_protocol = protocol;
  auto buffer = simple_request(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, rtm);
  buffer.resize(buffer.size() + MNL_ALIGN(sizeof(nlattr) + 4));
  auto* header = reinterpret_cast<nlmsghdr*>(buffer.data());
  mnl_attr_put_u32(header, RTA_TABLE, table);
  buffer.resize(header->nlmsg_len);
  return buffer;
}

std::vector<std::uint8_t> link_dump_request(std::uint32_t seq) {
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  return simple_request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, ifi);
}

std::vector<std::uint8_t> address_dump_request(std::uint32_t seq) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_UNSPEC;
  return simple_request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, ifa);
}

namespace detail {
bool next_message(std::span<const std::uint8_t> datagram, std::size_t& length, std::size_t& advance,
                  std::string* error) {
  if (datagram.size() < NLMSG_HDRLEN) {
    if (error) *error = "truncated netlink header: " + std::to_string(datagram.size()) + " bytes left";
    return false;
  }
  std::uint32_t declared;
  std::memcpy(&declared, datagram.data(), sizeof declared);  // nlmsg_len comes first
  if (declared < NLMSG_HDRLEN || declared > datagram.size()) {
    if (error) {
      *error = "netlink message length " + std::to_string(declared) + " does not fit the " +
               std::to_string(datagram.size()) + " bytes left";
    }
    return false;
  }
  length = declared;
  advance = std::min<std::size_t>(NLMSG_ALIGN(declared), datagram.size());
  return true;
}
}  // namespace detail

std::optional<MessageHeader> parse_header(std::span<const std::uint8_t> message, std::string* error) {
  if (message.size() < NLMSG_HDRLEN) {
    return fail<MessageHeader>(
        error, "netlink message of " + std::to_string(message.size()) + " bytes is shorter than a header");
  }
  nlmsghdr raw;
  std::memcpy(&raw, message.data(), sizeof raw);
  return MessageHeader{raw.nlmsg_type, raw.nlmsg_flags, raw.nlmsg_seq, raw.nlmsg_pid};
}

bool RouteMessage::is_plain_unicast() const {
  return route_type == RTN_UNICAST && (route_flags & RTM_F_CLONED) == 0 && !multipath && tos == 0;
}

bool RouteMessage::is_plain_unicast_or_unreachable() const {
  return (route_type == RTN_UNICAST || route_type == RTN_UNREACHABLE) && (route_flags & RTM_F_CLONED) == 0 &&
         !multipath && tos == 0;
}

namespace {

// One attribute of a route message into `out` (RTA_DST into `destination`);
// `problem` set if it is malformed.
void take_route_attribute(std::uint16_t type, std::span<const std::uint8_t> payload, Family family, RouteMessage& out,
                          std::optional<IpAddress>& destination, std::string& problem) {
  switch (type) {
    case RTA_DST:
      destination = IpAddress::from_bytes(payload.data(), payload.size());
      if (!destination || destination->family() != family) {
        problem = "RTA_DST of " + std::to_string(payload.size()) + " bytes in an " + std::string(to_string(family)) +
                  " route";
      }
      break;
    case RTA_GATEWAY:
      out.route.gateway = IpAddress::from_bytes(payload.data(), payload.size());
      if (!out.route.gateway) problem = "RTA_GATEWAY of " + std::to_string(payload.size()) + " bytes";
      break;
    case RTA_OIF:
      if (auto value = read_u32(payload)) out.route.oif = *value;
      break;
    case RTA_PRIORITY:
      if (auto value = read_u32(payload)) out.route.metric = *value;
      break;
    case RTA_TABLE:
      if (auto value = read_u32(payload)) out.route.table = *value;
      break;
    case RTA_PREFSRC:
      out.preferred_source = IpAddress::from_bytes(payload.data(), payload.size());
      break;
    case RTA_MULTIPATH:
      out.multipath = true;
      break;
    case RTA_NH_ID:
      if (auto value = read_u32(payload)) out.route.nexthop_id = *value;
      break;
    default:
      break;
  }
}

}  // namespace

std::optional<RouteMessage> parse_route_message(std::span<const std::uint8_t> message, std::string* error) {
  auto header = parse_header(message, error);
  if (!header) return std::nullopt;
  if (header->type != RTM_NEWROUTE && header->type != RTM_DELROUTE) {
    return fail<RouteMessage>(error, "expected a route message, got " + message_type_name(header->type));
  }
  const auto rtm = fixed_part<rtmsg>(message, error, "route");
  if (!rtm) return std::nullopt;
  Family family;
  if (rtm->rtm_family == AF_INET) {
    family = Family::v4;
  } else if (rtm->rtm_family == AF_INET6) {
    family = Family::v6;
  } else {
    return fail<RouteMessage>(
        error, "route message of address family " + std::to_string(rtm->rtm_family) + " (neither IPv4 nor IPv6)");
  }
  const unsigned width = family == Family::v4 ? 32 : 128;
  if (rtm->rtm_dst_len > width) {
    return fail<RouteMessage>(error, "route destination length /" + std::to_string(rtm->rtm_dst_len) +
                                         " is too long for " + std::string(to_string(family)));
  }

  RouteMessage out;
  out.header = *header;
  out.route_type = rtm->rtm_type;
  out.route_flags = rtm->rtm_flags;
  out.scope = rtm->rtm_scope;
  out.tos = rtm->rtm_tos;
  out.route.protocol = rtm->rtm_protocol;
  out.route.table = rtm->rtm_table;
  out.route.onlink = (rtm->rtm_flags & RTNH_F_ONLINK) != 0;

  std::optional<IpAddress> destination;
  std::string attribute_error;
  const bool ok = for_each_attribute(attributes_of(message, sizeof(rtmsg)), error, "route",
                                     [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
                                       take_route_attribute(type, payload, family, out, destination, attribute_error);
                                     });
  if (!ok) return std::nullopt;
  if (!attribute_error.empty()) return fail<RouteMessage>(error, "malformed route message: " + attribute_error);

  IpAddress base = destination.value_or(family == Family::v4 ? IpAddress() : IpAddress::v6({}));
  // The kernel never sends host bits past the length, but a corrupt message might.
  IpPrefix prefix = IpPrefix::containing(base, rtm->rtm_dst_len);
  if (prefix.address() != base) {
    return fail<RouteMessage>(
        error, "route destination " + base.to_string() + "/" + std::to_string(rtm->rtm_dst_len) + " has host bits set");
  }
  out.route.destination = prefix;
  if (out.route.nexthop_id != 0) {
    // With nexthop_compat_mode (the default) the kernel also reports the
    // nexthop's gateway, link and flags; the route itself names only the id,
    // so the value compares equal to what was sent. A group nexthop reports
    // RTA_MULTIPATH: not a route kube-hostgw makes.
    out.route.gateway.reset();
    out.route.oif = 0;
    out.route.onlink = false;
  }
  if (rtm->rtm_type == RTN_UNREACHABLE) {
    out.route.type = RouteType::unreachable;
    // IPv6 reports its reject routes as leaving through the loopback link;
    // the route itself names none, so the value compares equal to what was sent.
    out.route.oif = 0;
  }
  return out;
}

std::optional<Ack> parse_ack(std::span<const std::uint8_t> message, std::string* error) {
  auto header = parse_header(message, error);
  if (!header) return std::nullopt;
  Ack ack;
  ack.header = *header;
  if (header->type == NLMSG_DONE) {
    ack.acked_seq = header->seq;
    if (message.size() >= NLMSG_HDRLEN + sizeof(int)) {
      int value;
      std::memcpy(&value, message.data() + NLMSG_HDRLEN, sizeof value);
      // INT_MIN has no positive counterpart (and is no errno): a corrupt message.
      if (value == std::numeric_limits<int>::min())
        return fail<Ack>(error, "NLMSG_DONE carries error -2147483648, not an errno");
      ack.error = value < 0 ? -value : value;
    }
    return ack;
  }
  if (header->type != NLMSG_ERROR) {
    return fail<Ack>(error, "expected NLMSG_ERROR or NLMSG_DONE, got " + message_type_name(header->type));
  }
  if (message.size() < NLMSG_HDRLEN + sizeof(nlmsgerr)) {
    return fail<Ack>(error, "NLMSG_ERROR of " + std::to_string(message.size()) + " bytes is too short for nlmsgerr");
  }
  nlmsgerr err;
  std::memcpy(&err, message.data() + NLMSG_HDRLEN, sizeof err);
  if (err.error == std::numeric_limits<int>::min())
    return fail<Ack>(error, "NLMSG_ERROR carries error -2147483648, not an errno");
  ack.error = err.error < 0 ? -err.error : err.error;
  ack.acked_seq = err.msg.nlmsg_seq;
  if (header->flags & NLM_F_ACK_TLVS) {
    // The TLVs follow the echoed request: just its header when capped (or on
    // success), the whole request otherwise.
    std::size_t fixed = sizeof(nlmsgerr);
    if (!(header->flags & NLM_F_CAPPED) && err.error != 0 && err.msg.nlmsg_len > NLMSG_HDRLEN) {
      fixed += err.msg.nlmsg_len - NLMSG_HDRLEN;
    }
    if (NLMSG_HDRLEN + NLMSG_ALIGN(fixed) <= message.size()) {
      bool ok = for_each_attribute(attributes_of(message, fixed), error, "NLMSG_ERROR",
                                   [&](std::uint16_t type, auto payload) {
                                     if (type == NLMSGERR_ATTR_MSG) ack.message = read_string(payload);
                                   });
      if (!ok) return std::nullopt;
    }
  }
  return ack;
}

std::optional<LinkMessage> parse_link_message(std::span<const std::uint8_t> message, std::string* error) {
  auto header = parse_header(message, error);
  if (!header) return std::nullopt;
  if (header->type != RTM_NEWLINK && header->type != RTM_DELLINK) {
    return fail<LinkMessage>(error, "expected a link message, got " + message_type_name(header->type));
  }
  const auto ifi = fixed_part<ifinfomsg>(message, error, "link");
  if (!ifi) return std::nullopt;
  LinkMessage out;
  out.header = *header;
  out.index = static_cast<std::uint32_t>(ifi->ifi_index);
  out.flags = ifi->ifi_flags;
  out.change = ifi->ifi_change;
  bool ok = for_each_attribute(attributes_of(message, sizeof(ifinfomsg)), error, "link",
                               [&](std::uint16_t type, auto payload) {
                                 if (type == IFLA_IFNAME) out.name = read_string(payload);
                                 if (type == IFLA_MTU) out.mtu = read_u32(payload).value_or(0);
                               });
  if (!ok) return std::nullopt;
  return out;
}

std::optional<AddressMessage> parse_address_message(std::span<const std::uint8_t> message, std::string* error) {
  auto header = parse_header(message, error);
  if (!header) return std::nullopt;
  if (header->type != RTM_NEWADDR && header->type != RTM_DELADDR) {
    return fail<AddressMessage>(error, "expected an address message, got " + message_type_name(header->type));
  }
  const auto ifa = fixed_part<ifaddrmsg>(message, error, "address");
  if (!ifa) return std::nullopt;
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) {
    return fail<AddressMessage>(error, "address message of family " + std::to_string(ifa->ifa_family));
  }
  AddressMessage out;
  out.header = *header;
  out.index = ifa->ifa_index;
  out.prefix_length = ifa->ifa_prefixlen;
  out.scope = ifa->ifa_scope;
  out.flags = ifa->ifa_flags;
  std::optional<IpAddress> local;
  std::optional<IpAddress> address;
  bool ok = for_each_attribute(attributes_of(message, sizeof(ifaddrmsg)), error, "address",
                               [&](std::uint16_t type, auto payload) {
                                 if (type == IFA_LOCAL) local = IpAddress::from_bytes(payload.data(), payload.size());
                                 if (type == IFA_ADDRESS)
                                   address = IpAddress::from_bytes(payload.data(), payload.size());
                                 if (type == IFA_FLAGS) out.flags = read_u32(payload).value_or(out.flags);
                               });
  if (!ok) return std::nullopt;
  std::optional<IpAddress> chosen = local ? local : address;
  if (!chosen)
    return fail<AddressMessage>(
        error, "address message for link " + std::to_string(out.index) + " carries neither IFA_LOCAL nor IFA_ADDRESS");
  const bool v4 = ifa->ifa_family == AF_INET;
  if (chosen->is_v4() != v4 || out.prefix_length > chosen->bit_width()) {
    return fail<AddressMessage>(error, "address message for link " + std::to_string(out.index) +
                                           " has a mismatched family or prefix length /" +
                                           std::to_string(out.prefix_length));
  }
  out.local = *chosen;
  return out;
}

std::string message_type_name(std::uint16_t type) {
  switch (type) {
    case NLMSG_NOOP:
      return "NLMSG_NOOP";
    case NLMSG_ERROR:
      return "NLMSG_ERROR";
    case NLMSG_DONE:
      return "NLMSG_DONE";
    case NLMSG_OVERRUN:
      return "NLMSG_OVERRUN";
    case RTM_NEWLINK:
      return "RTM_NEWLINK";
    case RTM_DELLINK:
      return "RTM_DELLINK";
    case RTM_NEWADDR:
      return "RTM_NEWADDR";
    case RTM_DELADDR:
      return "RTM_DELADDR";
    case RTM_NEWROUTE:
      return "RTM_NEWROUTE";
    case RTM_DELROUTE:
      return "RTM_DELROUTE";
    case RTM_GETROUTE:
      return "RTM_GETROUTE";
    case RTM_NEWNEXTHOP:
      return "RTM_NEWNEXTHOP";
    case RTM_DELNEXTHOP:
      return "RTM_DELNEXTHOP";
    case RTM_GETNEXTHOP:
      return "RTM_GETNEXTHOP";
    default:
      return "type " + std::to_string(type);
  }
}

}  // namespace hostgw::routing::netlink
