#pragma once

// RouteAdoption (--adopt-protocol): which routes of another protocol kube-hostgw
// takes over as its own, e.g. the `proto boot` routes flannel's host-gw
// backend or kindnet leave in table main. A route is adoptable only when all
// hold: its protocol is listed, it is in our table, it is a plain unicast route
// with a gateway (never a connected `proto kernel` route, an unreachable or a
// blackhole one), and its destination is no default route and lies inside one
// of the cluster CIDRs. Nothing else is ever taken over, whatever the flags say.
//
// Also the protocol names of /etc/iproute2/rt_protos, for the flag and the log.
// Pure but for dump_adoptable(), which only reads.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/ip.hpp"
#include "routing/route.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

struct RouteAdoption {
  std::vector<std::uint8_t> protocols;  // --adopt-protocol; empty: nothing is adopted
  std::uint32_t table = kMainTable;     // --route-table
  std::vector<IpPrefix> within;         // --cluster-cidr

  bool enabled() const { return !protocols.empty() && !within.empty(); }
  bool adopts_protocol(std::uint8_t protocol) const;
  // The rule above, for one route as a dump or an event shows it.
  bool adoptable(const Route& route) const;
};

// The adoptable routes now in the kernel: one dump per listed protocol,
// filtered by RouteAdoption::adoptable(). The first failed dump fails it all.
boost::asio::awaitable<common::Result<std::vector<Route>>> dump_adoptable(RouteTable& table,
                                                                         const RouteAdoption& adoption);

// A protocol given as a number (0-255) or a name: the kernel's well-known
// ones (boot, static, dhcp, bird, ...) or one of `rt_protos` (the text of an
// iproute2 rt_protos file: "NUMBER NAME" lines, '#' comments). nullopt and
// `*error` when it is neither.
std::optional<std::uint8_t> parse_route_protocol(std::string_view text, std::string_view rt_protos,
                                                 std::string* error = nullptr);

// "boot" for 3, "static" for 4, ...; the number as text when it has no well-known name.
std::string route_protocol_name(std::uint8_t protocol);

}  // namespace hostgw::routing
