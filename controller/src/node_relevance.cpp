#include "controller/node_relevance.hpp"

namespace hostgw::controller {

bool routing_relevant_change(const k8s::NodeInfo& before, const k8s::NodeInfo& after) {
  return before.name != after.name || before.pod_cidrs != after.pod_cidrs ||
         before.internal_ips != after.internal_ips || before.external_ips != after.external_ips ||
         before.deleting != after.deleting || before.annotations != after.annotations;
}

}  // namespace hostgw::controller
