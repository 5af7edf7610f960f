#include "controller/node_relevance.hpp"

#include <gtest/gtest.h>

namespace hostgw::controller {

using k8s::NodeInfo;
namespace {

NodeInfo node() {
  return NodeInfo{"node-a", "100", {"10.244.1.0/24"}, {"198.51.100.11"}, {}, false, {}};
}

TEST(NodeRelevanceTest, HeartbeatIsNotARoutingChange) {
  NodeInfo after = node();
  after.resource_version = "101";
  EXPECT_FALSE(routing_relevant_change(node(), after));
}

TEST(NodeRelevanceTest, EachRoutingFieldIsAChange) {
  NodeInfo cidr = node(), ip = node(), ext = node(), del = node(), annotation = node();
  cidr.pod_cidrs = {"10.244.9.0/24"};
  ip.internal_ips = {"198.51.100.99"};
  ext.external_ips = {"203.0.113.5"};
  del.deleting = true;
  // Only --address-annotation keys are ever parsed into it: a value there picks the address.
  annotation.annotations = {{"flannel.alpha.coreos.com/public-ip", "198.51.100.111"}};
  for (const NodeInfo& changed : {cidr, ip, ext, del, annotation})
    EXPECT_TRUE(routing_relevant_change(node(), changed));
}

}  // namespace
}  // namespace hostgw::controller
