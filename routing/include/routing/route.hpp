#pragma once

// The Route value: one entry of a kernel routing table, reduced to the fields
// kube-hostgw programs and compares. Sets of Routes are diffed by the
// controller, so equality and ordering cover every field.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "routing/ip.hpp"

namespace hostgw::routing {

// Kernel constants, repeated here so users of this header need no <linux/rtnetlink.h>.
inline constexpr std::uint32_t kMainTable = 254;        // RT_TABLE_MAIN
inline constexpr std::uint8_t kDefaultRouteProtocol = 44;  // kube-hostgw's own rtm_protocol (see docs)
// The IPv6 kernel stores metric 0 as 1024 (IP6_RT_PRIO_USER) and dumps it as
// 1024. Callers that diff against a dump send IPv6 routes with metric 1024
// explicitly (the controller does), so that they compare equal.
inline constexpr std::uint32_t kIpv6DefaultMetric = 1024;

// rtm_type of a route kube-hostgw programs. `unicast` forwards (via a gateway
// or out of a link); `unreachable` refuses: the kernel answers senders with
// ICMP "host unreachable" (IPv6: "no route") and never consults a shorter
// prefix. An unreachable route has neither gateway nor output link.
enum class RouteType : std::uint8_t {
  unicast,      // RTN_UNICAST
  unreachable,  // RTN_UNREACHABLE
};
std::string_view to_string(RouteType type);

struct Route {
  IpPrefix destination;
  // The next hop; nullopt for a directly connected (scope link) route.
  std::optional<IpAddress> gateway;
  // Output link index (ifindex); 0 means "let the kernel choose".
  std::uint32_t oif = 0;
  std::uint32_t table = kMainTable;
  // rtm_protocol: who owns the route. kube-hostgw only ever deletes routes that carry its own.
  std::uint8_t protocol = kDefaultRouteProtocol;
  // RTA_PRIORITY. 0 is the kernel default.
  std::uint32_t metric = 0;
  // RTNH_F_ONLINK: the gateway is on the link even if no connected prefix says so.
  bool onlink = false;
  // Last, so that brace-initialised Routes elsewhere keep their meaning.
  RouteType type = RouteType::unicast;
  // RTA_NH_ID: the route goes through this nexthop object (routing/nexthop.hpp)
  // and carries no gateway, output link or onlink flag of its own; 0: none.
  std::uint32_t nexthop_id = 0;

  Family family() const { return destination.family(); }

  // e.g. "10.244.2.0/24 via 198.51.100.12 dev #3 table 254 proto 44 metric 0",
  // "10.244.2.0/24 nhid 1802502145 table 254 proto 44 metric 0",
  // "unreachable 10.244.1.0/24 table 254 proto 44 metric 4278198272"
  std::string to_string() const;

  friend auto operator<=>(const Route&, const Route&) = default;
  friend bool operator==(const Route&, const Route&) = default;
};

// Routes are identified in the kernel by (table, family, destination, metric):
// two Routes with the same key cannot both be installed. Used to tell a
// "replace" (same key, other gateway/link) from an "add".
struct RouteKey {
  std::uint32_t table = kMainTable;
  IpPrefix destination;
  std::uint32_t metric = 0;

  friend auto operator<=>(const RouteKey&, const RouteKey&) = default;
  friend bool operator==(const RouteKey&, const RouteKey&) = default;
};

inline RouteKey key_of(const Route& route) { return {route.table, route.destination, route.metric}; }

}  // namespace hostgw::routing
