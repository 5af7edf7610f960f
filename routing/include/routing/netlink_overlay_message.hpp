#pragma once

// The rtnetlink wire format of the VXLAN overlay, as pure functions, beside
// netlink_message.hpp (routes, links, addresses): the VXLAN device
// (RTM_NEWLINK with IFLA_LINKINFO, RTM_DELLINK, RTM_GETLINK by name), its
// VTEP address (RTM_NEWADDR/RTM_DELADDR) and its neighbour and FDB entries
// (RTM_NEWNEIGH/RTM_DELNEIGH/RTM_GETNEIGH, families AF_INET, AF_INET6 and AF_BRIDGE).
//
// Nothing here owns a socket; every function is unit-tested by building bytes
// and parsing them back (test/routing/netlink_overlay_message_test.cpp). Users
// above the routing module never need this header.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "routing/netlink_message.hpp"
#include "routing/overlay_table.hpp"

namespace hostgw::routing::netlink {

// RTM_GETLINK (not a dump) for the link named `name`, without statistics.
std::vector<std::uint8_t> link_get_request(std::string_view name, std::uint32_t seq);
// RTM_GETLINK (not a dump) for the link with ifindex `index`, without statistics.
std::vector<std::uint8_t> link_get_request(std::uint32_t index, std::uint32_t seq);

// RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL creating the VXLAN device `spec`
// describes, up: IFLA_IFNAME, IFLA_MTU, IFLA_ADDRESS, IFLA_LINKINFO
// {IFLA_INFO_KIND "vxlan", IFLA_INFO_DATA {IFLA_VXLAN_ID, IFLA_VXLAN_LOCAL,
// IFLA_VXLAN_LINK, IFLA_VXLAN_PORT (network order), IFLA_VXLAN_LEARNING 0}}.
// The spec must pass check_device_spec(). Returns the message's length.
std::size_t append_vxlan_create(std::vector<std::uint8_t>& buffer, const VxlanDeviceSpec& spec, std::uint32_t seq);

// RTM_NEWLINK (no NLM_F_CREATE) on link `index` setting what is given: MTU,
// MAC, and IFF_UP when `up`. Returns the message's length.
std::size_t append_link_update(std::vector<std::uint8_t>& buffer, std::uint32_t index, std::optional<std::uint32_t> mtu,
                               std::optional<MacAddress> mac, bool up, std::uint32_t seq);

// RTM_DELLINK of link `index`.
std::size_t append_link_delete(std::vector<std::uint8_t>& buffer, std::uint32_t index, std::uint32_t seq);

// RTM_NEWADDR (NLM_F_CREATE|NLM_F_REPLACE) or RTM_DELADDR of `address` on link
// `index`: IFA_LOCAL and IFA_ADDRESS both the prefix's address, scope global;
// an IPv6 address added carries IFA_F_NODAD (ifa_flags and IFA_FLAGS).
std::size_t append_address_change(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t index,
                                  const IpPrefix& address, std::uint32_t seq);
// The same for an address with host bits (`local`/`prefix_length`), as a dump
// reports it: 2001:db8:99::1/64 is deleted as such, not as 2001:db8:99::/64.
std::size_t append_address_change(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t index,
                                  const IpAddress& local, unsigned prefix_length, std::uint32_t seq);

// A link with what the overlay compares: RTM_NEWLINK's IFLA_ADDRESS and
// IFLA_LINKINFO (kind and, for "vxlan", IFLA_INFO_DATA).
struct LinkDetails {
  LinkMessage link;
  std::optional<MacAddress> mac;  // IFLA_ADDRESS when it is 6 bytes
  std::string kind;               // IFLA_INFO_KIND ("vxlan", "dummy", ...), empty if none
  // IFLA_INFO_DATA of a "vxlan" link (absent attributes keep these values).
  std::uint32_t vni = 0;
  std::uint16_t port = 0;  // host byte order
  std::optional<IpAddress> local;
  std::uint32_t underlay_oif = 0;
  std::optional<bool> learning;
};
std::optional<LinkDetails> parse_link_details(std::span<const std::uint8_t> message, std::string* error = nullptr);

// RTM_GETNEIGH|NLM_F_DUMP of one family (AF_INET/AF_INET6 neighbours, AF_BRIDGE FDB)
// filtered to link `index` (NDA_IFINDEX for neighbours, ndm_ifindex for the
// FDB, as the kernel's strict checking reads them).
std::vector<std::uint8_t> neighbour_dump_request(std::uint8_t family, std::uint32_t index, std::uint32_t seq);

// RTM_NEWNEIGH / RTM_DELNEIGH.
struct NeighbourMessage {
  MessageHeader header;
  std::uint8_t family = 0;               // AF_INET, AF_INET6, AF_BRIDGE
  std::uint32_t index = 0;               // ndm_ifindex
  std::uint16_t state = 0;               // NUD_*
  std::uint8_t flags = 0;                // NTF_*
  std::optional<IpAddress> destination;  // NDA_DST
  std::optional<MacAddress> lladdr;      // NDA_LLADDR when it is 6 bytes
};
std::optional<NeighbourMessage> parse_neighbour_message(std::span<const std::uint8_t> message,
                                                        std::string* error = nullptr);

// ndm_ifindex of a neighbour message without parsing its attributes (the
// monitor's cheap pre-filter); nullopt if the message is too short.
std::optional<std::uint32_t> neighbour_message_index(std::span<const std::uint8_t> message);

// Appends one RTM_NEWNEIGH (NLM_F_CREATE|NLM_F_REPLACE, NUD_PERMANENT) or
// RTM_DELNEIGH for an entry on link `index`, with NLM_F_REQUEST|NLM_F_ACK:
//   neighbour: AF_INET or AF_INET6 (the address's family), NDA_DST = VTEP address, NDA_LLADDR = MAC;
//   FDB:       AF_BRIDGE, NTF_SELF, NDA_LLADDR = MAC, NDA_DST = underlay address.
// The change must pass check_overlay_change() (overlay_table.hpp). Returns the message's length.
std::size_t append_overlay_change(std::vector<std::uint8_t>& buffer, std::uint32_t index, const OverlayChange& change,
                                  std::uint32_t seq);

}  // namespace hostgw::routing::netlink
