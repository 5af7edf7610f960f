// The desired-state model: the full computation and the single-node update
// share the per-node code, and DesiredModel refuses what only a full pass can say.

#include "controller/desired_state.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "controller/desired_pod_network.hpp"

#include "test-support/node_factory.hpp"

namespace hostgw::controller {
namespace {

using routing::IpAddress;
using routing::IpPrefix;
using test_support::node;

class DesiredStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    view_.apply(test_support::node_list({
        node("a", {"10.244.1.0/24", "2001:db8:1::/64"}, {"198.51.100.11", "2001:db8:ffff::11"}),
        node("b", {"10.244.2.0/24", "2001:db8:2::/64"}, {"198.51.100.12", "2001:db8:ffff::12"}),
        node("c", {"10.244.3.0/24"}, {"203.0.113.13"}),  // another subnet
        node("d", {}, {"198.51.100.14"}),                // no podCIDR yet
        node("e", {"10.99.5.0/24"}, {"198.51.100.15"}),  // outside the cluster CIDR
        node("f", {"10.244.6.0/24", "10.244.60.0/24"}, {"198.51.100.16"}),
    }));
    index_.rebuild(view_);
    options_.routes.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8::/32")};
    kernel_.connected = {
        {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500},
        {IpPrefix::parse("2001:db8:ffff::/64"), IpAddress::parse("2001:db8:ffff::11"), 2, "eth0", 1500}};
  }

  ClusterView view_;
  PodCidrIndex index_;
  DesiredStateOptions options_;
  KernelFacts kernel_;
};

TEST_F(DesiredStateTest, EachNodesShareIsWhatThePerNodeCodeSays) {
  DesiredState full = desired_state(view_, "a", kernel_, options_);
  ASSERT_EQ(full.routes.routes.size(), 4u);  // b (v4, v6), f (two podCIDRs)
  for (const auto* info : view_.nodes()) {
    NodeDesired share = desired_for_node(*info, full.facts, options_.routes);
    std::vector<NodeRoute> routes;
    for (const auto& entry : full.routes.routes)
      if (entry.node == info->name) routes.push_back(entry);
    std::vector<SkippedNode> skipped;
    for (const auto& skip : full.routes.skipped)
      if (skip.node == info->name) skipped.push_back(skip);
    EXPECT_EQ(share.routes, routes) << info->name;
    EXPECT_EQ(share.skipped, skipped) << info->name;
  }
}

TEST_F(DesiredStateTest, ModelUpdatesOneNodeAndRefusesWhatNeedsEveryNode) {
  DesiredModel model;
  EXPECT_FALSE(model.update_node("b", view_.find("b"), index_));  // no full pass yet
  model.reset(desired_state(view_, "a", kernel_, options_), options_);

  auto moved = node("f", {"10.244.7.0/24"}, {"198.51.100.16"});
  index_.set("f", moved.pod_cidrs);
  auto update = model.update_node("f", &moved, index_);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->node, "f");
  ASSERT_EQ(update->routes_before.size(), 2u);
  ASSERT_EQ(update->routes_after.size(), 1u);
  EXPECT_EQ(update->routes_after[0].route.destination, IpPrefix::parse("10.244.7.0/24"));
  EXPECT_EQ(model.routes().size(), 3u);
  EXPECT_FALSE(model.routes().contains({routing::kMainTable, IpPrefix::parse("10.244.6.0/24"), 0}));

  update = model.update_node("b", nullptr, index_);  // deleted
  ASSERT_TRUE(update);
  EXPECT_EQ(update->routes_before.size(), 2u);
  EXPECT_TRUE(update->routes_after.empty());

  EXPECT_FALSE(model.update_node("a", view_.find("a"), index_));  // this node
  EXPECT_FALSE(model.update_node("e", view_.find("e"), index_));  // skipped by the full pass
  auto newcomer = node("g", {"10.244.7.128/25"}, {"198.51.100.17"});
  index_.set("g", newcomer.pod_cidrs);
  EXPECT_FALSE(model.update_node("g", &newcomer, index_));  // overlaps f's podCIDR
  model.invalidate();
  EXPECT_FALSE(model.valid());
  EXPECT_TRUE(model.routes().empty());  // dropped, not only flagged: a full pass builds the next one
  EXPECT_FALSE(model.update_node("f", &moved, index_));
}

// Names are kept once (k8s::NodeName): the desired state, the model and a
// node's update hold the view's names, not copies of their text.
TEST_F(DesiredStateTest, TheModelHoldsTheViewsNamesNotCopies) {
  options_.pod_network.own_pod_cidr_routes = true;
  DesiredState full = desired_state(view_, "a", kernel_, options_);
  EXPECT_TRUE(full.facts.self.shares(view_.find("a")->name));
  ASSERT_FALSE(full.routes.routes.empty());
  for (const auto& entry : full.routes.routes)
    EXPECT_TRUE(entry.node.shares(view_.find(entry.node)->name)) << entry.node;
  ASSERT_FALSE(full.routes.skipped.empty());  // d (no podCIDR) and e (outside the cluster CIDR)
  for (const auto& skip : full.routes.skipped) EXPECT_TRUE(skip.node.shares(view_.find(skip.node)->name)) << skip.node;
  DesiredModel model;
  model.reset(full, options_);
  for (const auto& [key, entry] : model.routes()) EXPECT_TRUE(entry.node.shares(view_.find(entry.node)->name));

  auto update = model.update_node("b", view_.find("b"), index_);
  ASSERT_TRUE(update);
  EXPECT_TRUE(update->node.shares(view_.find("b")->name));
  for (const auto& entry : update->routes_after) EXPECT_TRUE(entry.node.shares(view_.find("b")->name));
  // Deleted: the view no longer has it; the update names it with the model's.
  const k8s::NodeName f = view_.find("f")->name;
  update = model.update_node("f", nullptr, index_);
  ASSERT_TRUE(update);
  EXPECT_TRUE(update->node.shares(f));
}

TEST_F(DesiredStateTest, OwnPodCidrsGetUnreachableRoutesOfOursAmongTheRoutes) {
  EXPECT_EQ(desired_state(view_, "a", kernel_, options_).routes.routes.size(), 4u);  // off: none
  options_.pod_network.own_pod_cidr_routes = true;
  DesiredState full = desired_state(view_, "a", kernel_, options_);
  ASSERT_EQ(full.routes.routes.size(), 6u);
  std::vector<routing::Route> own;
  for (const auto& entry : full.routes.routes)
    if (entry.node == "a") own.push_back(entry.route);
  ASSERT_EQ(own.size(), 2u);
  EXPECT_EQ(own[0].destination, IpPrefix::parse("10.244.1.0/24"));
  EXPECT_EQ(own[1].destination, IpPrefix::parse("2001:db8:1::/64"));
  for (const auto& route : own) {
    EXPECT_EQ(route.type, routing::RouteType::unreachable);
    EXPECT_EQ(route.protocol, options_.routes.protocol);
    EXPECT_EQ(route.metric, kOwnPodCidrMetric);
    EXPECT_FALSE(route.gateway);
  }
  for (std::size_t i = 1; i < full.routes.routes.size(); ++i)
    EXPECT_LT(key_of(full.routes.routes[i - 1].route), key_of(full.routes.routes[i].route));
  // The model keeps them: a step for another node leaves them wanted.
  DesiredModel model;
  model.reset(full, options_);
  EXPECT_TRUE(model.routes().contains({routing::kMainTable, IpPrefix::parse("10.244.1.0/24"), kOwnPodCidrMetric}));
}

TEST_F(DesiredStateTest, ConflistOnlyWithTheFlagAndAPodCidr) {
  EXPECT_FALSE(desired_state(view_, "a", kernel_, options_).cni_conflist);
  options_.pod_network.cni = true;
  DesiredState with = desired_state(view_, "a", kernel_, options_);
  ASSERT_TRUE(with.cni_conflist);
  EXPECT_NE(with.cni_conflist->find("2001:db8:1::/64"), std::string::npos);
  EXPECT_EQ(with.pod_mtu, 1500u);
  EXPECT_FALSE(desired_state(view_, "d", kernel_, options_).cni_conflist);  // no podCIDR yet
  options_.routes.cross_subnet = CrossSubnet::vxlan;
  EXPECT_EQ(desired_state(view_, "a", kernel_, options_).pod_mtu, 1450u);
}

TEST_F(DesiredStateTest, MasqueradeSetsFromEveryNodeAndTheModelFollowsOneNode) {
  EXPECT_FALSE(desired_state(view_, "a", kernel_, options_).masquerade);
  options_.pod_network.masquerade = true;
  options_.routes.cluster_cidrs.clear();
  DesiredState full = desired_state(view_, "a", kernel_, options_);
  ASSERT_TRUE(full.masquerade);
  // Addresses of every node, skipped ones included; podCIDRs only as routed (and ours).
  EXPECT_EQ(full.masquerade->node_addresses.size(), 8u);
  const auto& pods = full.masquerade->pod_cidrs;
  EXPECT_NE(std::find(pods.begin(), pods.end(), IpPrefix::parse("10.244.1.0/24")), pods.end());
  EXPECT_NE(std::find(pods.begin(), pods.end(), IpPrefix::parse("2001:db8:2::/64")), pods.end());
  EXPECT_EQ(std::find(pods.begin(), pods.end(), IpPrefix::parse("10.244.3.0/24")), pods.end());  // c: skipped

  DesiredModel model;
  model.reset(full, options_);
  EXPECT_EQ(model.masquerade(), full.masquerade);
  auto newcomer = node("g", {"10.244.7.0/24"}, {"198.51.100.17"});
  index_.set("g", newcomer.pod_cidrs);
  auto update = model.update_node("g", &newcomer, index_);
  ASSERT_TRUE(update);
  EXPECT_TRUE(update->addresses_before.empty());
  EXPECT_EQ(update->addresses_after, std::vector<IpAddress>{IpAddress::parse("198.51.100.17")});
  view_.apply(test_support::node_event(k8s::NodeEvent::Type::added, newcomer));
  EXPECT_EQ(model.masquerade(), desired_state(view_, "a", kernel_, options_).masquerade);
}

TEST_F(DesiredStateTest, MasqueradeExemptsTheAnnotatedAddressesPeersRouteBy) {
  // flannel's public-ip annotation differs from the InternalIP: pods reaching the
  // node at either address keep their source address.
  auto annotated = node("g", {"10.244.7.0/24"}, {"198.51.100.17"});
  annotated.annotations = {{"flannel.alpha.coreos.com/public-ip", "198.51.100.117"},
                           {"example.com/other", "203.0.113.99"},
                           {"flannel.alpha.coreos.com/public-ip-overwrite", "not an address"}};
  options_.routes.address_annotations = {"flannel.alpha.coreos.com/public-ip-overwrite",
                                         "flannel.alpha.coreos.com/public-ip"};
  EXPECT_EQ(masquerade_node_addresses(annotated, options_.routes),
            (std::vector<IpAddress>{IpAddress::parse("198.51.100.17"), IpAddress::parse("198.51.100.117")}));
  options_.routes.address_annotations.clear();
  EXPECT_EQ(masquerade_node_addresses(annotated, options_.routes),
            std::vector<IpAddress>{IpAddress::parse("198.51.100.17")});
  // ExternalIPs only where peers may route by them.
  annotated.external_ips = {"203.0.113.17"};
  EXPECT_EQ(masquerade_node_addresses(annotated, options_.routes),
            std::vector<IpAddress>{IpAddress::parse("198.51.100.17")});
  options_.routes.address_types = AddressTypes::internal_then_external;
  EXPECT_EQ(masquerade_node_addresses(annotated, options_.routes),
            (std::vector<IpAddress>{IpAddress::parse("198.51.100.17"), IpAddress::parse("203.0.113.17")}));
  options_.routes.address_types = AddressTypes::internal_only;
  annotated.external_ips.clear();

  options_.routes.address_annotations = {"flannel.alpha.coreos.com/public-ip"};
  options_.pod_network.masquerade = true;
  DesiredModel model;
  model.reset(desired_state(view_, "a", kernel_, options_), options_);
  index_.set("g", annotated.pod_cidrs);
  auto update = model.update_node("g", &annotated, index_);
  ASSERT_TRUE(update);
  EXPECT_EQ(update->addresses_after,
            (std::vector<IpAddress>{IpAddress::parse("198.51.100.17"), IpAddress::parse("198.51.100.117")}));
}

TEST_F(DesiredStateTest, ARouteBeingTakenOverMakesItsNodeTheHolderOfAnOverlap) {
  // h claims f's podCIDR 10.244.6.0/24 too. Without an installed route both are
  // skipped; flannel's boot route to it via f (adoptable) makes f the holder.
  view_.apply(test_support::node_event(k8s::NodeEvent::Type::added,
                                       node("h", {"10.244.6.0/24"}, {"198.51.100.18"})));
  auto routed = [&](const std::string& name) {
    DesiredState state = desired_state(view_, "a", kernel_, options_);
    return std::any_of(state.routes.routes.begin(), state.routes.routes.end(), [&](const NodeRoute& entry) {
      return entry.node == name && entry.route.destination == IpPrefix::parse("10.244.6.0/24");
    });
  };
  EXPECT_FALSE(routed("f"));
  EXPECT_FALSE(routed("h"));
  routing::Route boot{IpPrefix::parse("10.244.6.0/24"), IpAddress::parse("198.51.100.16"), 2};
  boot.protocol = 3;  // RTPROT_BOOT
  kernel_.adoptable_routes = {boot};
  EXPECT_TRUE(routed("f"));
  EXPECT_FALSE(routed("h"));
}

}  // namespace
}  // namespace hostgw::controller
