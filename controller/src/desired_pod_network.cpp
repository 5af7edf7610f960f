#include "controller/desired_pod_network.hpp"

#include <algorithm>

namespace hostgw::controller {

netfilter::MasqueradeSets desired_masquerade_sets(const std::vector<routing::IpPrefix>& cluster_cidrs,
                                                  const std::vector<routing::IpPrefix>& all_node_pod_cidrs,
                                                  const std::vector<routing::IpAddress>& all_node_addresses,
                                                  const std::vector<routing::IpPrefix>& no_masquerade_cidrs) {
  return netfilter::make_masquerade_sets(cluster_cidrs.empty() ? all_node_pod_cidrs : cluster_cidrs, all_node_addresses,
                                         no_masquerade_cidrs);
}

std::vector<routing::Route> desired_own_pod_cidr_routes(const std::vector<routing::IpPrefix>& own_pod_cidrs,
                                                        std::uint8_t protocol, std::uint32_t table,
                                                        std::uint32_t metric) {
  std::vector<routing::Route> routes;
  for (const auto& prefix : own_pod_cidrs) {
    routing::Route route;
    route.destination = prefix;
    route.type = routing::RouteType::unreachable;
    route.protocol = protocol;
    route.table = table;
    route.metric = metric;
    routes.push_back(route);
  }
  std::sort(routes.begin(), routes.end());
  routes.erase(std::unique(routes.begin(), routes.end()), routes.end());
  return routes;
}

}  // namespace hostgw::controller
