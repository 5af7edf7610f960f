#include "controller/engine.hpp"

#include <algorithm>

#include "common/log.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;

namespace {

std::string family_text(std::optional<routing::Family> family) {
  return family ? std::string(routing::to_string(*family)) : std::string("all");
}

// Skips that say something is wrong (warning); the others are expected (info).
bool loud(SkipReason reason) {
  return reason != SkipReason::self && reason != SkipReason::no_pod_cidr && reason != SkipReason::no_address;
}

EngineOptions effective(EngineOptions options, const routing::OverlayTable* overlay,
                        const netfilter::MasqueradeTable* masquerade) {
  if (!overlay) options.desired.routes.cross_subnet = CrossSubnet::skip;
  if (!masquerade) options.desired.pod_network.masquerade = false;
  options.use_nexthops = options.use_nexthops && options.nexthops_supported;
  options.desired.pod_network.cni = !options.cni_conf_dir.empty();
  return options;
}

std::vector<Target*> in_order(OverlayTarget* overlay, NexthopTarget* nexthops, RouteTarget& routes,
                              MasqueradeTarget* masquerade, CniTarget* cni) {
  std::vector<Target*> out;
  if (overlay) out.push_back(overlay);
  if (nexthops) out.push_back(nexthops);
  out.push_back(&routes);
  if (masquerade) out.push_back(masquerade);
  if (cni) out.push_back(cni);
  return out;
}

std::size_t index_of(const std::vector<Target*>& targets, const Target* target) {
  return static_cast<std::size_t>(std::find(targets.begin(), targets.end(), target) - targets.begin());
}

void append(Delta& to, Delta&& from) {
  to.upserts.insert(to.upserts.end(), std::make_move_iterator(from.upserts.begin()),
                    std::make_move_iterator(from.upserts.end()));
  to.removals.insert(to.removals.end(), std::make_move_iterator(from.removals.begin()),
                     std::make_move_iterator(from.removals.end()));
}

}  // namespace

Engine::Engine(routing::RouteTable& table, routing::OverlayTable* overlay, const EngineOptions& options,
               ControllerMetrics& metrics, netfilter::MasqueradeTable* masquerade)
    : table_(table),
      options_(effective(options, overlay, masquerade)),
      metrics_(metrics),
      overlay_(overlay ? std::make_unique<OverlayTarget>(*overlay, metrics, options_.desired.routes.cross_subnet)
                       : nullptr),
      nexthops_(options_.nexthops_supported
                    ? std::make_unique<NexthopTarget>(table, metrics, options_.use_nexthops)
                    : nullptr),
      routes_(table, metrics),
      masquerade_(masquerade ? std::make_unique<MasqueradeTarget>(*masquerade, metrics) : nullptr),
      cni_(options_.cni_conf_dir.empty() ? nullptr
                                         : std::make_unique<CniTarget>(options_.cni_conf_dir, options_.dry_run)),
      targets_(in_order(overlay_.get(), nexthops_.get(), routes_, masquerade_.get(), cni_.get())),
      routes_index_(index_of(targets_, &routes_)),
      applier_(targets_, metrics, options_.retry) {
  routes_.adopt(route_adoption(options_.desired.routes));
}

void Engine::invalidate() {
  model_.invalidate();
  for (auto* target : targets_) target->after_step(false);
}

asio::awaitable<Engine::PassResult> Engine::full_pass(const ClusterView& view) {
  PassResult result;
  invalidate();
  KernelFacts kernel;
  auto connected = co_await table_.connected_networks();
  if (!connected) {
    result.failed_step = "read connected networks";
    result.error = connected.error();
    co_return result;
  }
  auto dump = co_await table_.dump_routes(options_.desired.routes.table, options_.desired.routes.protocol);
  if (!dump) {
    result.failed_step = "dump routes";
    result.error = dump.error();
    co_return result;
  }
  if (nexthops_) {
    auto nexthops = co_await table_.dump_nexthops(options_.desired.routes.protocol);
    if (!nexthops) {
      result.failed_step = "dump nexthops";
      result.error = nexthops.error();
      co_return result;
    }
    kernel.owned_nexthops = std::move(nexthops->owned);
    kernel.nexthop_ids_used = std::move(nexthops->ids_used);
  }
  kernel.connected = std::move(*connected);
  kernel.owned_routes = std::move(*dump);
  if (const auto adoption = route_adoption(options_.desired.routes); adoption.enabled()) {
    auto adoptable = co_await routing::dump_adoptable(table_, adoption);
    if (!adoptable) {
      result.failed_step = "dump routes to adopt";
      result.error = adoptable.error();
      co_return result;
    }
    kernel.adoptable_routes = std::move(*adoptable);
  }
  // The desired state copies what it needs: the view may change while the targets await.
  note_self(view.find(options_.node_name));
  const DesiredState desired = desired_state(view, options_.node_name, kernel, options_.desired);
  log_skips(desired.routes.skipped, view);
  result.outcome = co_await applier_.pass(desired, kernel);
  // The targets hold what they need of the dumps now: the facts are freed
  // before the model is built beside the desired state (~0.7 MB at 5000 nodes).
  result.connected = std::move(kernel.connected);
  kernel = KernelFacts{};
  if (result.outcome.clean) model_.reset(desired, options_.desired);
  result.routes = desired.routes.routes.size();
  result.skipped = desired.routes.skipped.size();
  co_return result;
}

std::optional<std::vector<Delta>> Engine::plan_step(const ClusterView& view, const PodCidrIndex& index,
                                                    const std::set<std::string>& nodes,
                                                    const std::vector<routing::OwnedRouteEvent>& events,
                                                    std::string& fallback) {
  std::vector<Delta> deltas(targets_.size());
  if (!can_step()) {
    fallback = "no clean full pass to build on";
    return std::nullopt;
  }
  if (!events.empty()) {
    auto repair = routes_.plan_repair(events, model_);
    if (!repair) {
      fallback = "an owned route was added or replaced by someone else";
      return std::nullopt;
    }
    append(deltas[routes_index_], std::move(*repair));
  }
  for (const auto& name : nodes) {
    fallback = "node " + name + " is this node, skipped, overlaps another node or goes through the overlay";
    auto update = model_.update_node(name, view.find(name), index);
    if (!update) return std::nullopt;
    for (std::size_t t = 0; t < targets_.size(); ++t) {
      auto delta = targets_[t]->plan_update(*update, model_);
      if (!delta) return std::nullopt;
      append(deltas[t], std::move(*delta));
    }
  }
  fallback.clear();
  return deltas;
}

asio::awaitable<Engine::StepResult> Engine::step(const ClusterView& view, const PodCidrIndex& index,
                                                 const std::set<std::string>& nodes,
                                                 const std::vector<routing::OwnedRouteEvent>& events) {
  StepResult result;
  auto deltas = plan_step(view, index, nodes, events, result.fallback);
  if (!deltas) {
    invalidate();
    co_return result;
  }
  result.planned = true;
  for (const auto& delta : *deltas) result.changed = result.changed || !delta.empty();
  if (!result.changed) co_return result;
  Applier::Outcome outcome = co_await applier_.step(std::move(*deltas));
  if (!outcome.clean) {
    // The full pass reads the kernel again and retries with backoff.
    result.fallback = "a change failed";
    invalidate();
  }
  co_return result;
}

void Engine::note_self(const k8s::NodeInfo* self) {
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

void Engine::log_skips(const std::vector<SkippedNode>& skipped, const ClusterView& view) {
  std::map<std::pair<std::string, int>, SkipState> now;
  std::map<SkipReason, int> counts;
  for (const auto& skip : skipped) {
    ++counts[skip.reason];
    std::pair<std::string, int> key{skip.node, skip.family ? static_cast<int>(*skip.family) : 0};
    auto previous = skips_.find(key);
    bool changed =
        previous == skips_.end() || previous->second.reason != skip.reason || previous->second.detail != skip.detail;
    if (changed && skip.reason != SkipReason::self) {
      if (loud(skip.reason)) {
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
    if (!view.find(key.first)) continue;  // deleted: the route deletion says enough
    KHG_LOG(info) << "Node no longer skipped" << kv("node", key.first)
                  << kv("family", key.second ? std::string(routing::to_string(static_cast<routing::Family>(key.second)))
                                             : std::string("all"))
                  << kv("previous_reason", to_string(state.reason));
  }
  skips_ = std::move(now);
  for (SkipReason reason : kAllSkipReasons) metrics_.skipped(reason).set(counts[reason]);
}

}  // namespace hostgw::controller
