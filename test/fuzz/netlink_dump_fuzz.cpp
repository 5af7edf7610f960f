// Fuzz target: rtnetlink reply parsing (routing/netlink_message.hpp), the
// bytes a dump or an event read from the kernel's socket would carry.
//
// The input is one datagram of any number of netlink messages.
//
// Properties:
//  - for_each_message visits messages that lie inside the datagram, each at
//    least a header long, in order, and stops with a message on bad lengths;
//  - every parser refuses anything it does not understand with a message and
//    never reads outside the message (ASan);
//  - round trip: a parsed route that may be sent (check_route passes) is
//    written as RTM_NEWROUTE by append_route_change and parses back to the same
//    Route, with the sequence number it was given;
//  - parsed values respect their type: prefix lengths within the family width.

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "routing/netlink_message.hpp"

namespace netlink = hostgw::routing::netlink;
using hostgw::routing::ChangeKind;
using hostgw::routing::RouteChange;

namespace {

void check_route_round_trip(const netlink::RouteMessage& parsed) {
  const auto& route = parsed.route;
  KHG_FUZZ_CHECK(route.destination.length() <= route.destination.address().bit_width(), "destination /%u too long",
                 route.destination.length());
  if (!netlink::check_route(route).empty()) return;
  for (ChangeKind kind : {ChangeKind::add, ChangeKind::replace}) {
    std::vector<std::uint8_t> buffer;
    const std::uint32_t seq = 0x5eed0000u + static_cast<std::uint32_t>(kind);
    std::size_t length = netlink::append_route_change(buffer, RouteChange{kind, route}, seq);
    KHG_FUZZ_CHECK(length == buffer.size() && length % 4 == 0 && length <= netlink::kMaxRouteMessageSize,
                   "route message of %zu bytes (buffer %zu)", length, buffer.size());
    std::string error;
    auto back = netlink::parse_route_message(buffer, &error);
    KHG_FUZZ_CHECK(back.has_value(), "own RTM_NEWROUTE for %s does not parse: %s", route.to_string().c_str(),
                   error.c_str());
    KHG_FUZZ_CHECK(back->route == route, "%s came back as %s", route.to_string().c_str(),
                   back->route.to_string().c_str());
    KHG_FUZZ_CHECK(back->header.seq == seq && back->header.type == RTM_NEWROUTE, "header seq/type changed");
  }
}

void visit(const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
  KHG_FUZZ_CHECK(message.size() >= sizeof(nlmsghdr), "message of %zu bytes is shorter than a header", message.size());
  std::string error;
  auto route = netlink::parse_route_message(message, &error);
  KHG_FUZZ_CHECK(route.has_value() || !error.empty(), "route message refused without a message");
  if (route) {
    KHG_FUZZ_CHECK(header.type == RTM_NEWROUTE || header.type == RTM_DELROUTE, "route parsed from %s",
                   netlink::message_type_name(header.type).c_str());
    KHG_FUZZ_CHECK(route->header.seq == header.seq && route->header.type == header.type, "header differs");
    check_route_round_trip(*route);
  }
  error.clear();
  auto link = netlink::parse_link_message(message, &error);
  KHG_FUZZ_CHECK(link.has_value() || !error.empty(), "link message refused without a message");
  if (link) KHG_FUZZ_CHECK(header.type == RTM_NEWLINK || header.type == RTM_DELLINK, "link from another type");
  error.clear();
  auto address = netlink::parse_address_message(message, &error);
  KHG_FUZZ_CHECK(address.has_value() || !error.empty(), "address message refused without a message");
  if (address) KHG_FUZZ_CHECK(header.type == RTM_NEWADDR || header.type == RTM_DELADDR, "address from another type");
  error.clear();
  auto ack = netlink::parse_ack(message, &error);
  KHG_FUZZ_CHECK(ack.has_value() || !error.empty(), "ack refused without a message");
  if (ack) KHG_FUZZ_CHECK(header.type == NLMSG_ERROR || header.type == NLMSG_DONE, "ack from another type");
  (void)netlink::message_type_name(header.type);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> datagram(data, size);
  const std::uint8_t* end = data + size;
  const std::uint8_t* last = data;
  std::string error;
  bool ok = netlink::for_each_message(
      datagram,
      [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
        KHG_FUZZ_CHECK(message.data() >= last && message.data() + message.size() <= end,
                       "message outside the datagram or out of order");
        last = message.data() + message.size();
        visit(header, message);
      },
      &error);
  KHG_FUZZ_CHECK(ok || !error.empty(), "for_each_message failed without a message");
  return 0;
}
