#include "routing/overlay_table.hpp"

#include "parse_text.hpp"

namespace hostgw::routing {

namespace {
using detail::hex_value;

[[noreturn]] void refuse(std::string_view text, std::string_view why) {
  throw ParseError("MAC address " + detail::quoted(text) + ": " + std::string(why) +
                   " (expected six colon-separated hex byte pairs, e.g. 0e:68:c6:33:64:0b)");
}

// The first two bytes of every VTEP MAC kube-hostgw derives: 0x0e has the
// locally-administered bit (0x02) set and the multicast bit (0x01) clear;
// 0x68 is 'h' (hostgw). Docker's derived MACs start 02:42, so the two schemes
// never meet even on the same host.
constexpr std::uint8_t kVtepMacPrefix[2] = {0x0e, 0x68};
}  // namespace

MacAddress MacAddress::parse(std::string_view text) {
  if (text.size() != 17) {
    refuse(text, "is " + std::to_string(text.size()) + " characters long, needs 17");
  }
  std::array<std::uint8_t, 6> bytes{};
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != ':') refuse(text, "byte " + std::to_string(i + 1) + " is not preceded by ':'");
    const int high = hex_value(text[at]);
    const int low = hex_value(text[at + 1]);
    if (high < 0 || low < 0) refuse(text, "byte " + std::to_string(i + 1) + " is not two hex digits");
    bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return MacAddress(bytes);
}

std::string MacAddress::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(17);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i > 0) out += ':';
    out += kHex[bytes_[i] >> 4];
    out += kHex[bytes_[i] & 0xf];
  }
  return out;
}

// Why a derived MAC instead of one published through the API (a node
// annotation):
//   - Every node already knows every peer's underlay address from its Node
//     object, so 0e:68:<the 4 address bytes> needs no write, no RBAC `patch`
//     on nodes, and no start-up ordering (a peer's entries can be written
//     before that peer's daemon ever ran).
//   - Unique where it has to be: the MAC only appears on the VXLAN segment
//     (inner Ethernet headers between kube-hostgw VTEPs, and the neighbour/FDB
//     entries on hostgw.vxlan), and every VTEP on that segment derives its MAC
//     the same way from its node's InternalIP. Node addresses are unique in a
//     cluster, and the map address -> MAC is injective, so VTEP MACs are too.
//   - It can never equal a NIC's burned-in address: those are universally
//     administered (bit 0x02 of the first byte clear); ours has it set. The
//     multicast bit (0x01) is clear, so it is a valid unicast source address.
//   - A random MAC the kernel gives a veth elsewhere on the host lives on
//     another link; the bridge/FDB of hostgw.vxlan never sees it.
// IPv6 underlays are not supported by the overlay in this version (the
// addresses do not fit the 4 free bytes injectively): nullopt. IPv6 pods of a
// dual-stack peer ride its IPv4 underlay: their VTEP address maps to this
// same MAC (one FDB entry per peer).
std::optional<MacAddress> vtep_mac(const IpAddress& node_address) {
  if (!node_address.is_v4()) return std::nullopt;
  const std::uint8_t* address = node_address.data();
  return MacAddress({kVtepMacPrefix[0], kVtepMacPrefix[1], address[0], address[1], address[2], address[3]});
}

IpAddress vtep_address(const IpPrefix& pod_cidr) {
  // IpPrefix guarantees the host bits are clear: address() is the first one.
  return pod_cidr.address();
}

}  // namespace hostgw::routing

namespace hostgw::routing {

std::string check_device_spec(const VxlanDeviceSpec& spec) {
  // IFNAMSIZ is 16 including the terminating NUL.
  if (spec.name.empty() || spec.name.size() > 15) {
    return "device name \"" + spec.name + "\" must be 1-15 characters";
  }
  if (spec.name.find_first_of("/ :") != std::string::npos || spec.name == "." || spec.name == "..") {
    return "device name \"" + spec.name + "\" contains '/', ':' or a space";
  }
  if (spec.vni == 0 || spec.vni > 0xffffff) return "VNI " + std::to_string(spec.vni) + " is outside 1-16777215";
  if (spec.port == 0) return "UDP port 0 is not a valid VXLAN destination port";
  if (!spec.local.is_v4() || spec.local.is_unspecified()) {
    return "local address " + spec.local.to_string() +
           " is not a usable IPv4 address (IPv6 underlays are not supported)";
  }
  if (spec.underlay_oif == 0) return "no underlay link (underlay_oif 0)";
  // 68 is the IPv4 minimum MTU (RFC 791); 65535 - 50 the most VXLAN carries over IPv4.
  if (spec.mtu < 68 || spec.mtu > 65535 - kVxlanOverheadV4) {
    return "MTU " + std::to_string(spec.mtu) + " is outside 68-" + std::to_string(65535 - kVxlanOverheadV4);
  }
  const auto& mac = spec.mac.bytes();
  if (mac[0] & 0x01) return "MAC " + spec.mac.to_string() + " is a multicast address";
  if (spec.mac == MacAddress()) return "MAC 00:00:00:00:00:00 is not a valid device address";
  if (!spec.address.address().is_v4() || spec.address.length() != 32) {
    return "VTEP address " + spec.address.to_string() + " is not an IPv4 /32";
  }
  if (spec.address6 && (spec.address6->address().is_v4() || spec.address6->length() != 128)) {
    return "IPv6 VTEP address " + spec.address6->to_string() + " is not an IPv6 /128";
  }
  return {};
}

std::string check_overlay_change(const OverlayChange& change) {
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&change.entry)) {
    if (neighbour->address.is_unspecified() || neighbour->address.is_multicast()) {
      return "neighbour " + neighbour->address.to_string() + " is not a unicast VTEP address";
    }
    if (neighbour->mac.bytes()[0] & 0x01) return "neighbour " + neighbour->address.to_string() + " has a multicast MAC";
    return {};
  }
  const auto& fdb = std::get<FdbEntry>(change.entry);
  if (!fdb.destination.is_v4()) {
    return "FDB entry " + fdb.mac.to_string() + " has IPv6 destination " + fdb.destination.to_string() +
           "; the overlay's underlay is IPv4 only";
  }
  if (fdb.mac.bytes()[0] & 0x01) return "FDB entry " + fdb.mac.to_string() + " is a multicast MAC";
  return {};
}

}  // namespace hostgw::routing
