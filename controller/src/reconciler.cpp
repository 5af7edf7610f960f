#include "controller/reconciler.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "common/log.hpp"
#include "controller/route_diff.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;
using routing::ChangeKind;
using routing::Route;

std::chrono::milliseconds retry_delay(unsigned failures, std::chrono::milliseconds initial,
                                      std::chrono::milliseconds max) {
  if (failures == 0) return std::chrono::milliseconds(0);
  auto delay = initial;
  for (unsigned i = 1; i < failures && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

namespace {

std::string family_text(std::optional<routing::Family> family) {
  return family ? std::string(routing::to_string(*family)) : std::string("all");
}

std::string_view past_tense(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::add:
      return "Route added";
    case ChangeKind::replace:
      return "Route replaced";
    case ChangeKind::remove:
      return "Route deleted";
  }
  return "Route changed";
}

std::string route_text(const Route& route) {
  std::string text = route.destination.to_string();
  if (route.gateway) text += " via " + route.gateway->to_string();
  if (route.oif) text += " dev #" + std::to_string(route.oif);
  return text;
}

// A pass logs its first route changes one by one; the rest only at -v=2,
// and one summary line counts them all (a start installs thousands).
constexpr std::size_t kRouteLinesPerPass = 10;

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Reconciler::Reconciler(asio::any_io_executor executor, routing::RouteTable& table, ReconcilerOptions options,
                       ControllerMetrics& metrics, routing::OverlayTable* overlay)
    : wake_(std::move(executor)), table_(table), options_(std::move(options)), metrics_(metrics), overlay_(overlay) {
  if (!overlay_) options_.routes.cross_subnet = CrossSubnet::skip;
}

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
    incremental_.invalidate();
    request_pass("relist");
  } else if (relevant) {
    if (const auto* node = view_.find(event.node.name)) {
      pod_cidrs_.set(node->name, node->pod_cidrs);
    } else {
      pod_cidrs_.erase(event.node.name);
    }
    metrics_.triggers("node").inc();
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
      if (wanted && now >= earliest_start) {
        if (!pending_) metrics_.triggers(resync_due ? "resync" : "retry").inc();
        // Only work that triggers asked for paces the next triggers: an event
        // right after a periodic resync is still isolated, not part of a burst.
        if (pending_) last_pass_start_ = now;
        pending_ = false;
        co_await pass();
        next_resync_ = Clock::now() + options_.resync_period;
        continue;
      }
      if (!wanted && step_wanted()) {
        if (now >= earliest_start) {
          // Isolated: handled at once, without a dump.
          last_pass_start_ = now;
          co_await incremental_step();
          continue;
        }
        // Part of a burst: one full pass after the interval takes all of it.
        dirty_nodes_.clear();
        route_events_.clear();
        pending_ = wanted = true;
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

void Reconciler::note_self(const k8s::NodeInfo* self) {
  std::string state;
  if (!self) {
    state = "missing";
  } else if (self->pod_cidrs.empty()) {
    state = "no-pod-cidr";
  } else {
    state = "ok";
  }
  if (state == self_state_) return;
  self_state_ = state;
  if (state == "missing") {
    KHG_LOG(warning) << "This node is not in the node list; routing the other nodes" << kv("node", options_.node_name)
                     << kv("hint", "check --node-name");
  } else if (state == "no-pod-cidr") {
    KHG_LOG(warning) << "This node has no podCIDR yet; routing the other nodes" << kv("node", options_.node_name);
  } else {
    std::string cidrs;
    for (const auto& cidr : self->pod_cidrs) cidrs += (cidrs.empty() ? "" : ",") + cidr;
    KHG_LOG(info) << "This node's podCIDR" << kv("node", options_.node_name) << kv("podCIDRs", cidrs);
  }
}

void Reconciler::log_skips(const std::vector<SkippedNode>& skipped) {
  std::map<std::pair<std::string, int>, SkipState> now;
  std::map<SkipReason, int> counts;
  for (const auto& skip : skipped) {
    ++counts[skip.reason];
    std::pair<std::string, int> key{skip.node, skip.family ? static_cast<int>(*skip.family) : 0};
    auto previous = skips_.find(key);
    bool changed =
        previous == skips_.end() || previous->second.reason != skip.reason || previous->second.detail != skip.detail;
    if (changed && skip.reason != SkipReason::self) {
      bool loud = skip.reason == SkipReason::overlaps_other_node || skip.reason == SkipReason::unreachable_address ||
                  skip.reason == SkipReason::own_address || skip.reason == SkipReason::overlaps_own_pod_cidr ||
                  skip.reason == SkipReason::overlaps_connected_network ||
                  skip.reason == SkipReason::invalid_pod_cidr || skip.reason == SkipReason::invalid_address ||
                  skip.reason == SkipReason::default_route || skip.reason == SkipReason::outside_cluster_cidr;
      if (loud) {
        KHG_LOG(warning) << "Node skipped" << kv("node", skip.node) << kv("family", family_text(skip.family))
                         << kv("reason", to_string(skip.reason)) << kv("detail", skip.detail);
      } else {
        KHG_LOG(info) << "Node skipped" << kv("node", skip.node) << kv("family", family_text(skip.family))
                      << kv("reason", to_string(skip.reason)) << kv("detail", skip.detail);
      }
    }
    now.emplace(std::move(key), SkipState{skip.reason, skip.detail});
  }
  for (const auto& [key, state] : skips_) {
    if (now.contains(key) || state.reason == SkipReason::self) continue;
    if (!view_.find(key.first)) continue;  // deleted: the route deletion says enough
    KHG_LOG(info) << "Node no longer skipped" << kv("node", key.first)
                  << kv("family", key.second ? std::string(routing::to_string(static_cast<routing::Family>(key.second)))
                                             : std::string("all"))
                  << kv("previous_reason", to_string(state.reason));
  }
  skips_ = std::move(now);
  for (SkipReason reason : kAllSkipReasons) metrics_.skipped(reason).set(counts[reason]);
}

asio::awaitable<void> Reconciler::pass() {
  const auto started = Clock::now();
  pass_started_ = started;
  ++passes_;
  metrics_.passes.inc();

  auto fail_pass = [&](std::string_view what, const std::error_code& error) {
    ++pass_failures_in_row_;
    auto delay = retry_delay(pass_failures_in_row_, options_.retry_initial, options_.retry_max);
    next_retry_ = Clock::now() + delay;
    metrics_.pass_failures.inc();
    KHG_LOG(error) << "Reconcile pass failed" << kv("step", what) << kv("error", error.message())
                   << kv("retry_in_ms", delay.count());
  };

  // This pass covers every change queued so far; later ones stay queued.
  dirty_nodes_.clear();
  route_events_.clear();
  incremental_.invalidate();

  routing::ConnectedResult connected = co_await table_.connected_networks();
  if (connected.error) {
    fail_pass("read connected networks", connected.error);
    pass_started_.reset();
    co_return;
  }
  routing::DumpResult dump = co_await table_.dump_routes(options_.routes.table, options_.routes.protocol);
  if (dump.error) {
    fail_pass("dump routes", dump.error);
    pass_started_.reset();
    co_return;
  }
  pass_failures_in_row_ = 0;

  // From here to apply() nothing awaits: the view cannot change underneath.
  const k8s::NodeInfo* self = view_.find(options_.node_name);
  note_self(self);
  DesiredRoutes desired =
      desired_routes(view_.nodes(), options_.node_name, connected.networks, options_.routes, dump.routes);
  log_skips(desired.skipped);
  // The device and entries the overlay routes need (awaits: uses no view pointer).
  co_await reconcile_overlay(desired);
  // The wanted routes' owners: for this pass's log and, kept, for the next pass
  // (a route deleted then belongs to a node that left the wanted set now).
  std::map<routing::IpPrefix, std::string> route_nodes;
  for (std::size_t i = 0; i < desired.routes.size(); ++i)
    route_nodes.emplace(desired.routes[i].destination, desired.route_nodes[i]);

  RouteDiff changes = diff(desired.routes, dump.routes);
  std::map<routing::RouteKey, const Route*> installed;
  for (const auto& route : dump.routes) installed.emplace(key_of(route), &route);

  // Leave out changes still waiting for their retry; forget retries of changes no longer needed.
  const auto now = Clock::now();
  std::vector<routing::RouteChange> batch;
  std::set<std::pair<ChangeKind, Route>> wanted_changes;
  std::optional<Clock::time_point> earliest_retry;
  for (auto& change : changes.changes()) {
    std::pair<ChangeKind, Route> id{change.kind, change.route};
    wanted_changes.insert(id);
    auto retry = retries_.find(id);
    if (retry != retries_.end() && retry->second.not_before > now) {
      if (!earliest_retry || retry->second.not_before < *earliest_retry) earliest_retry = retry->second.not_before;
      continue;
    }
    batch.push_back(std::move(change));
  }
  std::erase_if(retries_, [&](const auto& entry) { return !wanted_changes.contains(entry.first); });

  auto node_of = [&](const Route& route) -> std::string {
    if (auto it = route_nodes.find(route.destination); it != route_nodes.end()) return it->second;
    auto it = route_nodes_.find(route.destination);
    return it == route_nodes_.end() ? std::string("unknown") : it->second;
  };

  PassReport report;
  std::ptrdiff_t installed_delta = 0;
  std::vector<routing::RouteChange> applied;  // succeeded, for the incremental model
  std::size_t route_lines = 0;
  std::map<ChangeKind, std::size_t> kinds_ok;
  if (!batch.empty()) {
    std::vector<routing::ChangeResult> results = co_await table_.apply(batch);
    const auto applied_at = Clock::now();
    for (std::size_t i = 0; i < results.size(); ++i) {
      auto& result = results[i];
      const auto& change = result.change;
      // An already deleted route is what we wanted.
      bool ok = result.ok() || (change.kind == ChangeKind::remove && result.error == ESRCH);
      std::pair<ChangeKind, Route> id{change.kind, change.route};
      metrics_.route_changes(change.kind, ok).inc();
      if (ok) {
        ++report.changes_ok;
        ++kinds_ok[change.kind];
        retries_.erase(id);
        applied.push_back(change);
        if (change.kind == ChangeKind::add) ++installed_delta;
        if (change.kind == ChangeKind::remove) --installed_delta;
        if (route_lines++ >= kRouteLinesPerPass && log::verbosity() < 2) continue;
        if (change.kind == ChangeKind::replace) {
          auto previous = installed.find(key_of(change.route));
          KHG_LOG(info) << past_tense(change.kind) << kv("node", node_of(change.route))
                        << kv("route", route_text(change.route))
                        << kv("previous",
                              previous == installed.end() ? std::string("none") : route_text(*previous->second));
        } else {
          KHG_LOG(info) << past_tense(change.kind) << kv("node", node_of(change.route))
                        << kv("route", route_text(change.route));
        }
        continue;
      }
      ++report.changes_failed;
      metrics_.netlink_errors(result.error).inc();
      auto& retry = retries_[id];
      ++retry.failures;
      retry.error = result.error;
      auto delay = retry_delay(retry.failures, options_.retry_initial, options_.retry_max);
      retry.not_before = applied_at + delay;
      if (!earliest_retry || retry.not_before < *earliest_retry) earliest_retry = retry.not_before;
      KHG_LOG(error) << "Route change failed" << kv("op", routing::to_string(change.kind))
                     << kv("node", node_of(change.route)) << kv("route", route_text(change.route))
                     << kv("errno", errno_name(result.error))
                     << kv("error",
                           result.message.empty() ? std::generic_category().message(result.error) : result.message)
                     << kv("attempt", retry.failures) << kv("retry_in_ms", delay.count());
    }
  }
  co_await finish_overlay();
  if (overlay_retry_ && (!earliest_retry || *overlay_retry_ < *earliest_retry)) earliest_retry = overlay_retry_;
  next_retry_ = earliest_retry;
  if (report.changes_ok > kRouteLinesPerPass) {
    KHG_LOG(info) << "Routes changed" << kv("added", kinds_ok[ChangeKind::add])
                  << kv("replaced", kinds_ok[ChangeKind::replace]) << kv("deleted", kinds_ok[ChangeKind::remove])
                  << kv("logged", kRouteLinesPerPass) << kv("hint", "-v=2 logs every route change");
  }

  route_nodes_ = std::move(route_nodes);
  // A clean pass (nothing refused, nothing waiting for a retry) is the model
  // the incremental path plans against until the next full pass.
  if (report.changes_failed == 0 && retries_.empty() && !overlay_retry_) {
    incremental_.reset(connected.networks, dump.routes, desired, applied);
  }

  metrics_.routes_desired.set(static_cast<double>(desired.routes.size()));
  metrics_.routes_installed.set(static_cast<double>(static_cast<std::ptrdiff_t>(dump.routes.size()) + installed_delta));
  metrics_.routes_in_backoff.set(static_cast<double>(retries_.size()));
  metrics_.nodes.set(static_cast<double>(view_.size()));
  metrics_.last_sync.set(unix_seconds());
  const auto finished = Clock::now();
  metrics_.pass_duration.observe(std::chrono::duration<double>(finished - started).count());
  pass_started_.reset();

  report.first_sync = !ready_;
  if (!ready_) {
    ready_ = true;
    metrics_.ready.set(1);
    KHG_LOG(info) << "First sync complete" << kv("routes", desired.routes.size())
                  << kv("skipped", desired.skipped.size()) << kv("changes", report.changes_ok)
                  << kv("failed", report.changes_failed);
  } else {
    KHG_VLOG(1) << "Reconcile pass done" << kv("routes", desired.routes.size()) << kv("changes", report.changes_ok)
                << kv("failed", report.changes_failed);
  }
  if (observer_) {
    // The view may not change while the observer runs (no await in between).
    report.self = view_.find(options_.node_name);
    report.connected = &connected.networks;
    observer_(report);
  }
}

void Reconciler::overlay_failed(std::string_view step, const std::string& error) {
  ++overlay_failures_;
  auto delay = retry_delay(overlay_failures_, options_.retry_initial, options_.retry_max);
  overlay_retry_ = Clock::now() + delay;
  std::string problem = std::string(step) + ": " + error;
  // The same problem again is logged at -v=1 only (it recurs on every retry).
  if (problem != overlay_problem_) {
    overlay_problem_ = problem;
    KHG_LOG(error) << "VXLAN overlay not in place" << kv("device", routing::kVxlanDeviceName) << kv("step", step)
                   << kv("error", error) << kv("retry_in_ms", delay.count());
  } else {
    KHG_VLOG(1) << "VXLAN overlay still not in place" << kv("step", step) << kv("error", error)
                << kv("retry_in_ms", delay.count());
  }
}

asio::awaitable<void> Reconciler::reconcile_overlay(DesiredRoutes& desired) {
  overlay_after_ = {};
  overlay_retry_.reset();
  if (!overlay_) co_return;
  const std::string name(routing::kVxlanDeviceName);
  DesiredOverlay plan =
      desired_overlay(desired.overlay_self, desired.overlay_peers, options_.vxlan_vni, options_.vxlan_port);
  metrics_.overlay_peers.set(static_cast<double>(plan.neighbours.size()));

  if (!plan.device) {
    // No overlay peer (or --cross-subnet=skip): a device of ours goes, after
    // the routes through it. Deleting rather than keeping it idle closes its
    // UDP socket; recreating it when a peer comes back is one message.
    auto index = co_await overlay_->device_index(name);
    if (index) {
      overlay_after_.index = *index;
      overlay_after_.delete_device = true;
    }
    co_return;
  }

  // Without a device the overlay routes cannot be installed: leave them out.
  auto drop_overlay_routes = [&] {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < desired.routes.size(); ++i) {
      if (desired.routes[i].onlink) continue;
      if (kept != i) {
        desired.routes[kept] = std::move(desired.routes[i]);
        desired.route_nodes[kept] = std::move(desired.route_nodes[i]);
      }
      ++kept;
    }
    desired.routes.resize(kept);
    desired.route_nodes.resize(kept);
  };

  routing::EnsureDeviceResult ensured = co_await overlay_->ensure_device(*plan.device);
  if (ensured.error) {
    overlay_failed("ensure device", ensured.message.empty() ? ensured.error.message() : ensured.message);
    drop_overlay_routes();
    co_return;
  }
  const auto& device = *plan.device;
  if (ensured.created) {
    metrics_.overlay_device_creations.inc();
    KHG_LOG(info) << "VXLAN device created" << kv("device", device.name) << kv("index", ensured.index)
                  << kv("vni", device.vni) << kv("port", device.port) << kv("local", device.local.to_string())
                  << kv("mtu", device.mtu) << kv("address", device.address.to_string())
                  << kv("mac", device.mac.to_string());
  } else if (ensured.changed) {
    KHG_LOG(info) << "VXLAN device fixed" << kv("device", device.name) << kv("index", ensured.index)
                  << kv("mtu", device.mtu) << kv("address", device.address.to_string());
  }
  for (auto& route : desired.routes)
    if (route.onlink) route.oif = ensured.index;
  options_.routes.overlay_oif = ensured.index;

  routing::OverlayDump dump = co_await overlay_->dump(ensured.index);
  if (dump.error) {
    overlay_failed("dump neighbour/FDB entries", dump.error.message());
    co_return;
  }
  OverlayDiff changes = overlay_diff(plan, dump);
  overlay_after_.index = ensured.index;
  overlay_after_.removals = std::move(changes.removals);
  if (changes.upserts.empty()) {
    if (overlay_failures_ == 0) overlay_problem_.clear();
    co_return;
  }
  auto results = co_await overlay_->apply(ensured.index, std::move(changes.upserts));
  bool failed = false;
  for (const auto& result : results) {
    metrics_.overlay_entry_changes(result.change.kind, result.ok()).inc();
    if (result.ok()) {
      KHG_LOG(info) << (result.change.kind == ChangeKind::add ? "Overlay entry added" : "Overlay entry replaced")
                    << kv("entry", to_string(result.change.entry));
      continue;
    }
    failed = true;
    KHG_LOG(error) << "Overlay entry change failed" << kv("op", routing::to_string(result.change.kind))
                   << kv("entry", to_string(result.change.entry)) << kv("errno", errno_name(result.error))
                   << kv("error", result.message.empty() ? std::generic_category().message(result.error) : result.message);
  }
  if (failed) {
    overlay_failed("add neighbour/FDB entries", "see the errors above");
  } else {
    overlay_failures_ = 0;
    overlay_problem_.clear();
  }
}

asio::awaitable<void> Reconciler::finish_overlay() {
  if (!overlay_) co_return;
  OverlayAfterRoutes after = std::move(overlay_after_);
  overlay_after_ = {};
  if (!after.removals.empty()) {
    auto results = co_await overlay_->apply(after.index, std::move(after.removals));
    for (const auto& result : results) {
      // An entry already gone is what we wanted.
      bool ok = result.ok() || result.error == ENOENT;
      metrics_.overlay_entry_changes(result.change.kind, ok).inc();
      if (ok) {
        KHG_LOG(info) << "Overlay entry deleted" << kv("entry", to_string(result.change.entry));
      } else {
        KHG_LOG(error) << "Overlay entry deletion failed" << kv("entry", to_string(result.change.entry))
                       << kv("errno", errno_name(result.error))
                       << kv("error",
                             result.message.empty() ? std::generic_category().message(result.error) : result.message);
        overlay_failed("delete neighbour/FDB entries", "see the errors above");
      }
    }
  }
  if (after.delete_device) {
    std::error_code error = co_await overlay_->delete_device(std::string(routing::kVxlanDeviceName));
    if (error) {
      overlay_failed("delete device", error.message());
    } else {
      options_.routes.overlay_oif = 0;
      KHG_LOG(info) << "VXLAN device deleted" << kv("device", routing::kVxlanDeviceName)
                    << kv("reason", options_.routes.cross_subnet == CrossSubnet::skip ? "--cross-subnet=skip"
                                                                                     : "no peer on another subnet");
    }
  }
}

// --- incremental path -------------------------------------------------------

void Reconciler::request_node_step(const std::string& name) {
  if (pending_) return;  // the coming full pass covers it
  if (!incremental_.valid()) {
    want_full_pass();
    return;
  }
  dirty_nodes_.insert(name);
  wake_.cancel();
}

void Reconciler::request_route_step(const std::vector<routing::OwnedRouteEvent>& events) {
  if (pending_) return;
  if (!incremental_.valid()) {
    want_full_pass();
    return;
  }
  route_events_.insert(route_events_.end(), events.begin(), events.end());
  wake_.cancel();
}

asio::awaitable<void> Reconciler::incremental_step() {
  const std::set<std::string> nodes = std::exchange(dirty_nodes_, {});
  const std::vector<routing::OwnedRouteEvent> events = std::exchange(route_events_, {});
  auto fall_back = [&](std::string_view why) {
    KHG_VLOG(1) << "Full reconcile pass instead of an incremental step" << kv("reason", why);
    incremental_.invalidate();
    want_full_pass();
  };
  if (!incremental_.valid() || !retries_.empty()) {
    fall_back("no clean full pass to build on");
    co_return;
  }
  std::vector<PlannedChange> planned;
  if (!events.empty()) {
    auto changes = incremental_.plan_route_events(events);
    if (!changes) {
      fall_back("an owned route was added or replaced by someone else");
      co_return;
    }
    planned = std::move(*changes);
  }
  for (const auto& name : nodes) {
    auto changes = incremental_.plan_node(name, view_.find(name), view_, options_.node_name, options_.routes,
                                          pod_cidrs_);
    if (!changes) {
      fall_back("node " + name + " is this node, skipped, or overlaps another node");
      co_return;
    }
    planned.insert(planned.end(), std::make_move_iterator(changes->begin()), std::make_move_iterator(changes->end()));
  }
  ++incremental_steps_;
  if (planned.empty()) co_return;

  const auto started = Clock::now();
  pass_started_ = started;
  std::vector<routing::RouteChange> batch;
  batch.reserve(planned.size());
  for (auto& entry : planned) {
    if (entry.node.empty()) {
      auto it = route_nodes_.find(entry.change.route.destination);
      entry.node = it == route_nodes_.end() ? std::string("unknown") : it->second;
    } else if (entry.change.kind != ChangeKind::remove) {
      route_nodes_[entry.change.route.destination] = entry.node;
    }
    batch.push_back(entry.change);
  }
  std::vector<routing::ChangeResult> results = co_await table_.apply(batch);
  bool failed = false;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    const auto& change = result.change;
    const std::string& node = planned[i].node;
    bool ok = result.ok() || (change.kind == ChangeKind::remove && result.error == ESRCH);
    metrics_.route_changes(change.kind, ok).inc();
    if (ok) {
      KHG_LOG(info) << past_tense(change.kind) << kv("node", node) << kv("route", route_text(change.route));
      continue;
    }
    failed = true;
    metrics_.netlink_errors(result.error).inc();
    KHG_LOG(error) << "Route change failed" << kv("op", routing::to_string(change.kind)) << kv("node", node)
                   << kv("route", route_text(change.route)) << kv("errno", errno_name(result.error))
                   << kv("error",
                         result.message.empty() ? std::generic_category().message(result.error) : result.message)
                   << kv("retry", "full reconcile pass");
  }
  // The full pass reads the kernel again and retries with backoff.
  if (failed) fall_back("a route change failed");
  metrics_.routes_desired.set(static_cast<double>(incremental_.wanted_routes()));
  metrics_.routes_installed.set(static_cast<double>(incremental_.installed_routes()));
  metrics_.last_sync.set(unix_seconds());
  metrics_.pass_duration.observe(std::chrono::duration<double>(Clock::now() - started).count());
  pass_started_.reset();
}

}  // namespace hostgw::controller
