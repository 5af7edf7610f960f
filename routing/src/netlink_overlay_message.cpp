#include "routing/netlink_overlay_message.hpp"

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks.
#include <net/if.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "netlink_attributes.hpp"

namespace hostgw::routing::netlink {

namespace {

// Room for the largest message built here (a VXLAN create: ~140 bytes).
constexpr std::size_t kMaxOverlayMessageSize = 256;

using detail::attributes_of;
using detail::begin_message;
using detail::end_message;
using detail::fail;
using detail::fixed_part;
using detail::read_string;
using detail::read_value;

std::optional<MacAddress> read_mac(std::span<const std::uint8_t> payload) {
  if (payload.size() != 6) return std::nullopt;
  std::array<std::uint8_t, 6> bytes;
  std::memcpy(bytes.data(), payload.data(), bytes.size());
  return MacAddress(bytes);
}

}  // namespace

namespace {

// RTM_GETLINK (not a dump) without statistics, for link `index` or, when
// `name` is not empty, the link of that name.
std::vector<std::uint8_t> link_get(std::uint32_t index, std::string_view name, std::uint32_t seq) {
  std::vector<std::uint8_t> buffer;
  std::size_t start = 0;
  nlmsghdr* header = begin_message(buffer, start, kMaxOverlayMessageSize, RTM_GETLINK, NLM_F_REQUEST, seq);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(index);
  if (!name.empty()) {
    // IFNAMSIZ bounds the name; a longer one is refused by the kernel (ENAMETOOLONG/EINVAL).
    const std::string bounded(name.substr(0, 64));
    mnl_attr_put_strz(header, IFLA_IFNAME, bounded.c_str());
  }
  mnl_attr_put_u32(header, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  end_message(buffer, start, header);
  return buffer;
}

}  // namespace

std::vector<std::uint8_t> link_get_request(std::string_view name, std::uint32_t seq) {
  return link_get(0, name, seq);
}

std::vector<std::uint8_t> link_get_request(std::uint32_t index, std::uint32_t seq) {
  return link_get(index, {}, seq);
}

std::size_t append_vxlan_create(std::vector<std::uint8_t>& buffer, const VxlanDeviceSpec& spec, std::uint32_t seq) {
  std::size_t start = 0;
  nlmsghdr* header = begin_message(buffer, start, kMaxOverlayMessageSize, RTM_NEWLINK,
                                   NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  mnl_attr_put_strz(header, IFLA_IFNAME, spec.name.c_str());
  mnl_attr_put_u32(header, IFLA_MTU, spec.mtu);
  mnl_attr_put(header, IFLA_ADDRESS, spec.mac.bytes().size(), spec.mac.bytes().data());
  nlattr* linkinfo = mnl_attr_nest_start(header, IFLA_LINKINFO);
  mnl_attr_put_strz(header, IFLA_INFO_KIND, "vxlan");
  nlattr* data = mnl_attr_nest_start(header, IFLA_INFO_DATA);
  mnl_attr_put_u32(header, IFLA_VXLAN_ID, spec.vni);
  mnl_attr_put(header, IFLA_VXLAN_LOCAL, spec.local.size(), spec.local.data());
  mnl_attr_put_u32(header, IFLA_VXLAN_LINK, spec.underlay_oif);
  mnl_attr_put_u16(header, IFLA_VXLAN_PORT, htons(spec.port));
  mnl_attr_put_u8(header, IFLA_VXLAN_LEARNING, 0);
  mnl_attr_nest_end(header, data);
  mnl_attr_nest_end(header, linkinfo);
  return end_message(buffer, start, header);
}

std::size_t append_link_update(std::vector<std::uint8_t>& buffer, std::uint32_t index, std::optional<std::uint32_t> mtu,
                               std::optional<MacAddress> mac, bool up, std::uint32_t seq) {
  std::size_t start = 0;
  nlmsghdr* header = begin_message(buffer, start, kMaxOverlayMessageSize, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(index);
  if (up) {
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
  }
  if (mtu) mnl_attr_put_u32(header, IFLA_MTU, *mtu);
  if (mac) mnl_attr_put(header, IFLA_ADDRESS, mac->bytes().size(), mac->bytes().data());
  return end_message(buffer, start, header);
}

std::size_t append_link_delete(std::vector<std::uint8_t>& buffer, std::uint32_t index, std::uint32_t seq) {
  std::size_t start = 0;
  nlmsghdr* header = begin_message(buffer, start, kMaxOverlayMessageSize, RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = static_cast<int>(index);
  return end_message(buffer, start, header);
}

std::size_t append_address_change(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t index,
                                  const IpPrefix& address, std::uint32_t seq) {
  return append_address_change(buffer, add, index, address.address(), address.length(), seq);
}

std::size_t append_address_change(std::vector<std::uint8_t>& buffer, bool add, std::uint32_t index,
                                  const IpAddress& local, unsigned prefix_length, std::uint32_t seq) {
  std::size_t start = 0;
  nlmsghdr* header = begin_message(buffer, start, kMaxOverlayMessageSize, add ? RTM_NEWADDR : RTM_DELADDR,
                                   NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0), seq);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ifaddrmsg)));
  ifa->ifa_family = local.is_v4() ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = static_cast<std::uint8_t>(prefix_length);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = index;
  mnl_attr_put(header, IFA_LOCAL, local.size(), local.data());
  mnl_attr_put(header, IFA_ADDRESS, local.size(), local.data());
  if (add && !local.is_v4()) {
    // A VTEP address is derived from this node's own podCIDR: duplicate
    // address detection has nothing to find and would keep it tentative
    // (unusable as a source) for a second.
    ifa->ifa_flags = IFA_F_NODAD;
    mnl_attr_put_u32(header, IFA_FLAGS, IFA_F_NODAD);
  }
  return end_message(buffer, start, header);
}

std::optional<LinkDetails> parse_link_details(std::span<const std::uint8_t> message, std::string* error) {
  auto link = parse_link_message(message, error);
  if (!link) return std::nullopt;
  LinkDetails out;
  out.link = std::move(*link);
  std::span<const std::uint8_t> info_data;
  bool ok = detail::for_each_attribute(attributes_of(message, sizeof(ifinfomsg)), error, "link",
                                       [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
                                         if (type == IFLA_ADDRESS) out.mac = read_mac(payload);
                                         if (type != IFLA_LINKINFO) return;
                                         // Nested: kind and data. A malformed nest is reported below.
                                         detail::for_each_attribute(
                                             payload, nullptr, "IFLA_LINKINFO",
                                             [&](std::uint16_t inner, std::span<const std::uint8_t> p) {
                                               if (inner == IFLA_INFO_KIND) out.kind = read_string(p);
                                               if (inner == IFLA_INFO_DATA) info_data = p;
                                             });
                                       });
  if (!ok) return std::nullopt;
  if (out.kind != "vxlan" || info_data.empty()) return out;
  std::string problem;
  ok = detail::for_each_attribute(info_data, error, "IFLA_INFO_DATA",
                                  [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
                                    switch (type) {
                                      case IFLA_VXLAN_ID:
                                        out.vni = read_value<std::uint32_t>(payload).value_or(0);
                                        break;
                                      case IFLA_VXLAN_LOCAL:
                                        out.local = IpAddress::from_bytes(payload.data(), payload.size());
                                        if (!out.local)
                                          problem = "IFLA_VXLAN_LOCAL of " + std::to_string(payload.size()) + " bytes";
                                        break;
                                      case IFLA_VXLAN_LOCAL6:
                                        if (!out.local)
                                          out.local = IpAddress::from_bytes(payload.data(), payload.size());
                                        break;
                                      case IFLA_VXLAN_LINK:
                                        out.underlay_oif = read_value<std::uint32_t>(payload).value_or(0);
                                        break;
                                      case IFLA_VXLAN_PORT:
                                        out.port = ntohs(read_value<std::uint16_t>(payload).value_or(0));
                                        break;
                                      case IFLA_VXLAN_LEARNING:
                                        if (auto value = read_value<std::uint8_t>(payload)) out.learning = *value != 0;
                                        break;
                                      default:
                                        break;
                                    }
                                  });
  if (!ok) return std::nullopt;
  if (!problem.empty()) return fail<LinkDetails>(error, "malformed vxlan link " + out.link.name + ": " + problem);
  return out;
}

std::vector<std::uint8_t> neighbour_dump_request(std::uint8_t family, std::uint32_t index, std::uint32_t seq) {
  std::vector<std::uint8_t> buffer;
  std::size_t start = 0;
  nlmsghdr* header =
      begin_message(buffer, start, kMaxOverlayMessageSize, RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP, seq);
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ndmsg)));
  ndm->ndm_family = family;
  if (family == AF_BRIDGE) {
    // The FDB dump reads the port filter from ndm_ifindex (strict checking).
    ndm->ndm_ifindex = static_cast<int>(index);
  } else {
    // The neighbour dump refuses a non-zero ndm_ifindex under strict checking;
    // NDA_IFINDEX carries the filter.
    mnl_attr_put_u32(header, NDA_IFINDEX, index);
  }
  end_message(buffer, start, header);
  return buffer;
}

std::optional<NeighbourMessage> parse_neighbour_message(std::span<const std::uint8_t> message, std::string* error) {
  auto header = parse_header(message, error);
  if (!header) return std::nullopt;
  if (header->type != RTM_NEWNEIGH && header->type != RTM_DELNEIGH) {
    return fail<NeighbourMessage>(error, "expected a neighbour message, got type " + std::to_string(header->type));
  }
  const auto ndm = fixed_part<ndmsg>(message, error, "neighbour");
  if (!ndm) return std::nullopt;
  NeighbourMessage out;
  out.header = *header;
  out.family = ndm->ndm_family;
  out.index = static_cast<std::uint32_t>(ndm->ndm_ifindex);
  out.state = ndm->ndm_state;
  out.flags = ndm->ndm_flags;
  std::string problem;
  bool ok = detail::for_each_attribute(attributes_of(message, sizeof(ndmsg)), error, "neighbour",
                                       [&](std::uint16_t type, std::span<const std::uint8_t> payload) {
                                         if (type == NDA_DST) {
                                           out.destination = IpAddress::from_bytes(payload.data(), payload.size());
                                           if (!out.destination) {
                                             problem = "NDA_DST of " + std::to_string(payload.size()) + " bytes";
                                           }
                                         }
                                         if (type == NDA_LLADDR) out.lladdr = read_mac(payload);
                                       });
  if (!ok) return std::nullopt;
  // An IPv4 neighbour with a 16-byte address (or the reverse) is no entry the
  // kernel would send; taken as it is, it would be written back under the
  // other family.
  if (problem.empty() && out.destination &&
      ((out.family == AF_INET && !out.destination->is_v4()) || (out.family == AF_INET6 && out.destination->is_v4()))) {
    problem = "NDA_DST of " + std::to_string(out.destination->size()) + " bytes in an " +
              (out.family == AF_INET ? "IPv4" : "IPv6") + " neighbour";
  }
  if (!problem.empty()) {
    return fail<NeighbourMessage>(error,
                                  "malformed neighbour message on link " + std::to_string(out.index) + ": " + problem);
  }
  return out;
}

std::optional<std::uint32_t> neighbour_message_index(std::span<const std::uint8_t> message) {
  auto ndm = fixed_part<ndmsg>(message, nullptr, "neighbour");
  if (!ndm) return std::nullopt;
  return static_cast<std::uint32_t>(ndm->ndm_ifindex);
}

std::size_t append_overlay_change(std::vector<std::uint8_t>& buffer, std::uint32_t index, const OverlayChange& change,
                                  std::uint32_t seq) {
  const bool remove = change.kind == ChangeKind::remove;
  std::size_t start = 0;
  nlmsghdr* header = begin_message(buffer, start, kMaxOverlayMessageSize, remove ? RTM_DELNEIGH : RTM_NEWNEIGH,
                                   NLM_F_REQUEST | NLM_F_ACK | (remove ? 0 : NLM_F_CREATE | NLM_F_REPLACE), seq);
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(ndmsg)));
  ndm->ndm_ifindex = static_cast<int>(index);
  ndm->ndm_state = NUD_PERMANENT;
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&change.entry)) {
    ndm->ndm_family = neighbour->address.is_v4() ? AF_INET : AF_INET6;
    mnl_attr_put(header, NDA_DST, neighbour->address.size(), neighbour->address.data());
    mnl_attr_put(header, NDA_LLADDR, neighbour->mac.bytes().size(), neighbour->mac.bytes().data());
  } else {
    const auto& fdb = std::get<FdbEntry>(change.entry);
    ndm->ndm_family = AF_BRIDGE;
    ndm->ndm_flags = NTF_SELF;
    mnl_attr_put(header, NDA_LLADDR, fdb.mac.bytes().size(), fdb.mac.bytes().data());
    mnl_attr_put(header, NDA_DST, fdb.destination.size(), fdb.destination.data());
  }
  return end_message(buffer, start, header);
}

}  // namespace hostgw::routing::netlink
