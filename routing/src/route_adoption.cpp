#include "routing/route_adoption.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "common/text.hpp"

namespace hostgw::routing {

namespace {

// The names iproute2 ships in rt_protos (and <linux/rtnetlink.h> defines).
constexpr std::array<std::pair<std::uint8_t, std::string_view>, 23> kWellKnown{{
    {0, "unspec"},   {1, "redirect"}, {2, "kernel"},   {3, "boot"},      {4, "static"},   {8, "gated"},
    {9, "ra"},       {10, "mrt"},     {11, "zebra"},   {12, "bird"},     {13, "dnrouted"}, {14, "xorp"},
    {15, "ntk"},     {16, "dhcp"},    {17, "mrouted"}, {18, "keepalived"}, {42, "babel"},  {99, "openr"},
    {186, "bgp"},    {187, "isis"},   {188, "ospf"},   {189, "rip"},     {192, "eigrp"},
}};

std::optional<unsigned> number_of(std::string_view text) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// The number `name` has in an rt_protos text ("3 boot", "0x10 dhcp" is not used by iproute2's files).
std::optional<std::uint8_t> lookup(std::string_view rt_protos, std::string_view name) {
  while (!rt_protos.empty()) {
    const auto newline = rt_protos.find('\n');
    std::string_view line = rt_protos.substr(0, newline);
    rt_protos = newline == std::string_view::npos ? std::string_view{} : rt_protos.substr(newline + 1);
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    const auto gap = line.find_first_of(" \t");
    if (gap == std::string_view::npos) continue;
    auto number = number_of(line.substr(0, gap));
    if (number && *number <= 255 && trim(line.substr(gap)) == name) return static_cast<std::uint8_t>(*number);
  }
  return std::nullopt;
}

}  // namespace

bool RouteAdoption::adopts_protocol(std::uint8_t protocol) const {
  return std::find(protocols.begin(), protocols.end(), protocol) != protocols.end();
}

bool RouteAdoption::adoptable(const Route& route) const {
  if (!adopts_protocol(route.protocol) || route.table != table) return false;
  if (route.type != RouteType::unicast || !route.gateway) return false;
  if (route.destination.is_default()) return false;
  return std::any_of(within.begin(), within.end(), [&](const IpPrefix& cidr) {
    return !cidr.is_default() && cidr.family() == route.family() && cidr.contains(route.destination);
  });
}

boost::asio::awaitable<common::Result<std::vector<Route>>> dump_adoptable(RouteTable& table,
                                                                         const RouteAdoption& adoption) {
  std::vector<Route> routes;
  if (!adoption.enabled()) co_return routes;
  for (std::uint8_t protocol : adoption.protocols) {
    common::Result<std::vector<Route>> dump = co_await table.dump_routes(adoption.table, protocol);
    if (!dump) co_return dump.error();
    for (auto& route : *dump)
      if (adoption.adoptable(route)) routes.push_back(std::move(route));
  }
  co_return std::move(routes);
}

namespace {

using common::quoted;  // common/text.hpp

}  // namespace

std::optional<std::uint8_t> parse_route_protocol(std::string_view text, std::string_view rt_protos,
                                                 std::string* error) {
  if (auto number = number_of(text)) {
    if (*number <= 255) return static_cast<std::uint8_t>(*number);
    if (error) *error = quoted(text) + " is not a protocol number from 0 to 255";
    return std::nullopt;
  }
  for (const auto& [number, name] : kWellKnown)
    if (name == text) return number;
  if (!text.empty()) {
    if (auto number = lookup(rt_protos, text)) return number;
  }
  if (error)
    *error = quoted(text) +
             " is neither a number from 0 to 255 nor a protocol name (boot, static, dhcp, ... or a name "
             "from /etc/iproute2/rt_protos)";
  return std::nullopt;
}

std::string route_protocol_name(std::uint8_t protocol) {
  for (const auto& [number, name] : kWellKnown)
    if (number == protocol) return std::string(name);
  return std::to_string(protocol);
}

}  // namespace hostgw::routing
