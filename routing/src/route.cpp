#include "routing/route.hpp"
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

}  // namespace hostgw::routing
