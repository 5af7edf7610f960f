#include "controller/reconciler.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>

#include "common/log.hpp"
#include "routing/fake_route_table.hpp"
#include "test-support/node_factory.hpp"
#include "test-support/run_until.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;
using Type = k8s::NodeEvent::Type;
using test_support::node;
using test_support::node_event;
using test_support::node_list;

Route owned(const char* destination, const char* gateway, std::uint32_t oif = 2) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse(gateway);
  r.oif = oif;
  return r;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.set_connected_networks(
        {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}});
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
  }
  void TearDown() override {
    if (reconciler_) reconciler_->stop();
    settle();
    log::set_sink(nullptr);
  }

  static ReconcilerOptions fast_options() {
    ReconcilerOptions options;
    options.node_name = "node-a";
    options.resync_period = 3600s;
    options.min_pass_interval = 0ms;
    options.retry_initial = 50ms;
    options.retry_max = 400ms;
    return options;
  }

  void start(ReconcilerOptions options = fast_options()) {
    reconciler_ = std::make_unique<Reconciler>(io_.get_executor(), table_, std::move(options), metrics_);
    asio::co_spawn(io_, reconciler_->run(), asio::detached);
    asio::co_spawn(io_, reconciler_->watch_kernel(table_), asio::detached);
    settle();
  }

  // The fake table completes at once: settle() runs a pass to its end.
  void settle() { test_support::settle(io_); }
  template <typename Predicate>
  bool run_until(Predicate predicate) {
    return test_support::run_until(io_, predicate);
  }
  void run_for(std::chrono::milliseconds duration) { test_support::run_for(io_, duration); }

  std::vector<k8s::NodeInfo> three_nodes() {
    return {node("node-a", {"10.244.1.0/24"}, {"198.51.100.11"}), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
            node("node-c", {"10.244.3.0/24"}, {"198.51.100.13"})};
  }

  bool has_route(const char* destination, const char* gateway) {
    const Route* route = table_.find({routing::kMainTable, IpPrefix::parse(destination), 0});
    return route && route->gateway == IpAddress::parse(gateway) && route->protocol == routing::kDefaultRouteProtocol;
  }

  std::size_t log_lines_with(std::string_view text) {
    std::size_t count = 0;
    for (const auto& line : log_)
      if (line.find(text) != std::string::npos) ++count;
    return count;
  }

  asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<std::string> log_;
};

TEST_F(ReconcilerTest, FirstListInstallsRoutesToOtherNodesAndBecomesReady) {
  start();
  EXPECT_FALSE(reconciler_->ready());
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  EXPECT_TRUE(reconciler_->ready());
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_TRUE(has_route("10.244.3.0/24", "198.51.100.13"));
  EXPECT_EQ(table_.routes().size(), 2u);
  EXPECT_EQ(table_.find({routing::kMainTable, IpPrefix::parse("10.244.2.0/24"), 0})->oif, 2u);
  EXPECT_EQ(reconciler_->passes(), 1u);
  EXPECT_EQ(metrics_.routes_installed.value(), 2);
  EXPECT_EQ(metrics_.routes_desired.value(), 2);
  EXPECT_EQ(metrics_.ready.value(), 1);
  EXPECT_EQ(log_lines_with("\"Route added\" node=\"node-b\" route=\"10.244.2.0/24 via 198.51.100.12 dev eth0\""), 1u);
}

TEST_F(ReconcilerTest, NothingHappensBeforeTheFirstCompleteList) {
  auto options = fast_options();
  options.resync_period = 20ms;
  table_.seed(owned("10.244.9.0/24", "198.51.100.19"));
  start(options);
  reconciler_->on_node_event(node_event(Type::added, node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"})));
  table_.post_notice({true, false, "RTM_DELROUTE 10.244.9.0/24 proto 44"});
  run_for(100ms);
  EXPECT_EQ(reconciler_->passes(), 0u);
  EXPECT_EQ(table_.dumps(), 0u);
  EXPECT_EQ(table_.writes(), 0u);
  EXPECT_TRUE(has_route("10.244.9.0/24", "198.51.100.19"));
  EXPECT_FALSE(reconciler_->ready());

  // The complete list without node-j: now its stale route goes.
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  EXPECT_FALSE(has_route("10.244.9.0/24", "198.51.100.19"));
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
}

TEST_F(ReconcilerTest, RestartAdoptsInstalledRoutesWithoutDeletingOrAdding) {
  table_.seed(owned("10.244.2.0/24", "198.51.100.12"));
  table_.seed(owned("10.244.3.0/24", "198.51.100.13"));
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  EXPECT_TRUE(reconciler_->ready());
  EXPECT_EQ(table_.writes(), 0u);
  EXPECT_EQ(table_.apply_calls(), 0u);
  EXPECT_EQ(metrics_.route_changes(ChangeKind::add, true).value(), 0);
  EXPECT_EQ(metrics_.route_changes(ChangeKind::remove, true).value(), 0);
  EXPECT_EQ(metrics_.routes_installed.value(), 2);
}

TEST_F(ReconcilerTest, RoutesOfVanishedNodesAreDeletedForeignRoutesAreNot) {
  table_.seed(owned("10.244.2.0/24", "198.51.100.12"));
  table_.seed(owned("10.244.7.0/24", "198.51.100.17"));  // node-g is gone
  Route foreign = owned("10.244.8.0/24", "198.51.100.18");
  foreign.protocol = 4;  // static route of someone else
  table_.seed(foreign);
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  EXPECT_FALSE(has_route("10.244.7.0/24", "198.51.100.17"));
  EXPECT_NE(table_.find(key_of(foreign)), nullptr);
  EXPECT_TRUE(has_route("10.244.3.0/24", "198.51.100.13"));
  EXPECT_EQ(table_.writes(), 2u);  // one delete, one add
  EXPECT_EQ(log_lines_with("\"Route deleted\""), 1u);
}

TEST_F(ReconcilerTest, ThousandTriggersInABurstCauseTheStepBudgetAndOnePass) {
  auto options = fast_options();
  options.min_pass_interval = 300ms;
  start(options);
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  ASSERT_EQ(reconciler_->passes(), 1u);

  // 1000 node events, each in its own handler (as they come off a watch stream).
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        for (int i = 0; i < 1000; ++i) {
          reconciler_->on_node_event(node_event(
              Type::added, node("n" + std::to_string(i),
                                {"10.244." + std::to_string(100 + i / 8) + "." + std::to_string(i % 8 * 32) + "/27"},
                                {"198.51.100." + std::to_string(20 + i % 200)})));
          co_await asio::post(io_, asio::use_awaitable);
        }
      },
      asio::detached);
  ASSERT_TRUE(run_until([&] { return reconciler_->passes() == 2; }));
  run_for(400ms);
  // The step budget's steps at once, the rest in one pass at the window's end.
  EXPECT_EQ(reconciler_->passes(), 2u);
  EXPECT_GE(reconciler_->incremental_steps(), 1u);
  EXPECT_LE(reconciler_->incremental_steps(), options.steps_per_interval);
  EXPECT_EQ(metrics_.triggers("node").value(), 1000);
  EXPECT_EQ(table_.routes().size(), 1002u);
  const std::size_t applied = table_.apply_calls();
  EXPECT_EQ(applied, 2u + reconciler_->incremental_steps());

  // 1000 kernel notices at once: one more pass, and it writes nothing.
  for (int i = 0; i < 1000; ++i) table_.post_notice({true, false, "RTM_NEWLINK eth0"});
  ASSERT_TRUE(run_until([&] { return reconciler_->passes() == 3; }));
  run_for(400ms);
  EXPECT_EQ(reconciler_->passes(), 3u);
  EXPECT_EQ(metrics_.triggers("kernel").value(), 1000);
  EXPECT_EQ(table_.apply_calls(), applied);
}

TEST_F(ReconcilerTest, HeartbeatsCostNoPassNoDumpNoWrite) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  auto dumps = table_.dumps();
  auto writes = table_.writes();
  for (int i = 0; i < 100; ++i) {
    reconciler_->on_node_event(
        node_event(Type::modified, node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}, {}, std::to_string(100 + i))));
    settle();
  }
  EXPECT_EQ(reconciler_->passes(), 1u);
  EXPECT_EQ(table_.dumps(), dumps);
  EXPECT_EQ(table_.writes(), writes);
  EXPECT_EQ(reconciler_->view().find("node-b")->resource_version, "199");
}

TEST_F(ReconcilerTest, PeriodicResyncWithNothingToChangeWritesNothing) {
  auto options = fast_options();
  options.resync_period = 20ms;
  start(options);
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  auto writes = table_.writes();
  ASSERT_TRUE(run_until([&] { return reconciler_->passes() >= 4; }));
  EXPECT_EQ(table_.writes(), writes);
  EXPECT_EQ(table_.apply_calls(), 1u);
  EXPECT_GE(metrics_.triggers("resync").value(), 3);
}

TEST_F(ReconcilerTest, RefusedRouteIsRetriedWithBackoffWithoutBlockingOthers) {
  start();
  table_.fail_next(IpPrefix::parse("10.244.3.0/24"), ENETUNREACH, "Nexthop has invalid gateway");
  auto nodes = three_nodes();
  nodes.push_back(node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"}));
  reconciler_->on_node_event(node_list(nodes));
  settle();
  auto failed_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
  EXPECT_FALSE(has_route("10.244.3.0/24", "198.51.100.13"));
  EXPECT_TRUE(reconciler_->ready());
  EXPECT_EQ(reconciler_->backlog(), 1u);
  EXPECT_EQ(metrics_.netlink_errors(ENETUNREACH).value(), 1);
  EXPECT_EQ(log_lines_with("errno=\"ENETUNREACH\""), 1u);
  EXPECT_EQ(log_lines_with("Nexthop has invalid gateway"), 1u);

  // A pass triggered during the backoff does not retry it yet.
  auto writes = table_.writes();
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(reconciler_->passes(), 2u);
  EXPECT_EQ(table_.writes(), writes);

  // After the backoff it is retried (and succeeds) without any trigger.
  ASSERT_TRUE(run_until([&] { return has_route("10.244.3.0/24", "198.51.100.13"); }));
  EXPECT_GE(std::chrono::steady_clock::now() - failed_at, 45ms);
  EXPECT_EQ(reconciler_->backlog(), 0u);
  EXPECT_EQ(table_.writes(), writes + 1);
}

TEST_F(ReconcilerTest, NodeChangesBecomeRouteChanges) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  // New address: replace.
  reconciler_->on_node_event(node_event(Type::modified, node("node-b", {"10.244.2.0/24"}, {"198.51.100.22"}, {}, "2")));
  settle();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.22"));
  EXPECT_EQ(log_lines_with("\"Route replaced\" node=\"node-b\""), 1u);
  // New podCIDR: the old route goes, the new one comes.
  reconciler_->on_node_event(
      node_event(Type::modified, node("node-c", {"10.244.30.0/24"}, {"198.51.100.13"}, {}, "2")));
  settle();
  EXPECT_FALSE(has_route("10.244.3.0/24", "198.51.100.13"));
  EXPECT_TRUE(has_route("10.244.30.0/24", "198.51.100.13"));
  EXPECT_EQ(log_lines_with("\"Route deleted\" node=\"node-c\""), 1u);
  // Node deleted.
  reconciler_->on_node_event(node_event(Type::deleted, node("node-b", {}, {"198.51.100.22"}, {}, "3")));
  settle();
  EXPECT_FALSE(has_route("10.244.2.0/24", "198.51.100.22"));
  EXPECT_EQ(table_.routes().size(), 1u);
}

TEST_F(ReconcilerTest, RouteDeletedBySomeoneElseComesBack) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  auto dumps = table_.dumps();
  ASSERT_TRUE(table_.remove_externally(owned("10.244.2.0/24", "198.51.100.12")));
  settle();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  // Repaired by an incremental step: one add, no dump, no full pass.
  EXPECT_EQ(reconciler_->passes(), 1u);
  EXPECT_EQ(reconciler_->incremental_steps(), 1u);
  EXPECT_EQ(table_.dumps(), dumps);
  EXPECT_EQ(log_lines_with("\"Route added\" node=\"node-b\""), 2u);
}

// --- incremental path ---------------------------------------------------------

TEST_F(ReconcilerTest, SingleNodeEventsAreAppliedWithoutADumpOrFullPass) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  const auto dumps = table_.dumps();
  const auto connected_calls = table_.connected_calls();
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  settle();
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
  reconciler_->on_node_event(node_event(Type::modified, node("node-d", {"10.244.4.0/24"}, {"198.51.100.24"}, {}, "2")));
  settle();
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.24"));
  EXPECT_EQ(log_lines_with("\"Route replaced\" node=\"node-d\""), 1u);
  reconciler_->on_node_event(
      node_event(Type::modified, node("node-d", {"10.244.40.0/24"}, {"198.51.100.24"}, {}, "3")));
  settle();
  EXPECT_FALSE(has_route("10.244.4.0/24", "198.51.100.24"));
  EXPECT_TRUE(has_route("10.244.40.0/24", "198.51.100.24"));
  reconciler_->on_node_event(node_event(Type::deleted, node("node-d", {"10.244.40.0/24"}, {"198.51.100.24"}, {}, "4")));
  settle();
  EXPECT_FALSE(has_route("10.244.40.0/24", "198.51.100.24"));
  EXPECT_EQ(log_lines_with("\"Route deleted\" node=\"node-d\""), 2u);
  EXPECT_EQ(table_.routes().size(), 2u);
  EXPECT_EQ(reconciler_->passes(), 1u);
  EXPECT_EQ(reconciler_->incremental_steps(), 4u);
  EXPECT_EQ(table_.dumps(), dumps);
  EXPECT_EQ(table_.connected_calls(), connected_calls);
  EXPECT_EQ(metrics_.routes_installed.value(), 2);
  EXPECT_EQ(metrics_.routes_desired.value(), 2);
  // A resync afterwards finds nothing to change: the model matched the kernel.
  const auto writes = table_.writes();
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(table_.writes(), writes);
}

TEST_F(ReconcilerTest, EventsGoAtOnceWithinTheStepBudgetAndABurstWaitsForOnePass) {
  auto options = fast_options();
  options.min_pass_interval = 100ms;
  options.steps_per_interval = 2;
  start(options);
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  // Right after the first sync's pass: not held back by it.
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  settle();  // no timer has to expire
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
  reconciler_->on_node_event(node_event(Type::added, node("node-e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  settle();
  EXPECT_TRUE(has_route("10.244.5.0/24", "198.51.100.15"));
  EXPECT_EQ(reconciler_->incremental_steps(), 2u);
  // The budget is spent: the next ones in this interval wait for one full pass.
  reconciler_->on_node_event(node_event(Type::added, node("node-f", {"10.244.6.0/24"}, {"198.51.100.16"})));
  reconciler_->on_node_event(node_event(Type::added, node("node-g", {"10.244.7.0/24"}, {"198.51.100.17"})));
  settle();
  EXPECT_FALSE(has_route("10.244.6.0/24", "198.51.100.16"));
  ASSERT_TRUE(run_until([&] { return has_route("10.244.7.0/24", "198.51.100.17"); }));
  EXPECT_TRUE(has_route("10.244.6.0/24", "198.51.100.16"));
  EXPECT_EQ(reconciler_->passes(), 2u);
  EXPECT_EQ(reconciler_->incremental_steps(), 2u);
  // A new interval has a new budget.
  run_for(120ms);
  reconciler_->on_node_event(node_event(Type::added, node("node-h", {"10.244.8.0/24"}, {"198.51.100.18"})));
  settle();
  EXPECT_TRUE(has_route("10.244.8.0/24", "198.51.100.18"));
  EXPECT_EQ(reconciler_->incremental_steps(), 3u);
  EXPECT_EQ(reconciler_->passes(), 2u);
}

TEST_F(ReconcilerTest, EventApplyIsMeasuredFromTheEventsArrivalToTheKernelsAnswer) {
  auto options = fast_options();
  options.min_pass_interval = 100ms;
  options.steps_per_interval = 1;
  start(options);
  reconciler_->on_node_event(node_list(three_nodes()));  // a list has no arrival time: nothing observed
  settle();
  EXPECT_EQ(metrics_.event_apply.count(), 0u);
  run_for(120ms);
  auto arrived = [](k8s::NodeEvent event, std::chrono::milliseconds ago) {
    event.received = std::chrono::steady_clock::now() - ago;
    return event;
  };
  // Isolated: one observation, at least as long ago as the event arrived.
  reconciler_->on_node_event(
      arrived(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})), 30ms));
  settle();
  ASSERT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
  EXPECT_EQ(metrics_.event_apply.count(), 1u);
  EXPECT_GE(metrics_.event_apply.sum(), 0.030);
  EXPECT_LT(metrics_.event_apply.sum(), 5.0);
  // A heartbeat changes nothing: not observed.
  reconciler_->on_node_event(
      arrived(node_event(Type::modified, node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}, {}, "77")), 0ms));
  settle();
  EXPECT_EQ(metrics_.event_apply.count(), 1u);
  // A burst: one observation by the pass that takes both, from the first arrival.
  const double before = metrics_.event_apply.sum();
  reconciler_->on_node_event(
      arrived(node_event(Type::added, node("node-e", {"10.244.5.0/24"}, {"198.51.100.15"})), 0ms));
  reconciler_->on_node_event(
      arrived(node_event(Type::added, node("node-f", {"10.244.6.0/24"}, {"198.51.100.16"})), 0ms));
  ASSERT_TRUE(run_until([&] { return has_route("10.244.6.0/24", "198.51.100.16"); }));
  ASSERT_TRUE(run_until([&] { return metrics_.event_apply.count() == 2u; }));
  // The pass waited for the end of the step window the isolated step opened.
  EXPECT_GE(metrics_.event_apply.sum() - before, 0.010);
  EXPECT_EQ(reconciler_->passes(), 2u);
}

TEST_F(ReconcilerTest, EventRightAfterAPeriodicResyncIsStillIsolated) {
  auto options = fast_options();
  options.min_pass_interval = 100ms;
  options.resync_period = 150ms;
  start(options);
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  // Right after the second periodic resync (~300 ms after the triggered first pass).
  ASSERT_TRUE(run_until([&] { return reconciler_->passes() == 3; }));
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  settle();  // no wait for the interval: resyncs do not pace triggers
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
  EXPECT_EQ(reconciler_->incremental_steps(), 1u);
  EXPECT_EQ(reconciler_->passes(), 3u);
}

TEST_F(ReconcilerTest, OverlappingNewcomerFallsBackToAFullPass) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  // Inside node-b's podCIDR: only a full pass can decide (and log) who keeps it.
  reconciler_->on_node_event(node_event(Type::added, node("evil", {"10.244.2.128/25"}, {"198.51.100.43"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 2u);
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_FALSE(table_.find({routing::kMainTable, IpPrefix::parse("10.244.2.128/25"), 0}));
  EXPECT_EQ(log_lines_with("\"Node skipped\" node=\"evil\""), 1u);
  // node-b gives up a podCIDR containing evil's: evil may be routed now -> full pass.
  reconciler_->on_node_event(node_event(Type::deleted, node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 3u);
  EXPECT_FALSE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_TRUE(has_route("10.244.2.128/25", "198.51.100.43"));
  // A newcomer whose podCIDR contains other nodes' podCIDRs -> full pass.
  reconciler_->on_node_event(node_event(Type::added, node("node-z", {"10.244.0.0/16"}, {"198.51.100.50"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 4u);
  EXPECT_EQ(reconciler_->incremental_steps(), 0u);
}

TEST_F(ReconcilerTest, ThisNodeSkippedNodesAndNodesWithoutPodCidrFallBack) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  // This host's own podCIDR changes: every other node's checks move.
  reconciler_->on_node_event(
      node_event(Type::modified, node("node-a", {"10.244.11.0/24"}, {"198.51.100.11"}, {}, "2")));
  settle();
  EXPECT_EQ(reconciler_->passes(), 2u);
  // A node without a podCIDR yet is a skip the full pass logs and counts.
  reconciler_->on_node_event(node_event(Type::added, node("node-n", {}, {"198.51.100.19"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 3u);
  EXPECT_EQ(metrics_.skipped(SkipReason::no_pod_cidr).value(), 1);
  // Its podCIDR arrives: it was skipped, so again a full pass, which logs the recovery.
  reconciler_->on_node_event(
      node_event(Type::modified, node("node-n", {"10.244.19.0/24"}, {"198.51.100.19"}, {}, "2")));
  settle();
  EXPECT_EQ(reconciler_->passes(), 4u);
  EXPECT_TRUE(has_route("10.244.19.0/24", "198.51.100.19"));
  EXPECT_EQ(metrics_.skipped(SkipReason::no_pod_cidr).value(), 0);
  // An address not on a connected network: skipped by a full pass.
  reconciler_->on_node_event(node_event(Type::added, node("node-y", {"10.244.25.0/24"}, {"203.0.113.5"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 5u);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 1);
  EXPECT_EQ(reconciler_->incremental_steps(), 0u);
  // Now a plain newcomer is incremental again.
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 5u);
  EXPECT_EQ(reconciler_->incremental_steps(), 1u);
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
}

TEST_F(ReconcilerTest, KernelNoticesOtherThanOwnedRouteDeletionsFallBack) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  // Link and address events, overruns: full pass.
  table_.post_notice({true, false, "RTM_NEWLINK eth0 down"});
  settle();
  EXPECT_EQ(reconciler_->passes(), 2u);
  routing::ChangeNotice overrun{true, true, "ENOBUFS"};
  overrun.owned_routes.push_back({true, owned("10.244.2.0/24", "198.51.100.12")});
  overrun.only_owned_routes = true;
  table_.post_notice(overrun);
  settle();
  EXPECT_EQ(reconciler_->passes(), 3u);
  // Someone else replaced an owned route: what it displaced is unknown.
  table_.seed(owned("10.244.2.0/24", "198.51.100.99"));
  routing::ChangeNotice replaced{true, false, "RTM_NEWROUTE 10.244.2.0/24 via 198.51.100.99 proto 44"};
  replaced.owned_routes.push_back({false, owned("10.244.2.0/24", "198.51.100.99")});
  replaced.only_owned_routes = true;
  table_.post_notice(replaced);
  settle();
  EXPECT_EQ(reconciler_->passes(), 4u);
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  // A plain deletion is repaired incrementally.
  ASSERT_TRUE(table_.remove_externally(owned("10.244.3.0/24", "198.51.100.13")));
  settle();
  EXPECT_EQ(reconciler_->passes(), 4u);
  EXPECT_EQ(reconciler_->incremental_steps(), 1u);
  EXPECT_TRUE(has_route("10.244.3.0/24", "198.51.100.13"));
}

TEST_F(ReconcilerTest, FailedIncrementalChangeFallsBackToFullPassWithRetries) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  table_.fail_next(IpPrefix::parse("10.244.4.0/24"), ENETUNREACH, "Nexthop has invalid gateway");
  table_.fail_next(IpPrefix::parse("10.244.4.0/24"), ENETUNREACH, "Nexthop has invalid gateway");
  reconciler_->on_node_event(node_event(Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  settle();
  // The step failed; the full pass right after failed too and holds it for a retry.
  EXPECT_EQ(reconciler_->incremental_steps(), 1u);
  EXPECT_EQ(reconciler_->passes(), 2u);
  EXPECT_FALSE(has_route("10.244.4.0/24", "198.51.100.14"));
  EXPECT_EQ(reconciler_->backlog(), 1u);
  EXPECT_EQ(log_lines_with("\"Route change failed\""), 2u);
  // While a retry waits, the model is not trusted: another event is a full pass.
  reconciler_->on_node_event(node_event(Type::added, node("node-e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  settle();
  EXPECT_EQ(reconciler_->passes(), 3u);
  EXPECT_TRUE(has_route("10.244.5.0/24", "198.51.100.15"));
  ASSERT_TRUE(run_until([&] { return has_route("10.244.4.0/24", "198.51.100.14"); }));
  EXPECT_EQ(reconciler_->backlog(), 0u);
  // Clean again: incremental.
  reconciler_->on_node_event(node_event(Type::deleted, node("node-e", {"10.244.5.0/24"}, {"198.51.100.15"})));
  settle();
  EXPECT_EQ(reconciler_->incremental_steps(), 2u);
  EXPECT_FALSE(has_route("10.244.5.0/24", "198.51.100.15"));
}

TEST_F(ReconcilerTest, RelistIsAFullPass) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  auto nodes = three_nodes();
  nodes.push_back(node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"}));
  reconciler_->on_node_event(node_list(nodes));
  settle();
  EXPECT_EQ(reconciler_->passes(), 2u);
  EXPECT_EQ(reconciler_->incremental_steps(), 0u);
  EXPECT_TRUE(has_route("10.244.4.0/24", "198.51.100.14"));
}

TEST_F(ReconcilerTest, SkippedNodeIsLoggedOnceAndCounted) {
  start();
  auto nodes = three_nodes();
  nodes.push_back(node("node-x", {"10.244.2.0/24"}, {"198.51.100.30"}));  // same podCIDR as node-b
  nodes.push_back(node("node-y", {"10.244.5.0/24"}, {"203.0.113.5"}));    // not on a local link
  reconciler_->on_node_event(node_list(nodes));
  settle();
  EXPECT_FALSE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_TRUE(has_route("10.244.3.0/24", "198.51.100.13"));
  EXPECT_EQ(metrics_.skipped(SkipReason::overlaps_other_node).value(), 2);
  EXPECT_EQ(metrics_.skipped(SkipReason::unreachable_address).value(), 1);
  EXPECT_EQ(metrics_.skipped(SkipReason::self).value(), 1);
  EXPECT_EQ(log_lines_with("\"Node skipped\" node=\"node-y\" family=\"IPv4\" reason=\"unreachable_address\""), 1u);
  EXPECT_EQ(log_lines_with("203.0.113.5"), 1u);
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(log_lines_with("\"Node skipped\""), 3u);  // not again
  // node-x goes away: node-b is routed again.
  reconciler_->on_node_event(node_event(Type::deleted, node("node-x", {"10.244.2.0/24"}, {"198.51.100.30"})));
  settle();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_EQ(log_lines_with("\"Node no longer skipped\" node=\"node-b\""), 1u);
}

TEST_F(ReconcilerTest, NewcomerClaimingAnInstalledPodCidrCannotTakeTheRoute) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  auto writes = table_.writes();
  reconciler_->on_node_event(node_event(Type::added, node("evil", {"10.244.2.0/24"}, {"198.51.100.43"})));
  settle();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_EQ(table_.writes(), writes);
  EXPECT_EQ(metrics_.skipped(SkipReason::overlaps_other_node).value(), 1);
  EXPECT_EQ(log_lines_with("\"Node skipped\" node=\"evil\" family=\"IPv4\" reason=\"overlaps_other_node\""), 1u);
  // After a restart (routes adopted from the kernel) the holder still wins.
  reconciler_->stop();
  settle();
  start();
  reconciler_->on_node_event(node_list({node("node-a", {"10.244.1.0/24"}, {"198.51.100.11"}),
                                        node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
                                        node("evil", {"10.244.2.0/24"}, {"198.51.100.43"})}));
  settle();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
}

TEST_F(ReconcilerTest, SelfWithoutPodCidrIsLoggedAndOthersAreRouted) {
  start();
  reconciler_->on_node_event(
      node_list({node("node-a", {}, {"198.51.100.11"}), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"})}));
  settle();
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_EQ(log_lines_with("This node has no podCIDR yet"), 1u);
}

TEST_F(ReconcilerTest, FailedDumpIsRetriedWithBackoffAndWritesNothing) {
  start();
  table_.fail_next_dump(std::make_error_code(std::errc::timed_out));
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  EXPECT_FALSE(reconciler_->ready());
  EXPECT_EQ(table_.writes(), 0u);
  EXPECT_EQ(metrics_.pass_failures.value(), 1);
  EXPECT_EQ(log_lines_with("\"Reconcile pass failed\" step=\"dump routes\""), 1u);
  // The line carries the dump's message, not only the errno's text.
  EXPECT_EQ(log_lines_with("step=\"dump routes\" error=\"dump of routes of table 254 proto "), 1u);
  ASSERT_TRUE(run_until([&] { return reconciler_->ready(); }));
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
}

TEST_F(ReconcilerTest, ObserverSeesFirstSyncOnceAndThisNode) {
  int first_syncs = 0, calls = 0;
  std::string self_name;
  start();
  reconciler_->set_pass_observer([&](const PassReport& report) {
    ++calls;
    if (report.first_sync) ++first_syncs;
    if (report.self) self_name = report.self->name;
    ASSERT_NE(report.connected, nullptr);
    EXPECT_EQ(report.connected->size(), 1u);
  });
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(first_syncs, 1);
  EXPECT_EQ(self_name, "node-a");
}

TEST_F(ReconcilerTest, StopEndsTheLoopAndLeavesRoutes) {
  start();
  reconciler_->on_node_event(node_list(three_nodes()));
  settle();
  reconciler_->stop();
  settle();
  EXPECT_EQ(table_.routes().size(), 2u);
  reconciler_->request_pass("test");
  settle();
  EXPECT_EQ(reconciler_->passes(), 1u);
}

}  // namespace
}  // namespace hostgw::controller
