// Fuzz target: the overlay's rtnetlink parsing (routing/netlink_overlay_message.hpp),
// the bytes a link lookup, a neighbour/FDB dump or a neighbour event read from
// the kernel's socket would carry, and ChangeFilter's overlay branch.
//
// The input is one datagram of any number of netlink messages.
//
// Properties:
//  - every parser refuses what it does not understand with a message and never
//    reads outside the message (ASan);
//  - round trip: a parsed IPv4 or IPv6 neighbour / FDB entry that may be sent
//    (check_overlay_change passes) is written by append_overlay_change and
//    parses back to the same entry on the same link;
//  - round trip: a parsed vxlan link whose attributes make a valid spec is
//    written by append_vxlan_create and parses back with the same VNI, port,
//    local address, underlay link, MTU and MAC, learning off;
//  - neighbour_message_index agrees with the parser's ndm_ifindex.
// (ChangeFilter's overlay branch is these same parsers behind an ifindex
// check; it lives in a source with coroutines, which the instrumented fuzz
// build cannot compile, see CMakeLists.txt.)

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "routing/netlink_overlay_message.hpp"

namespace netlink = hostgw::routing::netlink;
using namespace hostgw::routing;

namespace {

void check_entry_round_trip(const netlink::NeighbourMessage& parsed) {
  if (!parsed.destination || !parsed.lladdr) return;
  OverlayEntry entry;
  if (parsed.family == AF_INET || parsed.family == AF_INET6) {
    entry = NeighbourEntry{*parsed.destination, *parsed.lladdr};
  } else if (parsed.family == AF_BRIDGE) {
    entry = FdbEntry{*parsed.lladdr, *parsed.destination};
  } else {
    return;
  }
  const OverlayChange change{ChangeKind::replace, entry};
  if (!check_overlay_change(change).empty()) return;
  std::vector<std::uint8_t> buffer;
  const std::size_t length = netlink::append_overlay_change(buffer, parsed.index, change, 0x5eed);
  KHG_FUZZ_CHECK(length == buffer.size() && length % 4 == 0, "neighbour message of %zu bytes (buffer %zu)", length,
                 buffer.size());
  std::string error;
  auto back = netlink::parse_neighbour_message(buffer, &error);
  KHG_FUZZ_CHECK(back.has_value(), "own RTM_NEWNEIGH does not parse: %s", error.c_str());
  KHG_FUZZ_CHECK(back->index == parsed.index && back->family == parsed.family, "link or family changed");
  KHG_FUZZ_CHECK(back->destination == parsed.destination && back->lladdr == parsed.lladdr, "entry changed");
  KHG_FUZZ_CHECK(back->state == NUD_PERMANENT && back->header.seq == 0x5eed, "state or seq changed");
}

void check_link_round_trip(const netlink::LinkDetails& link) {
  if (link.kind != "vxlan" || !link.local || !link.mac) return;
  VxlanDeviceSpec spec;
  spec.name = link.link.name;
  spec.vni = link.vni;
  spec.port = link.port;
  spec.local = *link.local;
  spec.underlay_oif = link.underlay_oif;
  spec.mtu = link.link.mtu;
  spec.mac = *link.mac;
  spec.address = IpPrefix::parse("10.244.1.0/32");
  if (!check_device_spec(spec).empty()) return;
  std::vector<std::uint8_t> buffer;
  netlink::append_vxlan_create(buffer, spec, 3);
  std::string error;
  auto back = netlink::parse_link_details(buffer, &error);
  KHG_FUZZ_CHECK(back.has_value(), "own vxlan RTM_NEWLINK does not parse: %s", error.c_str());
  KHG_FUZZ_CHECK(back->kind == "vxlan" && back->vni == spec.vni && back->port == spec.port &&
                     back->local == spec.local && back->underlay_oif == spec.underlay_oif &&
                     back->link.mtu == spec.mtu && back->mac == spec.mac && back->learning == false &&
                     back->link.name == spec.name,
                 "vxlan %s came back different", spec.name.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> datagram(data, size);
  std::string error;
  netlink::for_each_message(
      datagram,
      [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
        KHG_FUZZ_CHECK(message.size() >= sizeof(nlmsghdr), "message of %zu bytes", message.size());
        std::string why;
        auto link = netlink::parse_link_details(message, &why);
        KHG_FUZZ_CHECK(link.has_value() || !why.empty(), "link refused without a message");
        if (link) {
          KHG_FUZZ_CHECK(header.type == RTM_NEWLINK || header.type == RTM_DELLINK, "link from type %u", header.type);
          check_link_round_trip(*link);
        }
        why.clear();
        auto neighbour = netlink::parse_neighbour_message(message, &why);
        KHG_FUZZ_CHECK(neighbour.has_value() || !why.empty(), "neighbour refused without a message");
        if (neighbour) {
          KHG_FUZZ_CHECK(header.type == RTM_NEWNEIGH || header.type == RTM_DELNEIGH, "neighbour from type %u",
                         header.type);
          auto index = netlink::neighbour_message_index(message);
          KHG_FUZZ_CHECK(index && *index == neighbour->index, "cheap index differs from the parsed one");
          check_entry_round_trip(*neighbour);
        }
      },
      &error);
  return 0;
}
