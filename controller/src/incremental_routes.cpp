#include "controller/incremental_routes.hpp"

#include <algorithm>

namespace hostgw::controller {

using routing::ChangeKind;
using routing::IpPrefix;
using routing::Route;
using routing::RouteKey;

void PodCidrIndex::set(const std::string& node, const std::vector<std::string>& pod_cidrs) {
  erase(node);
  std::vector<IpPrefix> parsed;
  for (const auto& text : pod_cidrs) {
    if (auto cidr = IpPrefix::try_parse(text)) parsed.push_back(*cidr);
  }
  if (parsed.empty()) return;
  for (const auto& cidr : parsed) by_prefix_[cidr].insert(node);
  by_node_.emplace(node, std::move(parsed));
}

void PodCidrIndex::erase(const std::string& node) {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return;
  for (const auto& cidr : it->second) {
    auto entry = by_prefix_.find(cidr);
    if (entry == by_prefix_.end()) continue;
    entry->second.erase(node);
    if (entry->second.empty()) by_prefix_.erase(entry);
  }
  by_node_.erase(it);
}

void PodCidrIndex::rebuild(const ClusterView& view) {
  by_prefix_.clear();
  by_node_.clear();
  for (const auto* node : view.nodes()) set(node->name, node->pod_cidrs);
}

bool PodCidrIndex::overlaps_other(const IpPrefix& cidr, const std::string& node) const {
  auto other_than_node = [&](const std::set<std::string>& nodes) {
    return nodes.size() > 1 || (nodes.size() == 1 && !nodes.contains(node));
  };
  // Prefixes containing it (shorter or equal length): one lookup per length.
  for (unsigned length = 0; length <= cidr.length(); ++length) {
    auto it = by_prefix_.find(IpPrefix::containing(cidr.address(), length));
    if (it != by_prefix_.end() && other_than_node(it->second)) return true;
  }
  // Prefixes inside it: ordered by (address, length), they follow it.
  for (auto it = by_prefix_.upper_bound(cidr); it != by_prefix_.end() && cidr.contains(it->first.address()); ++it) {
    if (other_than_node(it->second)) return true;
  }
  return false;
}

void IncrementalRoutes::reset(std::vector<routing::ConnectedNetwork> connected, const std::vector<Route>& dump,
                              const DesiredRoutes& desired, const std::vector<routing::RouteChange>& applied) {
  connected_ = std::move(connected);
  installed_.clear();
  wanted_.clear();
  node_keys_.clear();
  skipped_.clear();
  for (const auto& route : dump) installed_[key_of(route)].push_back(route);
  for (const auto& change : applied) {
    auto& routes = installed_[key_of(change.route)];
    switch (change.kind) {
      case ChangeKind::add:
        routes.push_back(change.route);
        break;
      case ChangeKind::replace:
        routes = {change.route};
        break;
      case ChangeKind::remove:
        std::erase(routes, change.route);
        break;
    }
    if (routes.empty()) installed_.erase(key_of(change.route));
  }
  installed_count_ = 0;
  for (const auto& [key, routes] : installed_) installed_count_ += routes.size();
  for (std::size_t i = 0; i < desired.routes.size(); ++i) {
    const RouteKey key = key_of(desired.routes[i]);
    wanted_.insert_or_assign(key, Wanted{desired.routes[i], desired.route_nodes[i]});
    node_keys_[desired.route_nodes[i]].push_back(key);
  }
  for (const auto& skip : desired.skipped) {
    if (skip.reason != SkipReason::self) skipped_.insert(skip.node);
  }
  valid_ = true;
}

void IncrementalRoutes::plan_key(const RouteKey& key, std::vector<PlannedChange>& out) {
  auto wanted = wanted_.find(key);
  auto installed = installed_.find(key);
  if (wanted == wanted_.end()) {
    if (installed == installed_.end()) return;
    // The route's node is not known here any more; the Reconciler remembers it.
    for (const auto& route : installed->second) out.push_back({{ChangeKind::remove, route}, {}});
    installed_count_ -= installed->second.size();
    installed_.erase(installed);
    return;
  }
  const Route& route = wanted->second.route;
  const std::string& node = wanted->second.node;
  if (installed == installed_.end()) {
    out.push_back({{ChangeKind::add, route}, node});
    installed_[key] = {route};
    ++installed_count_;
    return;
  }
  auto& routes = installed->second;
  const bool present = std::find(routes.begin(), routes.end(), route) != routes.end();
  if (routes.size() == 1 && !present) {
    out.push_back({{ChangeKind::replace, route}, node});
    routes = {route};
    return;
  }
  for (const auto& other : routes) {
    if (other != route) out.push_back({{ChangeKind::remove, other}, node});
  }
  if (!present) out.push_back({{ChangeKind::add, route}, node});
  installed_count_ = installed_count_ + 1 - routes.size();
  routes = {route};
}

std::optional<std::vector<PlannedChange>> IncrementalRoutes::plan_node(const std::string& name,
                                                                       const k8s::NodeInfo* node,
                                                                       const ClusterView& view,
                                                                       const std::string& self,
                                                                       const DesiredRoutesOptions& options,
                                                                       const PodCidrIndex& index) {
  // This host's own podCIDR or addresses move every other node's checks; a
  // node skipped before may have taken part in an overlap.
  if (!valid_ || name == self || skipped_.contains(name)) return std::nullopt;

  std::vector<RouteKey> old_keys;
  if (auto it = node_keys_.find(name); it != node_keys_.end()) old_keys = it->second;
  // A cross-subnet peer also has neighbour/FDB entries (and maybe the device)
  // to follow: that is the full pass's work.
  for (const auto& key : old_keys) {
    if (auto wanted = wanted_.find(key); wanted != wanted_.end() && wanted->second.route.onlink) return std::nullopt;
  }
  // A podCIDR this node gives up may have kept another node skipped.
  for (const auto& key : old_keys) {
    if (index.overlaps_other(key.destination, name)) return std::nullopt;
  }

  DesiredRoutes desired;
  if (node) {
    // The same rules as a full pass, over this node and this host only.
    std::vector<const k8s::NodeInfo*> nodes{node};
    if (const auto* self_node = view.find(self)) nodes.push_back(self_node);
    desired = desired_routes(nodes, self, connected_, options);
    for (const auto& skip : desired.skipped) {
      if (skip.node == name) return std::nullopt;  // the full pass logs and counts skips
    }
    if (!desired.overlay_peers.empty()) return std::nullopt;
    for (const auto& route : desired.routes) {
      if (index.overlaps_other(route.destination, name)) return std::nullopt;
      auto wanted = wanted_.find(key_of(route));
      if (wanted != wanted_.end() && wanted->second.node != name) return std::nullopt;
    }
  }

  for (const auto& key : old_keys) wanted_.erase(key);
  std::vector<RouteKey> new_keys;
  for (std::size_t i = 0; i < desired.routes.size(); ++i) {
    const RouteKey key = key_of(desired.routes[i]);
    wanted_.insert_or_assign(key, Wanted{desired.routes[i], name});
    new_keys.push_back(key);
  }
  std::vector<RouteKey> keys = old_keys;
  keys.insert(keys.end(), new_keys.begin(), new_keys.end());
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  if (new_keys.empty()) {
    node_keys_.erase(name);
  } else {
    node_keys_[name] = std::move(new_keys);
  }

  std::vector<PlannedChange> changes;
  for (const auto& key : keys) plan_key(key, changes);
  for (auto& planned : changes) {
    if (planned.node.empty()) planned.node = name;
  }
  // Removals first, as in a full pass (they free keys).
  std::stable_partition(changes.begin(), changes.end(),
                        [](const PlannedChange& c) { return c.change.kind == ChangeKind::remove; });
  return changes;
}

std::optional<std::vector<PlannedChange>> IncrementalRoutes::plan_route_events(
    const std::vector<routing::OwnedRouteEvent>& events) {
  if (!valid_) return std::nullopt;
  std::vector<RouteKey> keys;
  for (const auto& event : events) {
    // Someone else added or replaced an owned route: what it displaced is unknown.
    if (!event.deleted) return std::nullopt;
    const RouteKey key = key_of(event.route);
    if (auto it = installed_.find(key); it != installed_.end()) {
      // Not exactly as the model has it (an attribute read differently):
      // assume the key lost every route; an add that meets one gets EEXIST,
      // which makes the full pass look.
      const std::size_t before = it->second.size();
      if (std::erase(it->second, event.route) == 0) it->second.clear();
      installed_count_ -= before - it->second.size();
      if (it->second.empty()) installed_.erase(it);
    }
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  std::vector<PlannedChange> changes;
  for (const auto& key : keys) plan_key(key, changes);
  std::stable_partition(changes.begin(), changes.end(),
                        [](const PlannedChange& c) { return c.change.kind == ChangeKind::remove; });
  return changes;
}

}  // namespace hostgw::controller
