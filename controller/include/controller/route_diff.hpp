#pragma once

// diff(): the changes that turn the routes we own into the routes we want, as
// a pure function over two route sets.

#include <vector>

#include "routing/route.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

struct RouteDiff {
  std::vector<routing::Route> adds;      // key not installed
  std::vector<routing::Route> replaces;  // key installed with another gateway/link/...: the wanted route
  std::vector<routing::Route> deletes;   // installed, owned, and no longer wanted (as installed)

  bool empty() const { return adds.empty() && replaces.empty() && deletes.empty(); }
  std::size_t size() const { return adds.size() + replaces.size() + deletes.size(); }

  // One batch: deletes first (they free keys), then replaces, then adds.
  std::vector<routing::RouteChange> changes() const;
};

// `desired`: one route per key (as desired_routes() returns). `actual_owned`:
// the dump of our table/protocol, any order. When the dump holds several
// routes for one key (IPv6 keeps one per gateway), the ones that differ from
// the wanted route are deleted and the wanted one is added or kept.
// Results are sorted by key.
RouteDiff diff(const std::vector<routing::Route>& desired, const std::vector<routing::Route>& actual_owned);

}  // namespace hostgw::controller
