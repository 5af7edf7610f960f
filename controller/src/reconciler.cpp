#include "controller/reconciler.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "common/log.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

namespace {

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EngineOptions engine_options(const ReconcilerOptions& options) {
  return {.node_name = options.node_name,
          .desired = {.routes = options.routes,
                      .vxlan_vni = options.vxlan_vni,
                      .vxlan_port = options.vxlan_port,
                      .pod_network = options.pod_network},
          .retry = {.initial = options.retry_initial, .max = options.retry_max},
          .cni_conf_dir = options.cni_conf_dir,
          .dry_run = options.dry_run,
          .nexthops_supported = options.nexthops_supported,
          .use_nexthops = options.use_nexthops};
}

}  // namespace

Reconciler::Reconciler(asio::any_io_executor executor, routing::RouteTable& table, ReconcilerOptions options,
                       ControllerMetrics& metrics, routing::OverlayTable* overlay,
                       netfilter::MasqueradeTable* masquerade)
    : wake_(std::move(executor)),
      options_(std::move(options)),
      metrics_(metrics),
      engine_(table, overlay, engine_options(options_), metrics, masquerade) {}

void Reconciler::on_node_event(const k8s::NodeEvent& event) {
  bool first_list = event.type == k8s::NodeEvent::Type::resynced && !view_.has_full_list();
  bool relevant = view_.apply(event);
  metrics_.nodes.set(static_cast<double>(view_.size()));
  if (first_list) {
    KHG_LOG(info) << "Node list received" << kv("nodes", view_.size());
    // Triggers before the list left a pass pending that the loop could not run yet.
    wake_.cancel();
  }
  if (event.type == k8s::NodeEvent::Type::resynced) {
    pod_cidrs_.rebuild(view_);
    engine_.invalidate();
    request_pass("relist");
  } else if (relevant) {
    if (const auto* node = view_.find(event.node.name)) {
      pod_cidrs_.set(node->name, node->pod_cidrs);
    } else {
      pod_cidrs_.erase(event.node.name);
    }
    metrics_.triggers("node").inc();
    if (event.received != Clock::time_point{} && !first_event_arrival_) first_event_arrival_ = event.received;
    request_node_step(event.node.name);
  }
}

void Reconciler::on_kernel_change(const routing::ChangeNotice& notice) {
  if (!notice.relevant && !notice.resync_needed) return;
  KHG_VLOG(1) << "Kernel change" << kv("what", notice.what) << kv("resync", notice.resync_needed);
  if (notice.only_owned_routes && !notice.resync_needed && !notice.owned_routes.empty()) {
    metrics_.triggers("kernel").inc();
    request_route_step(notice.owned_routes);
    return;
  }
  request_pass("kernel");
}

void Reconciler::request_pass(std::string_view source) {
  metrics_.triggers(source).inc();
  want_full_pass();
}

void Reconciler::want_full_pass() {
  if (pending_) return;
  pending_ = true;
  wake_.cancel();
}

void Reconciler::stop() {
  stopped_ = true;
  wake_.cancel();
}

asio::awaitable<void> Reconciler::run() {
  next_resync_ = Clock::now() + options_.resync_period;
  while (!stopped_) {
    auto now = Clock::now();
    if (view_.has_full_list()) {
      bool resync_due = now >= next_resync_;
      bool retry_due = next_retry_ && now >= *next_retry_;
      bool wanted = pending_ || resync_due || retry_due;
      auto earliest_start = last_pass_start_ ? *last_pass_start_ + options_.min_pass_interval : now;
      if (burst_until_) earliest_start = std::max(earliest_start, *burst_until_);
      if (wanted && now >= earliest_start) {
        if (!pending_) metrics_.triggers(resync_due ? "resync" : "retry").inc();
        // Only work that triggers asked for paces the next triggers: an event
        // right after a periodic resync is still isolated, not part of a burst.
        if (pending_) last_pass_start_ = now;
        pending_ = false;
        burst_until_.reset();
        co_await pass();
        next_resync_ = Clock::now() + options_.resync_period;
        continue;
      }
      if (!wanted && step_wanted()) {
        // Steps are not paced by passes: an event right after a pass (the
        // first sync included) is handled at once, without a dump.
        if (take_step(now)) {
          co_await incremental_step();
          continue;
        }
        // Over the budget: one full pass at the end of the window takes the rest.
        dirty_nodes_.clear();
        route_events_.clear();
        pending_ = wanted = true;
        burst_until_ = step_window_start_ + options_.min_pass_interval;
        earliest_start = std::max(earliest_start, *burst_until_);
      }
      auto deadline = next_resync_;
      if (next_retry_) deadline = std::min(deadline, *next_retry_);
      if (wanted) deadline = earliest_start;
      wake_.expires_at(deadline);
    } else {
      wake_.expires_at(Clock::time_point::max());
    }
    // Cancelled by request_pass()/stop(), or expired: either way, look again.
    co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Reconciler::watch_kernel(routing::ChangeMonitor& monitor) {
  while (!stopped_) {
    routing::ChangeNotice notice = co_await monitor.next_change();
    if (stopped_) break;
    on_kernel_change(notice);
  }
}

asio::awaitable<void> Reconciler::pass() {
  const auto started = Clock::now();
  pass_started_ = started;
  ++passes_;
  metrics_.passes.inc();
  // This pass covers every change queued so far; later ones stay queued.
  dirty_nodes_.clear();
  route_events_.clear();
  const std::optional<Clock::time_point> arrival = std::exchange(first_event_arrival_, std::nullopt);
  Engine::PassResult result = co_await engine_.full_pass(view_);
  observe_event_apply(arrival, result.failed_step.empty() && result.outcome.changes_ok > 0);
  if (!result.failed_step.empty()) {
    pass_failed(result);
  } else {
    pass_failures_in_row_ = 0;
    next_retry_ = result.outcome.next_retry;
    pass_done(result, started);
  }
  pass_started_.reset();
}

void Reconciler::pass_failed(const Engine::PassResult& result) {
  ++pass_failures_in_row_;
  auto delay = retry_delay(pass_failures_in_row_, options_.retry_initial, options_.retry_max);
  next_retry_ = Clock::now() + delay;
  metrics_.pass_failures.inc();
  KHG_LOG(error) << "Reconcile pass failed" << kv("step", result.failed_step) << kv("error", result.error.message)
                 << kv("retry_in_ms", delay.count());
}

void Reconciler::pass_done(const Engine::PassResult& result, Clock::time_point started) {
  metrics_.nodes.set(static_cast<double>(view_.size()));
  metrics_.last_sync.set(unix_seconds());
  metrics_.pass_duration.observe(std::chrono::duration<double>(Clock::now() - started).count());
  PassReport report;
  report.changes_ok = result.outcome.changes_ok;
  report.changes_failed = result.outcome.changes_failed;
  report.first_sync = !ready_;
  if (!ready_) {
    ready_ = true;
    metrics_.ready.set(1);
    KHG_LOG(info) << "First sync complete" << kv("routes", result.routes) << kv("skipped", result.skipped)
                  << kv("changes", report.changes_ok) << kv("failed", report.changes_failed);
  } else {
    KHG_VLOG(1) << "Reconcile pass done" << kv("routes", result.routes) << kv("changes", report.changes_ok)
                << kv("failed", report.changes_failed);
  }
  if (observer_) {
    // The view may not change while the observer runs (no await in between).
    report.self = view_.find(options_.node_name);
    report.connected = &result.connected;
    observer_(report);
  }
}

void Reconciler::observe_event_apply(std::optional<Clock::time_point> arrival, bool changed) {
  if (!arrival || !changed) return;
  metrics_.event_apply.observe(std::chrono::duration<double>(Clock::now() - *arrival).count());
}

// --- incremental path -------------------------------------------------------

void Reconciler::request_node_step(const std::string& name) {
  if (pending_) return;  // the coming full pass covers it
  if (!engine_.can_step()) {
    want_full_pass();
    return;
  }
  dirty_nodes_.insert(name);
  wake_.cancel();
}

void Reconciler::request_route_step(const std::vector<routing::OwnedRouteEvent>& events) {
  if (pending_) return;
  if (!engine_.can_step()) {
    want_full_pass();
    return;
  }
  route_events_.insert(route_events_.end(), events.begin(), events.end());
  wake_.cancel();
}

bool Reconciler::take_step(Clock::time_point now) {
  if (now - step_window_start_ >= options_.min_pass_interval) {
    step_window_start_ = now;
    steps_in_window_ = 0;
  }
  if (steps_in_window_ >= options_.steps_per_interval) return false;
  ++steps_in_window_;
  return true;
}

asio::awaitable<void> Reconciler::incremental_step() {
  const std::set<std::string> nodes = std::exchange(dirty_nodes_, {});
  const std::vector<routing::OwnedRouteEvent> events = std::exchange(route_events_, {});
  const std::optional<Clock::time_point> arrival = std::exchange(first_event_arrival_, std::nullopt);
  const auto started = Clock::now();
  pass_started_ = started;
  Engine::StepResult result = co_await engine_.step(view_, pod_cidrs_, nodes, events);
  pass_started_.reset();
  // A step that falls back to a full pass leaves the arrival to that pass
  // (the earlier one, if an event came meanwhile).
  if (!result.fallback.empty() && arrival) first_event_arrival_ = std::min(first_event_arrival_.value_or(*arrival), *arrival);
  observe_event_apply(result.fallback.empty() ? arrival : std::nullopt, result.changed);
  if (result.planned) ++incremental_steps_;
  if (result.changed) {
    metrics_.last_sync.set(unix_seconds());
    metrics_.pass_duration.observe(std::chrono::duration<double>(Clock::now() - started).count());
  }
  if (!result.fallback.empty()) {
    KHG_VLOG(1) << "Full reconcile pass instead of an incremental step" << kv("reason", result.fallback);
    want_full_pass();
  }
}

}  // namespace hostgw::controller
