// Applier: one order for every target's batches, and one place for retries,
// log lines and counters, tested with two fake targets (a carrier and a leaf).

#include "controller/applier.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cerrno>
#include <thread>

#include "common/log.hpp"
#include "test-support/run_until.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::ChangeKind;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;

Route route(const char* destination) {
  Route r;
  r.destination = IpPrefix::parse(destination);
  r.gateway = IpAddress::parse("198.51.100.12");
  return r;
}

routing::NeighbourEntry neighbour(const char* address) {
  return {IpAddress::parse(address), routing::MacAddress::parse("0e:68:cb:00:71:0e")};
}

// A target that hands out a fixed delta and records what it is asked to do.
class FakeTarget final : public Target {
 public:
  FakeTarget(TargetRole role, std::string name, std::vector<std::string>& journal)
      : name_(std::move(name)), journal_(journal) {
    info_ = TargetInfo{.name = name_,
                       .noun = role == TargetRole::carrier ? "Entry" : "Route",
                       .plural = role == TargetRole::carrier ? "Entries" : "Routes",
                       .item_key = "item",
                       .role = role,
                       .gone_errno = ESRCH,
                       .problem_line = "Fake not in place",
                       .changes = &ControllerMetrics::route_changes,
                       .counts_netlink_errors = role == TargetRole::leaf};
  }
  const TargetInfo& info() const override { return info_; }
  asio::awaitable<std::optional<TargetProblem>> read(const DesiredState&, const KernelFacts&, Bindings&) override {
    journal_.push_back(name_ + " read");
    co_return read_problem;
  }
  Delta diff(const DesiredState&, const Bindings&) override { return delta; }
  asio::awaitable<std::optional<TargetProblem>> finish() override {
    journal_.push_back(name_ + " finish");
    co_return std::nullopt;
  }
  void after_pass(const std::vector<ItemChange>& applied, bool clean) override {
    last_applied = applied.size();
    last_clean = clean;
  }
  std::optional<Delta> plan_update(const NodeUpdate&, const DesiredModel&) override { return delta; }
  void after_step(bool clean) override { last_clean = clean; }
  asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) override {
    std::vector<ItemResult> out;
    for (const auto& change : batch) {
      const std::string text = describe(change.item);
      journal_.push_back(name_ + " " + std::string(routing::to_string(change.kind)) + " " + text);
      auto failure = failures.find(text);
      out.push_back(failure == failures.end() ? ItemResult{} : ItemResult{failure->second, "refused by the fake"});
    }
    co_return out;
  }
  std::string describe(const Item& item) const override {
    if (const auto* r = std::get_if<Route>(&item)) return r->destination.to_string();
    return std::get<routing::NeighbourEntry>(item).address.to_string();
  }

  Delta delta;
  std::map<std::string, int> failures;  // describe() -> errno
  std::optional<TargetProblem> read_problem;
  std::size_t last_applied = 0;
  bool last_clean = false;

 private:
  std::string name_;
  std::vector<std::string>& journal_;
  TargetInfo info_;
};

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
  }
  void TearDown() override { log::set_sink(nullptr); }

  Applier::Outcome pass() {
    auto future = asio::co_spawn(io_, applier_.pass(desired_, kernel_), asio::use_future);
    test_support::settle(io_);
    return future.get();
  }
  Applier::Outcome step() {
    auto future = asio::co_spawn(io_, applier_.step({carrier_.delta, leaf_.delta}), asio::use_future);
    test_support::settle(io_);
    return future.get();
  }
  std::size_t lines_with(std::string_view text) const {
    std::size_t count = 0;
    for (const auto& line : log_)
      if (line.find(text) != std::string::npos) ++count;
    return count;
  }

  asio::io_context io_;
  std::vector<std::string> journal_;
  std::vector<std::string> log_;
  MetricsRegistry registry_;
  ControllerMetrics metrics_{registry_};
  FakeTarget carrier_{TargetRole::carrier, "carrier", journal_};
  FakeTarget leaf_{TargetRole::leaf, "leaf", journal_};
  Applier applier_{{&carrier_, &leaf_}, metrics_, RetryOptions{50ms, 400ms}};
  DesiredState desired_;
  KernelFacts kernel_;
};

TEST_F(ApplierTest, CarrierUpsertsBeforeLeavesCarrierRemovalsAfterFinishLast) {
  carrier_.delta.upserts = {{ChangeKind::add, neighbour("10.244.3.0"), "node-c", {}}};
  carrier_.delta.removals = {{ChangeKind::remove, neighbour("10.244.9.0"), "node-j", {}}};
  leaf_.delta.upserts = {{ChangeKind::add, route("10.244.3.0/24"), "node-c", {}}};
  leaf_.delta.removals = {{ChangeKind::remove, route("10.244.9.0/24"), "node-j", {}}};
  auto outcome = pass();
  EXPECT_EQ(journal_, (std::vector<std::string>{"carrier read", "leaf read", "carrier add 10.244.3.0",
                                                "leaf delete 10.244.9.0/24", "leaf add 10.244.3.0/24",
                                                "carrier delete 10.244.9.0", "leaf finish", "carrier finish"}));
  EXPECT_EQ(outcome.changes_ok, 4u);
  EXPECT_TRUE(outcome.clean);
  EXPECT_TRUE(leaf_.last_clean);
  EXPECT_EQ(leaf_.last_applied, 2u);
  EXPECT_EQ(lines_with("\"Route added\" node=\"node-c\" item=\"10.244.3.0/24\""), 1u);
  EXPECT_EQ(lines_with("\"Entry deleted\" node=\"node-j\" item=\"10.244.9.0\""), 1u);

  // A step keeps the same order.
  journal_.clear();
  step();
  EXPECT_EQ(journal_, (std::vector<std::string>{"carrier add 10.244.3.0", "leaf delete 10.244.9.0/24",
                                                "leaf add 10.244.3.0/24", "carrier delete 10.244.9.0"}));
}

TEST_F(ApplierTest, RefusedChangeIsHeldBackUntilItsRetryAndForgottenWhenNoLongerWanted) {
  leaf_.delta.upserts = {{ChangeKind::add, route("10.244.3.0/24"), "node-c", {}},
                         {ChangeKind::add, route("10.244.4.0/24"), "node-d", {}}};
  leaf_.failures["10.244.3.0/24"] = ENETUNREACH;
  auto outcome = pass();
  EXPECT_EQ(outcome.changes_ok, 1u);
  EXPECT_EQ(outcome.changes_failed, 1u);
  EXPECT_FALSE(outcome.clean);
  ASSERT_TRUE(outcome.next_retry);
  EXPECT_EQ(applier_.backlog(), 1u);
  EXPECT_EQ(metrics_.routes_in_backoff.value(), 1);
  EXPECT_EQ(metrics_.netlink_errors(ENETUNREACH).value(), 1);
  EXPECT_EQ(metrics_.route_changes(ChangeKind::add, false).value(), 1);
  EXPECT_EQ(
      lines_with("\"Route change failed\" op=\"add\" node=\"node-c\" item=\"10.244.3.0/24\" errno=\"ENETUNREACH\" "
                 "error=\"refused by the fake\" attempt=\"1\" retry_in_ms=\"50\""),
      1u);

  // Before the deadline: held back (not sent), still waiting.
  journal_.clear();
  outcome = pass();
  EXPECT_EQ(std::count(journal_.begin(), journal_.end(), "leaf add 10.244.3.0/24"), 0);
  ASSERT_TRUE(outcome.next_retry);
  EXPECT_FALSE(outcome.clean);

  // After it: sent again, refused again, the backoff doubles.
  std::this_thread::sleep_for(60ms);
  pass();
  EXPECT_EQ(lines_with("attempt=\"2\" retry_in_ms=\"100\""), 1u);

  // No longer wanted: forgotten.
  leaf_.delta.upserts.clear();
  outcome = pass();
  EXPECT_EQ(applier_.backlog(), 0u);
  EXPECT_TRUE(outcome.clean);
  EXPECT_FALSE(outcome.next_retry);
}

TEST_F(ApplierTest, RemovalOfAnItemAlreadyGoneIsWhatWasWanted) {
  leaf_.delta.removals = {{ChangeKind::remove, route("10.244.9.0/24"), "node-j", {}}};
  leaf_.failures["10.244.9.0/24"] = ESRCH;
  auto outcome = pass();
  EXPECT_EQ(outcome.changes_ok, 1u);
  EXPECT_TRUE(outcome.clean);
  EXPECT_EQ(lines_with("\"Route deleted\" node=\"node-j\""), 1u);
  EXPECT_EQ(metrics_.route_changes(ChangeKind::remove, true).value(), 1);
}

TEST_F(ApplierTest, AStepDoesNotHoldBackAFailureTheFullPassRetries) {
  leaf_.delta.upserts = {{ChangeKind::add, route("10.244.3.0/24"), "node-c", {}}};
  leaf_.failures["10.244.3.0/24"] = ENETUNREACH;
  auto outcome = step();
  EXPECT_FALSE(outcome.clean);
  EXPECT_FALSE(leaf_.last_clean);
  EXPECT_EQ(applier_.backlog(), 0u);
  EXPECT_EQ(lines_with("\"Route change failed\" op=\"add\" node=\"node-c\""), 1u);
  EXPECT_EQ(lines_with("retry=\"full reconcile pass\""), 1u);
}

TEST_F(ApplierTest, ATargetThatCannotBeReadSitsOutAndIsRetriedLoggedOnce) {
  carrier_.read_problem = TargetProblem{"ensure device", "Operation not permitted"};
  leaf_.delta.upserts = {{ChangeKind::add, route("10.244.3.0/24"), "node-c", {}}};
  auto outcome = pass();
  EXPECT_FALSE(outcome.clean);
  ASSERT_TRUE(outcome.next_retry);
  EXPECT_EQ(outcome.changes_ok, 1u);  // the others go on
  EXPECT_EQ(lines_with("\"Fake not in place\" target=\"carrier\" step=\"ensure device\""), 1u);
  pass();
  EXPECT_EQ(lines_with("\"Fake not in place\""), 1u);  // the same problem again: -v=1 only
  carrier_.read_problem.reset();
  EXPECT_TRUE(pass().clean);
}

TEST_F(ApplierTest, ManyChangesLogTenLinesAndASummary) {
  for (int i = 0; i < 15; ++i) {
    std::string cidr = "10.244." + std::to_string(i + 10) + ".0/24";
    leaf_.delta.upserts.push_back({ChangeKind::add, route(cidr.c_str()), "node", {}});
  }
  pass();
  EXPECT_EQ(lines_with("\"Route added\""), 10u);
  EXPECT_EQ(lines_with("\"Routes changed\" added=\"15\" replaced=\"0\" deleted=\"0\" logged=\"10\""), 1u);
}

TEST(RetryDelayTest, DoublesUpToTheCap) {
  EXPECT_EQ(retry_delay(0, 100ms, 1000ms), 0ms);
  EXPECT_EQ(retry_delay(1, 100ms, 1000ms), 100ms);
  EXPECT_EQ(retry_delay(2, 100ms, 1000ms), 200ms);
  EXPECT_EQ(retry_delay(4, 100ms, 1000ms), 800ms);
  EXPECT_EQ(retry_delay(5, 100ms, 1000ms), 1000ms);
  EXPECT_EQ(retry_delay(500, 100ms, 1000ms), 1000ms);
}

}  // namespace
}  // namespace hostgw::controller
