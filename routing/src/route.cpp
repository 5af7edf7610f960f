#include "routing/route.hpp"

#include <cerrno>

#include "routing/nexthop.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

std::string_view to_string(RouteType type) {
  switch (type) {
    case RouteType::unicast:
      return "unicast";
    case RouteType::unreachable:
      return "unreachable";
  }
  return "unknown";
}

std::string Route::to_string() const {
  std::string out = type == RouteType::unicast ? std::string() : std::string(routing::to_string(type)) + " ";
  out += destination.to_string();
  if (nexthop_id != 0) out += " nhid " + std::to_string(nexthop_id);
  if (gateway) out += " via " + gateway->to_string();
  if (oif != 0) out += " dev #" + std::to_string(oif);
  out += " table " + std::to_string(table);
  out += " proto " + std::to_string(protocol);
  out += " metric " + std::to_string(metric);
  if (onlink) out += " onlink";
  return out;
}

std::string_view to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::add:
      return "add";
    case ChangeKind::replace:
      return "replace";
    case ChangeKind::remove:
      return "delete";
  }
  return "unknown";
}

boost::asio::awaitable<common::Result<NexthopDump>> RouteTable::dump_nexthops(std::uint8_t) {
  co_return common::Error{std::make_error_code(std::errc::operation_not_supported),
                          "dump of nexthops: this route table has no nexthop objects"};
}

boost::asio::awaitable<std::vector<NexthopResult>> RouteTable::apply_nexthops(std::vector<NexthopChange> changes) {
  std::vector<NexthopResult> results;
  results.reserve(changes.size());
  for (auto& change : changes) results.push_back({std::move(change), EOPNOTSUPP, "no nexthop objects in this table"});
  co_return results;
}

}  // namespace hostgw::routing
