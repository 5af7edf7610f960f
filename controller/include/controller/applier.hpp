#pragma once

// Applier: the one place that turns the targets' deltas into kernel (or file)
// changes. It owns, for every target alike, the order of the batches, the
// per-change retry with exponential backoff, the log lines ("Route added"
// node=... route=...), the change and error counters, and a target's
// problems (it could not be read) with their own backoff.
//
// Order of one pass or step (targets listed in dependency order):
//   1. each carrier's upserts, in target order (the device's entries before
//      the routes through it)
//   2. each leaf's batch, removals first, in target order
//   3. each carrier's removals, in reverse order (after the routes through them)
//   4. (full pass) each target's finish(), in reverse order
//
// One io_context, one thread: every method must be called from it.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/target.hpp"

namespace hostgw::controller {

// The wait before retry number `failures` (1 = after the first failure):
// initial * 2^(failures-1), capped at max.
std::chrono::milliseconds retry_delay(unsigned failures, std::chrono::milliseconds initial,
                                      std::chrono::milliseconds max);

struct RetryOptions {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{60000};
};

class Applier {
 public:
  using Clock = std::chrono::steady_clock;

  // `targets` in dependency order; they outlive the Applier.
  Applier(std::vector<Target*> targets, ControllerMetrics& metrics, RetryOptions retry);

  struct Outcome {
    std::size_t changes_ok = 0;
    std::size_t changes_failed = 0;
    // The earliest moment a change or a target waits for (a full pass then).
    std::optional<Clock::time_point> next_retry;
    // Nothing failed, nothing waits for a retry, every target was read.
    bool clean = false;
  };

  // A full pass: every target read, diffed against `desired` and applied. A
  // change whose retry is not due yet is held back; a retry no longer wanted
  // is forgotten.
  boost::asio::awaitable<Outcome> pass(const DesiredState& desired, const KernelFacts& facts);
  // An incremental step: `deltas[i]` for the i-th target. A failed change is
  // not held back: the caller falls back to a full pass, which retries it at
  // once and then with backoff.
  boost::asio::awaitable<Outcome> step(std::vector<Delta> deltas);

  // Changes waiting for a retry after they were refused.
  std::size_t backlog() const { return retries_.size(); }

 private:
  enum class Mode { pass, step };
  struct Run;
  struct RetryState {
    unsigned failures = 0;
    Clock::time_point not_before;
  };
  struct TargetState {
    unsigned failures = 0;
    std::optional<Clock::time_point> retry;
    std::string problem;  // last logged
  };
  using RetryId = std::pair<routing::ChangeKind, Item>;

  boost::asio::awaitable<void> apply_in_order(Run& run, std::vector<Delta>& deltas);
  boost::asio::awaitable<void> apply_batch(Run& run, std::size_t target, std::vector<ItemChange> batch);
  // Counts and logs one change's result; true if it counts as applied.
  bool note_result(Run& run, std::size_t target, const ItemChange& change, const ItemResult& result);
  void log_applied(Run& run, std::size_t target, const ItemChange& change);
  void log_failed(Run& run, std::size_t target, const ItemChange& change, const ItemResult& result);
  void target_problem(std::size_t target, const TargetProblem& problem, std::optional<Clock::time_point>& next);
  void hold_back_and_forget(Run& run, std::vector<Delta>& deltas);
  void finish_run(Run& run);

  std::vector<Target*> targets_;
  ControllerMetrics& metrics_;
  RetryOptions retry_;
  std::map<RetryId, RetryState> retries_;
  std::vector<TargetState> states_;
};

}  // namespace hostgw::controller
