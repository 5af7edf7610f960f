#pragma once

// The rtnetlink wire format kube-hostgw speaks, as pure functions: Route
// changes -> RTM_NEWROUTE/RTM_DELROUTE bytes, dump requests -> bytes, and the
// kernel's replies (routes, links, addresses, ACKs) -> values.
//
// Nothing here owns a socket or talks to the kernel; every function is
// unit-tested by building bytes and parsing them back. The sockets live in
// netlink_socket.hpp. Users above the routing module never need this header.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "routing/ip.hpp"
#include "routing/route.hpp"
#include "routing/route_table.hpp"

struct nlmsghdr;

namespace hostgw::routing::netlink {

// Room one route change needs at most (header + rtmsg + 6 attributes).
inline constexpr std::size_t kMaxRouteMessageSize = 128;

// kIpv6DefaultMetric (routing/route.hpp): the parser reports what the kernel holds.

// Empty if `route` can be sent; else why not ("gateway 2001:db8::1 is IPv6 but
// destination 10.244.1.0/24 is IPv4").
std::string check_route(const Route& route);

// Appends one RTM_NEWROUTE (add: NLM_F_CREATE|NLM_F_EXCL, replace:
// NLM_F_CREATE|NLM_F_REPLACE) or RTM_DELROUTE (carrying rtm_protocol, table,
// destination and metric; no gateway, so any next hop of OUR route matches)
// with NLM_F_REQUEST|NLM_F_ACK and sequence number `seq`. Attributes: RTA_DST,
// RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTA_TABLE (rtm_table carries tables
// below 256 too); RTNH_F_ONLINK in rtm_flags when route.onlink; rtm_type
// RTN_UNICAST or RTN_UNREACHABLE (route.type, in deletes too). The route must
// pass check_route(). Returns the message's length (a multiple of 4).
std::size_t append_route_change(std::vector<std::uint8_t>& buffer, const RouteChange& change, std::uint32_t seq);

// RTM_GETROUTE|NLM_F_DUMP for one family. rtm_table/rtm_protocol and
// RTA_TABLE carry the filter the kernel applies under NETLINK_GET_STRICT_CHK.
std::vector<std::uint8_t> route_dump_request(Family family, std::uint32_t table, std::uint8_t protocol,
                                             std::uint32_t seq);
// RTM_GETLINK|NLM_F_DUMP and RTM_GETADDR|NLM_F_DUMP (all families).
std::vector<std::uint8_t> link_dump_request(std::uint32_t seq);
std::vector<std::uint8_t> address_dump_request(std::uint32_t seq);

// Header fields every parsed message carries.
struct MessageHeader {
  std::uint16_t type = 0;   // nlmsg_type (RTM_NEWROUTE, NLMSG_ERROR, ...)
  std::uint16_t flags = 0;  // nlmsg_flags (NLM_F_MULTI, NLM_F_DUMP_INTR, ...)
  std::uint32_t seq = 0;
  std::uint32_t port = 0;  // nlmsg_pid: the requester's port for echoes of its changes, 0 for the kernel's own
};

// Calls `visit(header, message)` for each netlink message in `datagram`, where
// `message` spans the whole message (header included). Returns false, with
// `error` set, if a length field is inconsistent (the rest is not visited).
template <typename Visit>
bool for_each_message(std::span<const std::uint8_t> datagram, Visit&& visit, std::string* error = nullptr);

std::optional<MessageHeader> parse_header(std::span<const std::uint8_t> message, std::string* error = nullptr);

// RTM_NEWROUTE / RTM_DELROUTE.
struct RouteMessage {
  MessageHeader header;
  Route route;                    // gateway/oif unset for multipath routes
  std::uint8_t route_type = 0;    // rtm_type: RTN_UNICAST=1, RTN_LOCAL=2, ...
  std::uint32_t route_flags = 0;  // rtm_flags (RTM_F_CLONED, RTNH_F_ONLINK, ...)
  std::uint8_t scope = 0;
  // rtm_tos, part of an IPv4 route's key: kube-hostgw's routes have 0, and a
  // route with another one is never taken for one of them (nor adopted).
  std::uint8_t tos = 0;
  bool multipath = false;
  std::optional<IpAddress> preferred_source;  // RTA_PREFSRC (lookups answer with it)
  // A plain unicast route: what kube-hostgw owns. Not cloned/cached, not
  // local/broadcast/blackhole, not multipath, tos 0.
  bool is_plain_unicast() const;
  // The kinds kube-hostgw programs: a plain unicast route, or an unreachable
  // one (route.type says which; its oif is cleared, IPv6 reports `lo`).
  bool is_plain_unicast_or_unreachable() const;
};
std::optional<RouteMessage> parse_route_message(std::span<const std::uint8_t> message, std::string* error = nullptr);

// NLMSG_ERROR (an ACK when error == 0) or NLMSG_DONE (error = the int it carries).
struct Ack {
  MessageHeader header;
  std::uint32_t acked_seq = 0;  // seq of the request this answers
  int error = 0;                // positive errno, 0 for success
  std::string message;          // NLMSGERR_ATTR_MSG, if the kernel sent one
};
std::optional<Ack> parse_ack(std::span<const std::uint8_t> message, std::string* error = nullptr);

// RTM_NEWLINK / RTM_DELLINK.
struct LinkMessage {
  MessageHeader header;
  std::uint32_t index = 0;
  std::uint32_t flags = 0;   // IFF_UP, IFF_RUNNING, IFF_LOOPBACK, ...
  std::uint32_t change = 0;  // ifi_change: flags that changed (0 on carrier/stat updates)
  std::string name;
  std::uint32_t mtu = 0;
};
std::optional<LinkMessage> parse_link_message(std::span<const std::uint8_t> message, std::string* error = nullptr);

// RTM_NEWADDR / RTM_DELADDR.
struct AddressMessage {
  MessageHeader header;
  std::uint32_t index = 0;
  std::uint8_t prefix_length = 0;
  std::uint8_t scope = 0;   // RT_SCOPE_UNIVERSE=0 (global), RT_SCOPE_LINK=253, RT_SCOPE_HOST=254
  std::uint32_t flags = 0;  // IFA_F_*
  IpAddress local;          // IFA_LOCAL, else IFA_ADDRESS
};
std::optional<AddressMessage> parse_address_message(std::span<const std::uint8_t> message,
                                                    std::string* error = nullptr);

// Short text for a message type: "RTM_NEWROUTE", "NLMSG_ERROR", "type 99".
std::string message_type_name(std::uint16_t type);

// --- template implementation ----------------------------------------------

namespace detail {
// Length of the message at the front of `datagram`, 0 if none fits
// (malformed sets `error`), and the aligned distance to the next message.
bool next_message(std::span<const std::uint8_t> datagram, std::size_t& length, std::size_t& advance,
                  std::string* error);
}  // namespace detail

template <typename Visit>
bool for_each_message(std::span<const std::uint8_t> datagram, Visit&& visit, std::string* error) {
  while (!datagram.empty()) {
    std::size_t length = 0;
    std::size_t advance = 0;
    if (!detail::next_message(datagram, length, advance, error)) return false;
    std::span<const std::uint8_t> message = datagram.first(length);
    auto header = parse_header(message, error);
    if (!header) return false;
    visit(*header, message);
    datagram = datagram.subspan(advance);
  }
  return true;
}

}  // namespace hostgw::routing::netlink
