#include "controller/applier.hpp"

#include <iterator>
#include <set>
#include <system_error>

#include "common/log.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;
using routing::ChangeKind;

std::chrono::milliseconds retry_delay(unsigned failures, std::chrono::milliseconds initial,
                                      std::chrono::milliseconds max) {
  if (failures == 0) return std::chrono::milliseconds(0);
  auto delay = initial;
  for (unsigned i = 1; i < failures && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

namespace {

// A pass logs each target's first changes one by one; the rest only at -v=2,
// and one summary line counts them all (a start installs thousands).
constexpr std::size_t kLinesPerTarget = 10;

std::string_view past_tense(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::add:
      return " added";
    case ChangeKind::replace:
      return " replaced";
    case ChangeKind::remove:
      return " deleted";
  }
  return " changed";
}

void earliest(std::optional<Applier::Clock::time_point>& current, Applier::Clock::time_point candidate) {
  if (!current || candidate < *current) current = candidate;
}

}  // namespace

// One pass or step in progress.
struct Applier::Run {
  Mode mode = Mode::pass;
  Clock::time_point now = Clock::now();
  std::vector<std::vector<ItemChange>> applied;       // per target: the changes that succeeded
  std::vector<std::map<ChangeKind, std::size_t>> ok;  // per target: successes by kind
  Outcome outcome;
};

Applier::Applier(std::vector<Target*> targets, ControllerMetrics& metrics, RetryOptions retry)
    : targets_(std::move(targets)), metrics_(metrics), retry_(retry), states_(targets_.size()) {}

asio::awaitable<Applier::Outcome> Applier::pass(const DesiredState& desired, const KernelFacts& facts) {
  Run run;
  run.mode = Mode::pass;
  run.applied.resize(targets_.size());
  run.ok.resize(targets_.size());
  Bindings bindings;
  std::vector<Delta> deltas(targets_.size());
  std::vector<bool> troubled(targets_.size(), false);
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    if (auto problem = co_await targets_[t]->read(desired, facts, bindings)) {
      target_problem(t, *problem, run.outcome.next_retry);
      troubled[t] = true;
    }
  }
  for (std::size_t t = 0; t < targets_.size(); ++t) deltas[t] = targets_[t]->diff(desired, bindings);
  hold_back_and_forget(run, deltas);
  co_await apply_in_order(run, deltas);
  for (std::size_t t = targets_.size(); t-- > 0;) {
    if (auto problem = co_await targets_[t]->finish()) {
      target_problem(t, *problem, run.outcome.next_retry);
      troubled[t] = true;
    }
  }
  bool any_trouble = false;
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    if (!troubled[t]) states_[t] = {};
    any_trouble = any_trouble || troubled[t];
  }
  run.outcome.clean = run.outcome.changes_failed == 0 && retries_.empty() && !any_trouble;
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    targets_[t]->after_pass(run.applied[t], run.outcome.clean);
    // Freed at once, not with the run: the next target builds its model
    // without this list beside it (a first pass's 5000 nexthops, ~0.7 MB).
    std::vector<ItemChange>().swap(run.applied[t]);
  }
  finish_run(run);
  co_return run.outcome;
}

asio::awaitable<Applier::Outcome> Applier::step(std::vector<Delta> deltas) {
  Run run;
  run.mode = Mode::step;
  run.applied.resize(targets_.size());
  run.ok.resize(targets_.size());
  co_await apply_in_order(run, deltas);
  run.outcome.clean = run.outcome.changes_failed == 0;
  for (auto* target : targets_) target->after_step(run.outcome.clean);
  finish_run(run);
  co_return run.outcome;
}

asio::awaitable<void> Applier::apply_in_order(Run& run, std::vector<Delta>& deltas) {
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    if (targets_[t]->info().role == TargetRole::carrier) co_await apply_batch(run, t, std::move(deltas[t].upserts));
  }
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    if (targets_[t]->info().role != TargetRole::leaf) continue;
    // One buffer alive, not two: a first pass is all upserts (5000 changes, ~0.7 MB).
    std::vector<ItemChange> batch = std::move(deltas[t].removals);
    if (batch.empty()) {
      batch = std::move(deltas[t].upserts);
    } else {
      batch.reserve(batch.size() + deltas[t].upserts.size());
      batch.insert(batch.end(), std::make_move_iterator(deltas[t].upserts.begin()),
                   std::make_move_iterator(deltas[t].upserts.end()));
    }
    std::vector<ItemChange>().swap(deltas[t].upserts);  // (`= {}` would keep its capacity)
    co_await apply_batch(run, t, std::move(batch));
  }
  for (std::size_t t = targets_.size(); t-- > 0;) {
    if (targets_[t]->info().role == TargetRole::carrier) co_await apply_batch(run, t, std::move(deltas[t].removals));
  }
}

void Applier::hold_back_and_forget(Run& run, std::vector<Delta>& deltas) {
  // Nothing waits for a retry (the usual case): nothing to hold back or forget,
  // and no set of every change's id (~1 MB at a first pass of 5000 nodes).
  if (retries_.empty()) return;
  std::set<RetryId> wanted;
  auto hold_back = [&](std::vector<ItemChange>& changes) {
    std::erase_if(changes, [&](const ItemChange& change) {
      RetryId id{change.kind, change.item};
      auto retry = retries_.find(id);
      wanted.insert(std::move(id));
      if (retry == retries_.end() || retry->second.not_before <= run.now) return false;
      earliest(run.outcome.next_retry, retry->second.not_before);
      return true;
    });
  };
  for (auto& delta : deltas) {
    hold_back(delta.upserts);
    hold_back(delta.removals);
  }
  std::erase_if(retries_, [&](const auto& entry) { return !wanted.contains(entry.first); });
}

asio::awaitable<void> Applier::apply_batch(Run& run, std::size_t target, std::vector<ItemChange> batch) {
  if (batch.empty()) co_return;
  std::vector<ItemResult> results = co_await targets_[target]->apply(batch);
  run.now = Clock::now();
  // The applied changes are kept for after_pass(): moved within the batch, which
  // then becomes (or joins) the target's list, instead of copied one by one.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.size() && i < results.size(); ++i) {
    if (!note_result(run, target, batch[i], results[i])) continue;
    if (kept != i) batch[kept] = std::move(batch[i]);
    ++kept;
  }
  batch.resize(kept);
  auto& applied = run.applied[target];
  if (applied.empty()) {
    applied = std::move(batch);
  } else {
    applied.insert(applied.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
  }
}

bool Applier::note_result(Run& run, std::size_t target, const ItemChange& change, const ItemResult& result) {
  const TargetInfo& info = targets_[target]->info();
  // A removal that finds the item gone got what it wanted.
  const bool ok = result.ok() || (change.kind == ChangeKind::remove && result.error == info.gone_errno);
  (metrics_.*info.changes)(change.kind, ok).inc();
  if (ok) {
    ++run.outcome.changes_ok;
    ++run.ok[target][change.kind];
    retries_.erase({change.kind, change.item});
    log_applied(run, target, change);
    return true;
  }
  ++run.outcome.changes_failed;
  if (info.counts_netlink_errors) metrics_.netlink_errors(result.error).inc();
  log_failed(run, target, change, result);
  return false;
}

void Applier::log_applied(Run& run, std::size_t target, const ItemChange& change) {
  std::size_t logged = 0;
  for (const auto& [kind, count] : run.ok[target]) logged += count;
  if (logged > kLinesPerTarget && log::verbosity() < 2) return;
  const TargetInfo& info = targets_[target]->info();
  log::Line line(log::Severity::info, __FILE__, __LINE__);
  line << std::string(info.noun) + std::string(past_tense(change.kind))
       << kv("node", change.node.empty() ? std::string_view("unknown") : std::string_view(change.node))
       << kv(info.item_key, targets_[target]->describe(change.item));
  if (!change.previous.empty()) line << kv("previous", change.previous);
}

void Applier::log_failed(Run& run, std::size_t target, const ItemChange& change, const ItemResult& result) {
  const TargetInfo& info = targets_[target]->info();
  log::Line line(log::Severity::error, __FILE__, __LINE__);
  line << std::string(info.noun) + " change failed" << kv("op", routing::to_string(change.kind))
       << kv("node", change.node.empty() ? std::string_view("unknown") : std::string_view(change.node))
       << kv(info.item_key, targets_[target]->describe(change.item)) << kv("errno", errno_name(result.error))
       << kv("error", result.message.empty() ? std::generic_category().message(result.error) : result.message);
  if (run.mode == Mode::step) {
    line << kv("retry", "full reconcile pass");
    return;
  }
  auto& retry = retries_[{change.kind, change.item}];
  ++retry.failures;
  const auto delay = retry_delay(retry.failures, retry_.initial, retry_.max);
  retry.not_before = run.now + delay;
  earliest(run.outcome.next_retry, retry.not_before);
  line << kv("attempt", retry.failures) << kv("retry_in_ms", delay.count());
}

void Applier::target_problem(std::size_t target, const TargetProblem& problem, std::optional<Clock::time_point>& next) {
  const TargetInfo& info = targets_[target]->info();
  TargetState& state = states_[target];
  ++state.failures;
  const auto delay = retry_delay(state.failures, retry_.initial, retry_.max);
  state.retry = Clock::now() + delay;
  earliest(next, *state.retry);
  std::string text = problem.step + ": " + problem.error;
  // The same problem again is logged at -v=1 only (it recurs on every retry).
  if (text != state.problem) {
    state.problem = std::move(text);
    KHG_LOG(error) << info.problem_line << kv("target", info.name) << kv("step", problem.step)
                   << kv("error", problem.error) << kv("retry_in_ms", delay.count());
  } else {
    KHG_VLOG(1) << info.problem_line << kv("target", info.name) << kv("step", problem.step)
                << kv("error", problem.error) << kv("retry_in_ms", delay.count());
  }
}

void Applier::finish_run(Run& run) {
  for (std::size_t t = 0; t < targets_.size(); ++t) {
    std::size_t ok = 0;
    for (const auto& [kind, count] : run.ok[t]) ok += count;
    if (ok <= kLinesPerTarget) continue;
    KHG_LOG(info) << std::string(targets_[t]->info().plural) + " changed" << kv("added", run.ok[t][ChangeKind::add])
                  << kv("replaced", run.ok[t][ChangeKind::replace]) << kv("deleted", run.ok[t][ChangeKind::remove])
                  << kv("logged", kLinesPerTarget) << kv("hint", "-v=2 logs every change");
  }
  std::size_t routes_waiting = 0;
  for (const auto& [id, state] : retries_)
    if (std::holds_alternative<routing::Route>(id.second)) ++routes_waiting;
  metrics_.routes_in_backoff.set(static_cast<double>(routes_waiting));
}

}  // namespace hostgw::controller
