#include "controller/desired_state.hpp"

#include <algorithm>

namespace hostgw::controller {

using routing::RouteKey;

DesiredState desired_state(const ClusterView& view, const std::string& self, const KernelFacts& kernel,
                           const DesiredStateOptions& options) {
  DesiredState out;
  out.facts = local_facts(self, view.find(self), kernel.connected, options.routes);
  out.routes = desired_routes(view.nodes(), out.facts, options.routes, kernel.owned_routes);
  out.overlay =
      desired_overlay(out.routes.overlay_self, out.routes.overlay_peers, options.vxlan_vni, options.vxlan_port);
  return out;
}

void DesiredModel::reset(const DesiredState& desired, const DesiredStateOptions& options) {
  facts_ = desired.facts;
  options_ = options;
  routes_.clear();
  node_keys_.clear();
  skipped_.clear();
  for (const auto& entry : desired.routes.routes) {
    const RouteKey key = key_of(entry.route);
    routes_.insert_or_assign(key, entry);
    node_keys_[entry.node].push_back(key);
  }
  for (const auto& skip : desired.routes.skipped) {
    if (skip.reason != SkipReason::self) skipped_.insert(skip.node);
  }
  valid_ = true;
}

std::optional<NodeUpdate> DesiredModel::update_node(const std::string& name, const k8s::NodeInfo* node,
                                                    const PodCidrIndex& index) {
  // This host's own podCIDR or addresses move every other node's checks; a
  // node skipped before may have taken part in an overlap.
  if (!valid_ || name == facts_.self || skipped_.contains(name)) return std::nullopt;
  NodeUpdate update;
  update.node = name;
  std::vector<RouteKey> old_keys;
  if (auto it = node_keys_.find(name); it != node_keys_.end()) old_keys = it->second;
  for (const auto& key : old_keys) {
    // A podCIDR this node gives up may have kept another node skipped.
    if (index.overlaps_other(key.destination, name)) return std::nullopt;
    update.routes_before.push_back(routes_.at(key));
  }
  if (node) {
    // The same per-node rules as a full pass; the overlap between nodes from the index.
    NodeDesired desired = desired_for_node(*node, facts_, options_.routes);
    if (!desired.skipped.empty()) return std::nullopt;  // the full pass logs and counts skips
    for (const auto& entry : desired.routes) {
      if (index.overlaps_other(entry.route.destination, name)) return std::nullopt;
      auto wanted = routes_.find(key_of(entry.route));
      if (wanted != routes_.end() && wanted->second.node != name) return std::nullopt;
    }
    update.routes_after = std::move(desired.routes);
  }
  for (const auto& key : old_keys) routes_.erase(key);
  std::vector<RouteKey> new_keys;
  for (const auto& entry : update.routes_after) {
    new_keys.push_back(key_of(entry.route));
    routes_.insert_or_assign(new_keys.back(), entry);
  }
  if (new_keys.empty()) {
    node_keys_.erase(name);
  } else {
    node_keys_[name] = std::move(new_keys);
  }
  return update;
}

}  // namespace hostgw::controller
