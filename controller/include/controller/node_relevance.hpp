#pragma once

// Which node changes matter to the routes: a pure rule over two NodeInfos.

#include "k8s-client/node_info.hpp"

namespace hostgw::controller {

// True if the two differ in a field that can change a route (everything but
// resource_version; the annotations are only the --address-annotation keys,
// whose values choose the address). A kubelet heartbeat changes only
// resource_version.
bool routing_relevant_change(const k8s::NodeInfo& before, const k8s::NodeInfo& after);

}  // namespace hostgw::controller
