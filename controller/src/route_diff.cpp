#include "controller/route_diff.hpp"

#include <algorithm>
#include <map>

#include "controller/key_diff.hpp"

namespace hostgw::controller {

using routing::ChangeKind;
using routing::Route;
using routing::RouteKey;

std::vector<routing::RouteChange> RouteDiff::changes() const {
  std::vector<routing::RouteChange> out;
  out.reserve(size());
  for (const auto& route : deletes) out.push_back({ChangeKind::remove, route});
  for (const auto& route : replaces) out.push_back({ChangeKind::replace, route});
  for (const auto& route : adds) out.push_back({ChangeKind::add, route});
  return out;
}

RouteDiff diff(const std::vector<Route>& desired, const std::vector<Route>& actual_owned) {
  std::map<RouteKey, Route> wanted;
  for (const auto& route : desired) wanted.emplace(key_of(route), route);
  std::map<RouteKey, std::vector<Route>> actual;
  for (const auto& route : actual_owned) actual[key_of(route)].push_back(route);

  RouteDiff result;
  diff_keys(wanted, actual, [&](ChangeKind kind, const Route& route) {
    switch (kind) {
      case ChangeKind::add:
        result.adds.push_back(route);
        break;
      case ChangeKind::replace:
        result.replaces.push_back(route);
        break;
      case ChangeKind::remove:
        result.deletes.push_back(route);
        break;
    }
  });
  auto by_key = [](const Route& a, const Route& b) {
    if (key_of(a) != key_of(b)) return key_of(a) < key_of(b);
    return a < b;
  };
  std::sort(result.deletes.begin(), result.deletes.end(), by_key);
  return result;
}

}  // namespace hostgw::controller
