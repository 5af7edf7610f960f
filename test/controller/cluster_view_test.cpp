#include "controller/cluster_view.hpp"

#include <gtest/gtest.h>

namespace hostgw::controller {
namespace {

using Type = k8s::NodeEvent::Type;

k8s::NodeInfo node(std::string name, std::string rv, std::string cidr = "10.244.2.0/24") {
  k8s::NodeInfo info;
  info.name = k8s::NodeName(std::move(name));
  info.resource_version = std::move(rv);
  info.pod_cidrs = {std::move(cidr)};
  info.internal_ips = {"198.51.100.12"};
  return info;
}

k8s::NodeEvent event(Type type, k8s::NodeInfo info) {
  k8s::NodeEvent e;
  e.type = type;
  e.node = std::move(info);
  return e;
}

k8s::NodeEvent resynced(std::vector<k8s::NodeInfo> nodes) {
  k8s::NodeEvent e;
  e.type = Type::resynced;
  e.nodes = std::move(nodes);
  return e;
}

TEST(ClusterViewTest, FirstListIsRelevantAndMarksTheViewComplete) {
  ClusterView view;
  EXPECT_FALSE(view.has_full_list());
  EXPECT_TRUE(view.apply(resynced({})));
  EXPECT_TRUE(view.has_full_list());
  EXPECT_EQ(view.size(), 0u);
}

TEST(ClusterViewTest, HeartbeatIsNotRelevantButIsStored) {
  ClusterView view;
  EXPECT_TRUE(view.apply(event(Type::added, node("b", "1"))));
  EXPECT_FALSE(view.apply(event(Type::modified, node("b", "2"))));
  EXPECT_EQ(view.find("b")->resource_version, "2");
  EXPECT_TRUE(view.apply(event(Type::modified, node("b", "3", "10.244.9.0/24"))));
  EXPECT_EQ(view.find("b")->pod_cidrs[0], "10.244.9.0/24");
}

// The desired model and the targets share the name the view holds
// (k8s::NodeName): an update keeps it rather than taking the event's equal copy.
TEST(ClusterViewTest, UpdatesKeepTheNameTheViewHolds) {
  ClusterView view;
  view.apply(event(Type::added, node("b", "1")));
  const k8s::NodeName held = view.find("b")->name;
  view.apply(event(Type::modified, node("b", "2")));
  view.apply(event(Type::modified, node("b", "3", "10.244.9.0/24")));
  view.apply(resynced({node("b", "4", "10.244.9.0/24")}));
  EXPECT_EQ(view.find("b")->resource_version, "4");
  EXPECT_TRUE(view.find("b")->name.shares(held));
  // Deleted and added again: a new name, equal.
  view.apply(event(Type::deleted, node("b", "5")));
  view.apply(event(Type::added, node("b", "6")));
  EXPECT_FALSE(view.find("b")->name.shares(held));
  EXPECT_EQ(view.find("b")->name, held);
}

TEST(ClusterViewTest, DeleteOfUnknownNodeIsNotRelevant) {
  ClusterView view;
  EXPECT_FALSE(view.apply(event(Type::deleted, node("x", "1"))));
  view.apply(event(Type::added, node("b", "1")));
  EXPECT_TRUE(view.apply(event(Type::deleted, node("b", "2"))));
  EXPECT_EQ(view.find("b"), nullptr);
}

TEST(ClusterViewTest, RelistReplacesTheSetAndTellsIfAnythingChanged) {
  ClusterView view;
  view.apply(resynced({node("b", "1"), node("c", "1", "10.244.3.0/24")}));
  EXPECT_EQ(view.size(), 2u);
  EXPECT_FALSE(view.apply(resynced({node("b", "5"), node("c", "6", "10.244.3.0/24")})));
  EXPECT_TRUE(view.apply(resynced({node("b", "7")})));
  EXPECT_EQ(view.size(), 1u);
  EXPECT_EQ(view.find("c"), nullptr);
  auto nodes = view.nodes();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]->name, "b");
}

}  // namespace
}  // namespace hostgw::controller
