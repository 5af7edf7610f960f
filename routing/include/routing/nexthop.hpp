#pragma once

// Kernel nexthop objects (linux/nexthop.h, kernels >= 5.3): a next hop stored
// once under a numeric id, that routes refer to with RTA_NH_ID instead of
// carrying RTA_GATEWAY/RTA_OIF themselves. kube-hostgw uses one per routed
// podCIDR (--nexthop-objects): the kernel then files each route under its
// nexthop instead of walking every route on the link, and a node's new
// address is one nexthop replace with the routes untouched.
//
// Ownership and ids:
//   - ours are the nexthops carrying nh_protocol = our route protocol (44);
//     the kernel deletes nexthops by id whoever owns them, so the controller
//     only deletes or replaces ids its dump showed with our protocol;
//   - new ids come from [kNexthopIdFirst, kNexthopIdLast] (0x6b680001..,
//     "kh"), skipping every id the dump showed in use (anyone's); a nexthop of
//     ours keeps whatever id it has (adopted at restart). An id taken by
//     someone between dump and add is refused with EEXIST (NLM_F_EXCL) and the
//     next full pass picks another.

#include <compare>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "routing/ip.hpp"
#include "routing/route.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

inline constexpr std::uint32_t kNexthopIdFirst = 0x6b680001;
inline constexpr std::uint32_t kNexthopIdLast = 0x6b6bffff;

// A single-gateway nexthop object (no groups, blackholes or FDB nexthops:
// kube-hostgw makes none; the dump reports those only as ids in use).
struct Nexthop {
  std::uint32_t id = 0;
  IpAddress gateway;
  std::uint32_t oif = 0;  // NHA_OIF: required by the kernel for a gateway nexthop
  std::uint8_t protocol = kDefaultRouteProtocol;
  bool onlink = false;  // RTNH_F_ONLINK in nh_flags

  Family family() const { return gateway.family(); }
  // "id 1802502145 via 198.51.100.12 dev #3 proto 44"
  std::string to_string() const;

  friend auto operator<=>(const Nexthop&, const Nexthop&) = default;
  friend bool operator==(const Nexthop&, const Nexthop&) = default;
};

struct NexthopChange {
  ChangeKind kind = ChangeKind::add;  // add: NLM_F_EXCL; replace: NLM_F_REPLACE; remove: by id
  Nexthop nexthop;

  friend bool operator==(const NexthopChange&, const NexthopChange&) = default;
};

struct NexthopResult {
  NexthopChange change;
  int error = 0;  // 0 or a positive errno (EEXIST, ENOENT for a remove of an absent id, ...)
  std::string message;
  bool ok() const { return error == 0; }
};

// What RouteTable::dump_nexthops() read. Its error code EOPNOTSUPP: this
// kernel has no nexthop objects; anything else: the dump failed.
struct NexthopDump {
  std::vector<Nexthop> owned;           // single-gateway nexthops of the asked protocol
  std::vector<std::uint32_t> ids_used;  // every id in the table (anyone's), sorted
};

// The first id in [kNexthopIdFirst, kNexthopIdLast] at or after `from` that is
// not in `used` (sorted); 0 when the range is full.
std::uint32_t free_nexthop_id(const std::vector<std::uint32_t>& used, std::uint32_t from = kNexthopIdFirst);

}  // namespace hostgw::routing
