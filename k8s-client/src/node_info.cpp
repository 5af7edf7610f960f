#include "k8s-client/node_info.hpp"

namespace hostgw::k8s {

bool routing_relevant_change(const NodeInfo& before, const NodeInfo& after) {
  return before.name != after.name || before.pod_cidrs != after.pod_cidrs ||
         before.internal_ips != after.internal_ips || before.external_ips != after.external_ips ||
         before.deleting != after.deleting;
}

}  // namespace hostgw::k8s
