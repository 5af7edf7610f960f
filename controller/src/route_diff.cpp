#include "controller/route_diff.hpp"

#include <algorithm>
#include <map>

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
  std::map<RouteKey, std::vector<const Route*>> actual;
  for (const auto& route : actual_owned) actual[key_of(route)].push_back(&route);

  RouteDiff result;
  std::map<RouteKey, const Route*> wanted;
  for (const auto& route : desired) wanted.emplace(key_of(route), &route);

  for (const auto& [key, route] : wanted) {
    auto found = actual.find(key);
    if (found == actual.end()) {
      result.adds.push_back(*route);
      continue;
    }
    const auto& installed = found->second;
    bool present = std::any_of(installed.begin(), installed.end(), [&](const Route* r) { return *r == *route; });
    if (installed.size() == 1 && !present) {
      result.replaces.push_back(*route);
      continue;
    }
    // Several routes under one key: drop every one that is not the wanted route.
    for (const Route* r : installed) {
      if (*r != *route) result.deletes.push_back(*r);
    }
    if (!present) result.adds.push_back(*route);
  }
  for (const auto& [key, installed] : actual) {
    if (wanted.contains(key)) continue;
    for (const Route* r : installed) result.deletes.push_back(*r);
  }
  auto by_key = [](const Route& a, const Route& b) {
    if (key_of(a) != key_of(b)) return key_of(a) < key_of(b);
    return a < b;
  };
  std::sort(result.adds.begin(), result.adds.end(), by_key);
  std::sort(result.replaces.begin(), result.replaces.end(), by_key);
  std::sort(result.deletes.begin(), result.deletes.end(), by_key);
  return result;
}

}  // namespace hostgw::controller
