#pragma once

// OverlayTable: the VXLAN device kube-hostgw owns for peers that are not on a
// directly connected network (--cross-subnet=vxlan), and the per-peer entries
// on it. routing/netlink_overlay_table.hpp implements it over netlink;
// routing/fake_overlay_table.hpp in memory for tests without root.
//
// The layout, per remote peer P (IPv4 node address U, podCIDR 10.244.P.0/24,
// IPv6 podCIDR 2001:db8:244:P::/64 when dual stack):
//   neighbour  10.244.P.0 lladdr <vtep_mac(U)> dev hostgw.vxlan nud permanent
//   neighbour  2001:db8:244:P:: lladdr <vtep_mac(U)> dev hostgw.vxlan nud permanent
//   fdb        <vtep_mac(U)> dev hostgw.vxlan dst U self permanent
//   route      10.244.P.0/24 via 10.244.P.0 dev hostgw.vxlan onlink proto 44
//   route      2001:db8:244:P::/64 via 2001:db8:244:P:: dev hostgw.vxlan onlink proto 44
// The underlay is IPv4 (one FDB entry per peer carries both families); IPv6
// underlays are not supported (docs/cross-subnet.md says why).
// The routes go through RouteTable like every other route; this interface only
// covers the device and its neighbour/FDB entries. Everything on the device is
// kube-hostgw's: no other owner marks are needed.
//
// Every operation is a coroutine on the caller's io_context; none blocks.
// Errors are values, never exceptions: an operation that fails as a whole
// returns common::Result (the kernel's errno and a message naming the device
// or dump and the step); apply() answers per change.

#include <array>
#include <boost/asio/awaitable.hpp>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "routing/ip.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

inline constexpr std::string_view kVxlanDeviceName = "hostgw.vxlan";
// VXLAN header overhead over IPv4: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14.
inline constexpr std::uint32_t kVxlanOverheadV4 = 50;

class MacAddress {
 public:
  MacAddress() = default;
  explicit MacAddress(const std::array<std::uint8_t, 6>& bytes) : bytes_(bytes) {}
  // "aa:bb:cc:dd:ee:ff" (case-insensitive); throws ParseError naming the text.
  static MacAddress parse(std::string_view text);
  const std::array<std::uint8_t, 6>& bytes() const { return bytes_; }
  std::string to_string() const;  // lower case, colon separated
  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
  friend bool operator==(const MacAddress&, const MacAddress&) = default;

 private:
  std::array<std::uint8_t, 6> bytes_{};
};

// The VTEP MAC a node with underlay address `node_address` uses, derived from
// the address alone so that peers need no API write to learn it: a locally
// administered unicast MAC. Defined (and its choice explained) in
// overlay_table.cpp; nullopt for a family the overlay does not support.
std::optional<MacAddress> vtep_mac(const IpAddress& node_address);

// The VTEP address of a node, per family: the first address of its podCIDR of
// that family (10.244.P.0; 2001:db8:244:P:: for 2001:db8:244:P::/64).
IpAddress vtep_address(const IpPrefix& pod_cidr);

struct VxlanDeviceSpec {
  std::string name{kVxlanDeviceName};
  std::uint32_t vni = 0;
  std::uint16_t port = 0;           // UDP destination port
  IpAddress local;                  // this node's underlay address
  std::uint32_t underlay_oif = 0;   // the link of `local`
  std::uint32_t mtu = 0;            // underlay MTU − kVxlanOverheadV4
  MacAddress mac;                   // vtep_mac(local)
  IpPrefix address;                 // this node's VTEP address as a /32 (10.244.1.0/32)
  // Dual stack: this node's IPv6 VTEP address as a /128 (2001:db8:244:1::/128),
  // added without duplicate address detection (usable at once).
  std::optional<IpPrefix> address6;

  friend bool operator==(const VxlanDeviceSpec&, const VxlanDeviceSpec&) = default;
};

// Empty if the kernel would accept `spec`; else what is wrong with which field
// ("VNI 0 is outside 1-16777215"). Both OverlayTables refuse such a spec
// with EINVAL and this text before touching anything.
std::string check_device_spec(const VxlanDeviceSpec& spec);

// What ensure_device() found and did, once the device matches its spec.
struct EnsuredDevice {
  std::uint32_t index = 0;  // ifindex of the device
  bool created = false;     // created (or recreated) by this call
  bool changed = false;     // an attribute, the address or the up state was fixed
};

// Permanent neighbour entry on the device: VTEP address -> VTEP MAC.
struct NeighbourEntry {
  IpAddress address;
  MacAddress mac;
  friend auto operator<=>(const NeighbourEntry&, const NeighbourEntry&) = default;
  friend bool operator==(const NeighbourEntry&, const NeighbourEntry&) = default;
};

// Permanent FDB entry on the device: VTEP MAC -> peer's underlay address.
struct FdbEntry {
  MacAddress mac;
  IpAddress destination;
  friend auto operator<=>(const FdbEntry&, const FdbEntry&) = default;
  friend bool operator==(const FdbEntry&, const FdbEntry&) = default;
};

using OverlayEntry = std::variant<NeighbourEntry, FdbEntry>;

struct OverlayChange {
  // add and replace both create-or-replace (NLM_F_CREATE|NLM_F_REPLACE);
  // remove deletes the entry.
  ChangeKind kind = ChangeKind::add;
  OverlayEntry entry;
  friend bool operator==(const OverlayChange&, const OverlayChange&) = default;
};

// Empty if `change` can be sent; else why not. Neighbours may be of either
// family; FDB destinations must be IPv4 (the underlay is IPv4 only) and FDB
// MACs unicast. Both OverlayTables answer such a change with EINVAL
// and this text without sending it.
std::string check_overlay_change(const OverlayChange& change);

struct OverlayChangeResult {
  OverlayChange change;
  int error = 0;         // 0 or a positive errno
  std::string message;   // the kernel's extended ACK, if any
  bool ok() const { return error == 0; }
};

struct OverlayDump {
  std::vector<NeighbourEntry> neighbours;  // permanent entries (IPv4 and IPv6) on the device, sorted
  std::vector<FdbEntry> fdb;               // permanent entries with a dst, sorted
};

class OverlayTable {
 public:
  virtual ~OverlayTable() = default;

  // Creates the device if missing; if it exists with another VNI, port, local
  // address or underlay link (or is not a VXLAN device), deletes and recreates
  // it; fixes MTU, MAC, the VTEP addresses (exactly `address` among its IPv4
  // addresses, exactly `address6` or none among its global IPv6 ones) and the
  // up state in place. An error names the device and the step that failed
  // ("device hostgw.vxlan: adding the VTEP address 10.244.1.0/32: File exists");
  // a spec check_device_spec() refuses is EINVAL before anything is touched.
  virtual boost::asio::awaitable<common::Result<EnsuredDevice>> ensure_device(VxlanDeviceSpec spec) = 0;

  // Deletes the device named `name` if it exists (and with it every entry and
  // route on it). Not an error if it does not exist. A device of that name
  // that is not a VXLAN device is left alone: EMEDIUMTYPE.
  virtual boost::asio::awaitable<common::Result<void>> delete_device(std::string name) = 0;

  // The ifindex of the device, if it exists.
  virtual boost::asio::awaitable<std::optional<std::uint32_t>> device_index(std::string name) = 0;

  // Permanent neighbour and FDB entries on device `index`; ENODEV if no
  // device has that index (any more). An error names the dump that failed
  // ("dump of IPv6 neighbours on link 12: Connection timed out").
  virtual boost::asio::awaitable<common::Result<OverlayDump>> dump(std::uint32_t index) = 0;

  // Applies the changes to device `index` as one batch; one result per change,
  // in order. A failed message never stops the others.
  virtual boost::asio::awaitable<std::vector<OverlayChangeResult>> apply(std::uint32_t index,
                                                                         std::vector<OverlayChange> changes) = 0;
};

}  // namespace hostgw::routing
