#pragma once

// Node values and watch events as the NodeWatcher reports them, for tests.

#include <string>
#include <utility>
#include <vector>

#include "k8s-client/node_info.hpp"

namespace hostgw::test_support {

// A Node with these podCIDRs and addresses (resourceVersion "1" unless given).
inline k8s::NodeInfo node(std::string name, std::vector<std::string> pod_cidrs, std::vector<std::string> internal_ips,
                          std::vector<std::string> external_ips = {}, std::string resource_version = "1") {
  k8s::NodeInfo info;
  info.name = k8s::NodeName(std::move(name));
  info.resource_version = std::move(resource_version);
  info.pod_cidrs = std::move(pod_cidrs);
  info.internal_ips = std::move(internal_ips);
  info.external_ips = std::move(external_ips);
  return info;
}

// An added/modified/deleted event for one node.
inline k8s::NodeEvent node_event(k8s::NodeEvent::Type type, k8s::NodeInfo info) {
  k8s::NodeEvent event;
  event.type = type;
  event.node = std::move(info);
  return event;
}

// A complete list (what a LIST, or a relist, delivers).
inline k8s::NodeEvent node_list(std::vector<k8s::NodeInfo> nodes) {
  k8s::NodeEvent event;
  event.type = k8s::NodeEvent::Type::resynced;
  event.nodes = std::move(nodes);
  return event;
}

}  // namespace hostgw::test_support
