// MasqueradeTarget over a fake nftables backend: a missing or changed table is
// one whole-table item, element differences are element items (one
// transaction), a node added or removed between full passes is planned as
// element updates without reading the table, and masquerading off removes
// our table.

#include "controller/masquerade_target.hpp"

#include <gtest/gtest.h>

#include "test-support/run_until.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "netfilter/fake_masquerade_table.hpp"
#include "test-support/node_factory.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using test_support::node;
using Type = k8s::NodeEvent::Type;

class MasqueradeTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    view_.apply(test_support::node_list({node("a", {"10.244.1.0/24"}, {"198.51.100.11"}),
                                         node("b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                         node("d", {}, {"198.51.100.14"})}));  // no podCIDR yet
    index_.rebuild(view_);
    options_.pod_network.masquerade = true;
    options_.pod_network.no_masquerade_cidrs = {IpPrefix::parse("172.16.0.0/12")};
  }

  template <typename T>
  T run(asio::awaitable<T> task) {
    return test_support::run_coroutine(io_, std::move(task));
  }

  // A full pass: read, diff, apply everything; the model as the Engine keeps it.
  Delta full_pass() {
    KernelFacts kernel{connected_, {}};
    desired_ = desired_state(view_, "a", kernel, options_);
    Bindings bindings;
    EXPECT_FALSE(run(target_.read(desired_, kernel, bindings)));
    Delta delta = target_.diff(desired_, bindings);
    bool clean = apply(delta);
    target_.after_pass({}, clean);
    model_.reset(desired_, options_);
    return delta;
  }

  bool apply(const Delta& delta) {
    std::vector<ItemChange> batch = delta.removals;
    batch.insert(batch.end(), delta.upserts.begin(), delta.upserts.end());
    if (batch.empty()) return true;
    auto results = run(target_.apply(batch));
    EXPECT_EQ(results.size(), batch.size());
    bool ok = true;
    for (const auto& result : results) ok = ok && result.ok();
    return ok;
  }

  std::optional<Delta> plan(const std::string& name) {
    if (const auto* stored = view_.find(name)) {
      index_.set(stored->name, stored->pod_cidrs);
    } else {
      index_.erase(name);
    }
    auto update = model_.update_node(name, view_.find(name), index_);
    if (!update) return std::nullopt;
    return target_.plan_update(*update, model_);
  }

  static std::vector<std::string> texts(const std::vector<ItemChange>& changes) {
    std::vector<std::string> out;
    for (const auto& change : changes) {
      const auto& item = std::get<MasqueradeItem>(change.item);
      out.push_back(item.is_table() ? "table" : item.set + " " + item.element + " (" + change.node + ")");
    }
    return out;
  }

  asio::io_context io_;
  netfilter::FakeMasqueradeTable backend_;
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  MasqueradeTarget target_{backend_, metrics_};
  ClusterView view_;
  PodCidrIndex index_;
  std::vector<routing::ConnectedNetwork> connected_{
      {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}};
  DesiredStateOptions options_;
  DesiredState desired_;
  DesiredModel model_;
};

TEST_F(MasqueradeTargetTest, MissingTableIsCreatedWholeWithEveryNodesAddress) {
  Delta delta = full_pass();
  ASSERT_EQ(texts(delta.upserts), std::vector<std::string>{"table"});
  EXPECT_EQ(delta.upserts[0].kind, ChangeKind::add);
  EXPECT_TRUE(delta.removals.empty());
  EXPECT_EQ(backend_.replaces, 1u);
  ASSERT_TRUE(backend_.state.present);
  // Every node's address, the one without a podCIDR too; the podCIDRs routed and our own.
  EXPECT_EQ(backend_.state.sets.node_addresses,
            (std::vector<IpAddress>{IpAddress::parse("198.51.100.11"), IpAddress::parse("198.51.100.12"),
                                    IpAddress::parse("198.51.100.14")}));
  EXPECT_EQ(backend_.state.sets.pod_cidrs,
            (std::vector<IpPrefix>{IpPrefix::parse("10.244.1.0/24"), IpPrefix::parse("10.244.2.0/24")}));
  EXPECT_EQ(backend_.state.sets.no_masquerade, std::vector<IpPrefix>{IpPrefix::parse("172.16.0.0/12")});
  EXPECT_EQ(target_.describe(delta.upserts[0].item), "table inet kube-hostgw");
}

TEST_F(MasqueradeTargetTest, SameStateChangesNothing) {
  full_pass();
  Delta again = full_pass();
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(backend_.replaces, 1u);
  EXPECT_EQ(backend_.element_updates, 0u);
}

TEST_F(MasqueradeTargetTest, ClusterCidrIsThePodSetWhenGiven) {
  options_.routes.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
  full_pass();
  EXPECT_EQ(backend_.state.sets.pod_cidrs, std::vector<IpPrefix>{IpPrefix::parse("10.244.0.0/16")});
}

TEST_F(MasqueradeTargetTest, ElementsChangedByHandAreElementUpdatesInAFullPass) {
  full_pass();
  std::erase(backend_.state.sets.node_addresses, IpAddress::parse("198.51.100.12"));
  backend_.state.sets.node_addresses.push_back(IpAddress::parse("198.51.100.99"));
  Delta delta = full_pass();
  EXPECT_EQ(texts(delta.removals), std::vector<std::string>{"node-addresses-v4 198.51.100.99 ()"});
  EXPECT_EQ(texts(delta.upserts), std::vector<std::string>{"node-addresses-v4 198.51.100.12 (b)"});
  EXPECT_EQ(backend_.replaces, 1u);
  EXPECT_EQ(backend_.element_updates, 1u);  // one transaction for both
  EXPECT_TRUE(full_pass().empty());
}

TEST_F(MasqueradeTargetTest, StructureChangedByHandReplacesTheTable) {
  full_pass();
  backend_.state.differences = {"rule 1 of chain postrouting changed"};
  Delta delta = full_pass();
  ASSERT_EQ(texts(delta.upserts), std::vector<std::string>{"table"});
  EXPECT_EQ(delta.upserts[0].kind, ChangeKind::replace);
  EXPECT_EQ(delta.upserts[0].previous, "table inet kube-hostgw differs from ours: rule 1 of chain postrouting changed");
  EXPECT_EQ(backend_.replaces, 2u);
  EXPECT_TRUE(backend_.state.differences.empty());
}

TEST_F(MasqueradeTargetTest, NodeAddedOrRemovedIsAnElementUpdateWithoutReading) {
  full_pass();
  const std::size_t reads = backend_.reads;
  view_.apply(test_support::node_event(Type::added, node("e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  auto delta = plan("e");
  ASSERT_TRUE(delta);
  EXPECT_TRUE(delta->removals.empty());
  EXPECT_EQ(texts(delta->upserts),
            (std::vector<std::string>{"pod-cidrs-v4 10.244.5.0/24 (e)", "node-addresses-v4 198.51.100.15 (e)"}));
  EXPECT_TRUE(apply(*delta));
  target_.after_step(true);
  EXPECT_EQ(backend_.replaces, 1u);
  EXPECT_EQ(backend_.element_updates, 1u);
  EXPECT_EQ(backend_.reads, reads);

  k8s::NodeInfo gone;
  gone.name = "b";
  view_.apply(test_support::node_event(Type::deleted, gone));
  delta = plan("b");
  ASSERT_TRUE(delta);
  EXPECT_TRUE(delta->upserts.empty());
  EXPECT_EQ(texts(delta->removals),
            (std::vector<std::string>{"pod-cidrs-v4 10.244.2.0/24 (b)", "node-addresses-v4 198.51.100.12 (b)"}));
  EXPECT_TRUE(apply(*delta));
  target_.after_step(true);
  EXPECT_EQ(backend_.replaces, 1u);
  EXPECT_EQ(backend_.element_updates, 2u);
  // The model and the table agree: the next full pass changes nothing.
  EXPECT_TRUE(full_pass().empty());
}

TEST_F(MasqueradeTargetTest, AddressSharedByTwoNodesStaysWhileOneHasIt) {
  view_.apply(test_support::node_event(Type::added, node("e", {"10.244.5.0/24"}, {"198.51.100.12"})));
  index_.rebuild(view_);
  full_pass();
  k8s::NodeInfo gone;
  gone.name = "e";
  view_.apply(test_support::node_event(Type::deleted, gone));
  auto delta = plan("e");
  ASSERT_TRUE(delta);
  EXPECT_EQ(texts(delta->removals), std::vector<std::string>{"pod-cidrs-v4 10.244.5.0/24 (e)"});
}

// With --cluster-cidr a node event changes only node-address elements, planned
// from that node's addresses and the model's counts; after each step the
// table holds exactly what the model's full sets say.
TEST_F(MasqueradeTargetTest, WithClusterCidrANodeEventPlansOnlyItsAddresses) {
  options_.routes.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
  full_pass();
  auto step = [&](const std::string& name) {
    auto delta = plan(name);
    EXPECT_TRUE(delta) << name;
    if (!delta) return std::vector<std::string>{"no plan"};
    EXPECT_TRUE(apply(*delta));
    target_.after_step(true);
    EXPECT_EQ(backend_.state.sets, model_.masquerade()) << "after " << name;
    auto out = texts(delta->removals);
    for (auto& text : texts(delta->upserts)) out.push_back("+" + text);
    return out;
  };
  using Texts = std::vector<std::string>;
  // A new node: its address alone (the pod set is --cluster-cidr).
  view_.apply(test_support::node_event(Type::added, node("e", {"10.244.5.0/24"}, {"198.51.100.15", "2001:db8:1::15"})));
  EXPECT_EQ(step("e"), (Texts{"+node-addresses-v4 198.51.100.15 (e)", "+node-addresses-v6 2001:db8:1::15 (e)"}));
  // A node with b's address: already in the set.
  view_.apply(test_support::node_event(Type::added, node("f", {"10.244.6.0/24"}, {"198.51.100.12"})));
  EXPECT_EQ(step("f"), Texts{});
  // b goes: f still has the address.
  k8s::NodeInfo gone;
  gone.name = "b";
  view_.apply(test_support::node_event(Type::deleted, gone));
  EXPECT_EQ(step("b"), Texts{});
  // f's address changes: the old one goes (nobody has it now), the new one comes.
  view_.apply(test_support::node_event(Type::modified, node("f", {"10.244.6.0/24"}, {"198.51.100.16"})));
  EXPECT_EQ(step("f"), (Texts{"node-addresses-v4 198.51.100.12 (f)", "+node-addresses-v4 198.51.100.16 (f)"}));
  // A heartbeat: nothing.
  view_.apply(test_support::node_event(Type::modified, node("f", {"10.244.6.0/24"}, {"198.51.100.16"})));
  EXPECT_EQ(step("f"), Texts{});
  gone.name = "e";
  view_.apply(test_support::node_event(Type::deleted, gone));
  EXPECT_EQ(step("e"), (Texts{"node-addresses-v4 198.51.100.15 (e)", "node-addresses-v6 2001:db8:1::15 (e)"}));
  EXPECT_EQ(backend_.reads, 1u) << "planned without reading the table";
  EXPECT_TRUE(full_pass().empty());
}

TEST_F(MasqueradeTargetTest, WithClusterCidrASetThatDisagreesWithTheModelAsksForAFullPass) {
  options_.routes.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
  view_.apply(test_support::node_event(Type::added, node("e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  index_.rebuild(view_);
  full_pass();
  // The model says e's address is installed; pretend a step lost it (a
  // model out of step with the table is a bug: never plan on top of it).
  NodeUpdate update;
  update.node = k8s::NodeName("g");
  update.addresses_after = {IpAddress::parse("198.51.100.15")};
  EXPECT_FALSE(target_.plan_update(update, model_)) << "an address counted once but already in the set";
}

TEST_F(MasqueradeTargetTest, FailedStepDropsTheModel) {
  full_pass();
  view_.apply(test_support::node_event(Type::added, node("e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  auto delta = plan("e");
  ASSERT_TRUE(delta);
  backend_.fail_with = "Error: Could not process rule: simulated";
  auto results = run(target_.apply(delta->upserts));
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].error, EIO);
  EXPECT_EQ(results[1].message, "Error: Could not process rule: simulated");
  target_.after_step(false);
  EXPECT_FALSE(target_.model_valid());
  EXPECT_FALSE(target_.plan_update(NodeUpdate{}, model_));
  backend_.fail_with.clear();
  Delta repair = full_pass();
  EXPECT_EQ(repair.upserts.size(), 2u);  // the full pass finds the elements missing
}

TEST_F(MasqueradeTargetTest, OffRemovesOurTableAndThenNothing) {
  full_pass();
  options_.pod_network.masquerade = false;
  Delta delta = full_pass();
  ASSERT_EQ(texts(delta.removals), std::vector<std::string>{"table"});
  EXPECT_EQ(backend_.deletes, 1u);
  EXPECT_FALSE(backend_.state.present);
  EXPECT_TRUE(full_pass().empty());
  EXPECT_EQ(backend_.deletes, 1u);
  // Off, a node added plans nothing.
  view_.apply(test_support::node_event(Type::added, node("e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  auto step = plan("e");
  ASSERT_TRUE(step);
  EXPECT_TRUE(step->empty());
}

TEST_F(MasqueradeTargetTest, UnreadableNftablesWithMasqueradeOffIsNoProblem) {
  options_.pod_network.masquerade = false;
  backend_.fail_with = "Error: simulated";
  KernelFacts kernel{connected_, {}};
  DesiredState desired = desired_state(view_, "a", kernel, options_);
  Bindings bindings;
  EXPECT_FALSE(run(target_.read(desired, kernel, bindings)));
  EXPECT_TRUE(target_.diff(desired, bindings).empty());
}

TEST_F(MasqueradeTargetTest, UnreadableTableIsAProblemNotAChange) {
  backend_.fail_with = "Error: simulated";
  KernelFacts kernel{connected_, {}};
  DesiredState desired = desired_state(view_, "a", kernel, options_);
  Bindings bindings;
  auto problem = run(target_.read(desired, kernel, bindings));
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->step, "read table inet kube-hostgw");
  EXPECT_EQ(problem->error, "Error: simulated");
}

}  // namespace
}  // namespace hostgw::controller
