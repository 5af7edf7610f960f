#include "controller/desired_state.hpp"

#include <algorithm>

#include "controller/cni_config.hpp"
#include "controller/desired_pod_network.hpp"
#include "controller/subnet_file.hpp"

namespace hostgw::controller {

using routing::RouteKey;

namespace {

// The pod network of the masquerade: --cluster-cidr when given, else every
// podCIDR the routes accepted (other nodes') and this node's own.
std::vector<routing::IpPrefix> masquerade_pod_cidrs(const std::vector<NodeRoute>& routes, const LocalFacts& facts) {
  std::vector<routing::IpPrefix> out = facts.own_cidrs;
  for (const auto& entry : routes) out.push_back(entry.route.destination);
  return out;
}

template <typename Value>
std::vector<routing::IpAddress> keys_of(const std::map<routing::IpAddress, Value>& map) {
  std::vector<routing::IpAddress> out;
  out.reserve(map.size());
  for (const auto& [address, value] : map) out.push_back(address);
  return out;
}

}  // namespace

std::vector<routing::IpAddress> masquerade_node_addresses(const k8s::NodeInfo& node, const DesiredRoutesOptions& options) {
  std::vector<routing::IpAddress> out;
  for (const std::string* text : address_texts(node, options))
    if (auto address = routing::IpAddress::try_parse(*text)) out.push_back(*address);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<routing::Route> via_nexthop_gateways(std::vector<routing::Route> routes,
                                                 const std::vector<routing::Nexthop>& nexthops) {
  std::map<std::uint32_t, const routing::Nexthop*> by_id;
  for (const auto& nexthop : nexthops) by_id.emplace(nexthop.id, &nexthop);
  for (auto& route : routes) {
    if (route.nexthop_id == 0) continue;
    if (auto it = by_id.find(route.nexthop_id); it != by_id.end()) {
      route.gateway = it->second->gateway;
      route.oif = it->second->oif;
    }
  }
  return routes;
}

DesiredState desired_state(const ClusterView& view, const std::string& self, const KernelFacts& kernel,
                           const DesiredStateOptions& options) {
  DesiredState out;
  const k8s::NodeInfo* self_node = view.find(self);
  const PodNetworkOptions& pod_network = options.pod_network;
  out.facts = local_facts(self, self_node, kernel.connected, options.routes);
  // What the holder rule counts as installed: our routes and, while taking
  // over, the routes of --adopt-protocol (flannel's route to a podCIDR makes
  // its node the holder, as ours would).
  std::vector<routing::Route> installed = kernel.owned_nexthops.empty()
                                              ? kernel.owned_routes
                                              : via_nexthop_gateways(kernel.owned_routes, kernel.owned_nexthops);
  installed.insert(installed.end(), kernel.adoptable_routes.begin(), kernel.adoptable_routes.end());
  out.routes = desired_routes(view.nodes(), out.facts, options.routes, installed);
  out.overlay =
      desired_overlay(out.routes.overlay_self, out.routes.overlay_peers, options.vxlan_vni, options.vxlan_port);
  if (pod_network.masquerade) {
    std::map<routing::IpAddress, unsigned> addresses;
    for (const k8s::NodeInfo* node : view.nodes()) {
      auto node_addresses = masquerade_node_addresses(*node, options.routes);
      for (const auto& address : node_addresses) ++addresses[address];
      if (!node_addresses.empty()) out.node_addresses.emplace(node->name, std::move(node_addresses));
    }
    out.masquerade =
        desired_masquerade_sets(options.routes.cluster_cidrs, masquerade_pod_cidrs(out.routes.routes, out.facts),
                                keys_of(addresses), pod_network.no_masquerade_cidrs);
  }
  if (pod_network.own_pod_cidr_routes && !out.facts.own_cidrs.empty()) {
    // Into their places: the routes are sorted by key already (sorting them all
    // again was about half of desired_state's samples in a perf profile of a
    // 5000-node start).
    auto& routes = out.routes.routes;
    for (auto& route :
         desired_own_pod_cidr_routes(out.facts.own_cidrs, options.routes.protocol, options.routes.table)) {
      const auto at = std::upper_bound(
          routes.begin(), routes.end(), key_of(route),
          [](const routing::RouteKey& key, const NodeRoute& entry) { return key < key_of(entry.route); });
      routes.insert(at, NodeRoute{std::move(route), out.facts.self, RoutePath::direct});
    }
  }
  if (pod_network.cni && self_node) {
    CniConflistSpec spec;
    spec.pod_cidrs = out.facts.own_cidrs;
    spec.mtu = choose_pod_mtu(node_link_mtu(self_node, kernel.connected),
                              options.routes.cross_subnet == CrossSubnet::vxlan, pod_network.mtu);
    spec.ipam_data_dir = pod_network.cni_ipam_data_dir;
    out.cni_conflist = render_cni_conflist(spec);
    if (out.cni_conflist) out.pod_mtu = spec.mtu;
  }
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
  node_addresses_ = desired.node_addresses;
  address_count_.clear();
  for (const auto& [name, addresses] : node_addresses_)
    for (const auto& address : addresses) ++address_count_[address];
  valid_ = true;
}

std::optional<netfilter::MasqueradeSets> DesiredModel::masquerade() const {
  if (!options_.pod_network.masquerade) return std::nullopt;
  std::vector<routing::IpPrefix> pods = facts_.own_cidrs;
  for (const auto& [key, entry] : routes_) pods.push_back(key.destination);
  return desired_masquerade_sets(options_.routes.cluster_cidrs, pods, keys_of(address_count_),
                                 options_.pod_network.no_masquerade_cidrs);
}

unsigned DesiredModel::nodes_with_address(const routing::IpAddress& address) const {
  auto it = address_count_.find(address);
  return it == address_count_.end() ? 0 : it->second;
}

std::optional<NodeUpdate> DesiredModel::update_node(std::string_view name, const k8s::NodeInfo* node,
                                                    const PodCidrIndex& index) {
  // This host's own podCIDR or addresses move every other node's checks; a
  // node skipped before may have taken part in an overlap.
  if (!valid_ || name == facts_.self || skipped_.contains(name)) return std::nullopt;
  NodeUpdate update;
  auto keys = node_keys_.find(name);
  // The name the view holds, else (deleted) the model's: shared, not a new copy.
  update.node = node != nullptr ? node->name : keys != node_keys_.end() ? keys->first : k8s::NodeName(name);
  std::vector<RouteKey> old_keys;
  if (keys != node_keys_.end()) old_keys = keys->second;
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
  if (keys != node_keys_.end()) node_keys_.erase(keys);
  if (!new_keys.empty()) node_keys_.emplace(update.node, std::move(new_keys));
  if (options_.pod_network.masquerade) {
    if (auto it = node_addresses_.find(name); it != node_addresses_.end()) {
      update.addresses_before = std::move(it->second);
      node_addresses_.erase(it);
    }
    for (const auto& address : update.addresses_before)
      if (--address_count_[address] == 0) address_count_.erase(address);
    if (node) update.addresses_after = masquerade_node_addresses(*node, options_.routes);
    for (const auto& address : update.addresses_after) ++address_count_[address];
    if (!update.addresses_after.empty()) node_addresses_.emplace(update.node, update.addresses_after);
  }
  return update;
}

}  // namespace hostgw::controller
