#include "controller/route_target.hpp"

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/log.hpp"

#include "controller/key_diff.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using routing::ChangeKind;
using routing::Route;
using routing::RouteKey;

namespace {

// " dev eth0", or " dev #3" for a link not known by name.
std::string link_text(std::uint32_t oif, const std::map<std::uint32_t, std::string>& links) {
  auto link = links.find(oif);
  return link != links.end() ? " dev " + link->second : " dev #" + std::to_string(oif);
}

}  // namespace

std::string route_text(const Route& route, const std::map<std::uint32_t, std::string>& links) {
  std::string text = route.type == routing::RouteType::unreachable ? "unreachable " : "";
  text += route.destination.to_string();
  if (route.nexthop_id != 0) text += " nhid " + std::to_string(route.nexthop_id);
  if (route.gateway) text += " via " + route.gateway->to_string();
  if (route.oif) text += link_text(route.oif, links);
  return text;
}

namespace {

// Removals first (they free keys), then replaces, then adds, as one batch does.
void add_change(Delta& delta, ItemChange change) {
  (change.kind == ChangeKind::remove ? delta.removals : delta.upserts).push_back(std::move(change));
}

void order_upserts(Delta& delta) {
  const auto is_replace = [](const ItemChange& change) { return change.kind == ChangeKind::replace; };
  // Usually so already (a first pass is all adds, a take-over all replaces):
  // stable_partition would take a buffer the size of the batch to find out.
  if (std::is_partitioned(delta.upserts.begin(), delta.upserts.end(), is_replace)) return;
  std::stable_partition(delta.upserts.begin(), delta.upserts.end(),
                        is_replace);
}

}  // namespace

RouteTarget::RouteTarget(routing::RouteTable& table, ControllerMetrics& metrics) : table_(table), metrics_(metrics) {}

const TargetInfo& RouteTarget::info() const {
  static const TargetInfo kInfo{.name = "routes",
                                .noun = "Route",
                                .plural = "Routes",
                                .item_key = "route",
                                .role = TargetRole::leaf,
                                .gone_errno = ESRCH,
                                .problem_line = "Routes not in place",
                                .changes = &ControllerMetrics::route_changes,
                                .counts_netlink_errors = true};
  return kInfo;
}

asio::awaitable<std::optional<TargetProblem>> RouteTarget::read(const DesiredState&, const KernelFacts& facts,
                                                                Bindings&) {
  // The dump is a kernel fact the decision needs too (the holder rule): the
  // pass read it before deciding.
  installed_.clear();
  for (const auto& route : facts.owned_routes) installed_[key_of(route)].push_back(route);
  // Routes under adoption are ours from here on: the diff rewrites or deletes them.
  for (const auto& route : facts.adoptable_routes) installed_[key_of(route)].push_back(route);
  installed_count_ = facts.owned_routes.size() + facts.adoptable_routes.size();
  links_.clear();
  for (const auto& network : facts.connected)
    if (!network.link_name.empty()) links_.emplace(network.oif, network.link_name);
  model_valid_ = false;
  co_return std::nullopt;
}

Delta RouteTarget::diff(const DesiredState& desired, const Bindings& bindings) {
  if (bindings.overlay_device) links_[*bindings.overlay_device] = std::string(routing::kVxlanDeviceName);
  overlay_device_ = bindings.overlay_device;
  nexthops_ = bindings.nexthops;
  pass_routes_ = &desired.routes.routes;
  // The wanted routes are the desired entries that can be bound (in their
  // order: by key, each key once), bound again as the diff reaches them rather
  // than copied into a second structure (~0.6 MB at 5000 nodes).
  std::vector<const NodeRoute*> wanted;
  wanted.reserve(desired.routes.routes.size());
  for (const auto& entry : desired.routes.routes)
    if (bound(entry)) wanted.push_back(&entry);  // not: through an overlay device that is not there
  // owners_ changed in place, not rebuilt beside the old one (two copies of a
  // map entry a node at every pass): the wanted routes' nodes (the first entry
  // of a destination wins), the others keep their last known node for the
  // removals below and go after the diff.
  for (auto it = wanted.rbegin(); it != wanted.rend(); ++it)
    owners_.insert_or_assign((*it)->route.destination, (*it)->node);
  const auto by_key = [](const NodeRoute* a, const NodeRoute* b) { return key_of(a->route) < key_of(b->route); };
  if (std::adjacent_find(wanted.begin(), wanted.end(), [&](auto* a, auto* b) { return !by_key(a, b); }) !=
      wanted.end()) {
    // DesiredRoutes promises key order, each key once; should that ever break,
    // the first entry of a key still wins, as it would in a map.
    std::stable_sort(wanted.begin(), wanted.end(), by_key);
    wanted.erase(std::unique(wanted.begin(), wanted.end(), [&](auto* a, auto* b) { return !by_key(a, b); }),
                 wanted.end());
  }
  const auto wanted_key = [](const NodeRoute* entry) { return key_of(entry->route); };
  const auto wanted_route = [this](const NodeRoute* entry) { return *bound(*entry); };
  Delta delta;
  const DiffCounts counts = count_diff(wanted, wanted_key, wanted_route, installed_);
  delta.upserts.reserve(counts.upserts);
  delta.removals.reserve(counts.removals);
  adopting_.clear();
  diff_sorted(wanted, wanted_key, wanted_route, installed_, [&](ChangeKind kind, const Route& route) {
    ItemChange change{kind, route, {}, {}};
    change.node = owner_of(route);
    const Route* taken_over = kind == ChangeKind::remove ? &route : nullptr;
    if (kind == ChangeKind::replace) {
      taken_over = &installed_.at(key_of(route)).front();
      change.previous = text_of(*taken_over);
    }
    if (taken_over && adoption_.adopts_protocol(taken_over->protocol))
      adopting_.emplace(std::pair{kind, route}, taken_over->protocol);
    add_change(delta, std::move(change));
  });
  order_upserts(delta);
  std::vector<routing::IpPrefix> kept;
  kept.reserve(wanted.size());
  for (const NodeRoute* entry : wanted) kept.push_back(entry->route.destination);
  std::sort(kept.begin(), kept.end());
  std::erase_if(owners_, [&](const auto& owner) { return !std::binary_search(kept.begin(), kept.end(), owner.first); });
  metrics_.routes_desired.set(static_cast<double>(wanted.size()));
  return delta;
}

void RouteTarget::after_pass(const std::vector<ItemChange>& applied, bool clean) {
  pass_routes_ = nullptr;
  step_routes_ = nullptr;
  for (const auto& change : applied) record(change);
  note_adoptions(applied);
  metrics_.routes_installed.set(static_cast<double>(installed_count_));
  // A clean pass is the model the incremental path plans against until the next full pass.
  model_valid_ = clean;
}

std::optional<Route> RouteTarget::bound(const NodeRoute& entry) const {
  if (entry.path == RoutePath::direct) {
    if (!nexthops_) return entry.route;
    auto nexthop = nexthops_->find(entry.route.destination);
    if (nexthop == nexthops_->end()) return entry.route;
    Route route = entry.route;
    route.gateway.reset();
    route.oif = 0;
    route.onlink = false;
    route.nexthop_id = nexthop->second;
    return route;
  }
  if (!overlay_device_) return std::nullopt;
  Route route = entry.route;
  route.oif = *overlay_device_;
  return route;
}

void RouteTarget::record(const ItemChange& change) {
  const Route& route = std::get<Route>(change.item);
  const RouteKey key = key_of(route);
  auto& routes = installed_[key];
  const std::size_t before = routes.size();
  switch (change.kind) {
    case ChangeKind::add:
      routes.push_back(route);
      break;
    case ChangeKind::replace:
      routes = {route};
      break;
    case ChangeKind::remove:
      std::erase(routes, route);
      break;
  }
  installed_count_ = installed_count_ + routes.size() - before;
  if (routes.empty()) installed_.erase(key);
}

const NodeRoute* RouteTarget::wanted_entry(const RouteKey& key) const {
  if (pass_routes_) {
    auto it = std::lower_bound(pass_routes_->begin(), pass_routes_->end(), key,
                               [](const NodeRoute& entry, const RouteKey& k) { return key_of(entry.route) < k; });
    if (it != pass_routes_->end() && key_of(it->route) == key) return &*it;
  }
  if (step_routes_) {
    auto it = step_routes_->find(key);
    if (it != step_routes_->end()) return &it->second;
  }
  return nullptr;
}

std::string RouteTarget::text_of(const Route& route) const {
  std::string text = route_text(route, links_);
  // "10.244.2.0/24 nhid 17 via 198.51.100.12 dev eth0", as `ip route` shows
  // it: the gateway of the route the nexthop stands for, while it is wanted.
  if (route.nexthop_id != 0 && !route.gateway) {
    if (const NodeRoute* entry = wanted_entry(key_of(route)); entry && entry->route.gateway) {
      text += " via " + entry->route.gateway->to_string();
      if (entry->route.oif) text += link_text(entry->route.oif, links_);
    }
  }
  if (adoption_.adopts_protocol(route.protocol)) text += " proto " + routing::route_protocol_name(route.protocol);
  return text;
}

void RouteTarget::note_adoptions(const std::vector<ItemChange>& applied) {
  if (adopting_.empty()) return;
  std::map<std::uint8_t, std::pair<std::size_t, std::size_t>> counts;  // protocol -> (replaced, deleted)
  for (const auto& change : applied) {
    auto it = adopting_.find({change.kind, std::get<Route>(change.item)});
    if (it == adopting_.end()) continue;
    const std::string protocol = routing::route_protocol_name(it->second);
    metrics_.routes_adopted(protocol, change.kind).inc();
    auto& [replaced, deleted] = counts[it->second];
    ++(change.kind == ChangeKind::remove ? deleted : replaced);
  }
  adopting_.clear();
  for (const auto& [protocol, count] : counts) {
    KHG_LOG(info) << "Routes adopted" << log::kv("protocol", routing::route_protocol_name(protocol))
                  << log::kv("replaced_in_place", count.first) << log::kv("deleted", count.second);
  }
}

k8s::NodeName RouteTarget::owner_of(const Route& route) const {
  auto it = owners_.find(route.destination);
  return it == owners_.end() ? k8s::NodeName("unknown") : it->second;
}

Delta RouteTarget::plan_keys(const std::vector<RouteKey>& keys, const DesiredModel& model, const k8s::NodeName& node) {
  static const std::vector<Route> kNone;
  Delta delta;
  for (const auto& key : keys) {
    std::optional<Route> wanted;
    if (auto it = model.routes().find(key); it != model.routes().end()) wanted = bound(it->second);
    auto installed = installed_.find(key);
    const auto& routes = installed == installed_.end() ? kNone : installed->second;
    std::vector<ItemChange> changes;
    diff_key(wanted ? &*wanted : nullptr, routes, [&](ChangeKind kind, const Route& route) {
      ItemChange change{kind, route, node.empty() ? owner_of(route) : node, {}};
      if (kind == ChangeKind::replace) change.previous = text_of(routes.front());
      changes.push_back(std::move(change));
    });
    for (auto& change : changes) {
      record(change);
      if (change.kind != ChangeKind::remove) owners_[std::get<Route>(change.item).destination] = change.node;
      add_change(delta, std::move(change));
    }
  }
  order_upserts(delta);
  metrics_.routes_desired.set(static_cast<double>(model.routes().size()));
  return delta;
}

std::optional<Delta> RouteTarget::plan_update(const NodeUpdate& update, const DesiredModel& model) {
  if (!model_valid_) return std::nullopt;
  pass_routes_ = nullptr;  // (a step never runs inside a pass: never a stale pointer)
  step_routes_ = &model.routes();
  std::vector<RouteKey> keys;
  for (const auto* routes : {&update.routes_before, &update.routes_after}) {
    for (const auto& entry : *routes) {
      // Its neighbour/FDB entries change with it: the full pass's work.
      if (entry.path == RoutePath::overlay) return std::nullopt;
      keys.push_back(key_of(entry.route));
    }
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return plan_keys(keys, model, update.node);
}

std::optional<Delta> RouteTarget::plan_repair(const std::vector<routing::OwnedRouteEvent>& events,
                                              const DesiredModel& model) {
  if (!model_valid_) return std::nullopt;
  pass_routes_ = nullptr;  // (a step never runs inside a pass: never a stale pointer)
  step_routes_ = &model.routes();
  std::vector<RouteKey> keys;
  for (const auto& event : events) {
    // Someone else added or replaced an owned route: what it displaced is unknown.
    if (!event.deleted) return std::nullopt;
    const RouteKey key = key_of(event.route);
    if (auto it = installed_.find(key); it != installed_.end()) {
      // Not exactly as the model has it (an attribute read differently):
      // assume the key lost every route; an add that meets one gets EEXIST,
      // which makes the full pass look.
      const std::size_t before = it->second.size();
      if (std::erase(it->second, event.route) == 0) it->second.clear();
      installed_count_ -= before - it->second.size();
      if (it->second.empty()) installed_.erase(it);
    }
    keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return plan_keys(keys, model, {});
}

void RouteTarget::after_step(bool clean) {
  pass_routes_ = nullptr;
  step_routes_ = nullptr;
  if (!clean) {
    // The full pass reads the kernel again: the model's memory is free while
    // it does (a pass starts with this, ~1 MB at 5000 nodes).
    model_valid_ = false;
    installed_.clear();
  }
  metrics_.routes_installed.set(static_cast<double>(installed_count_));
}

std::vector<std::size_t> route_adoption_order(const std::vector<ItemChange>& batch) {
  std::vector<std::size_t> order(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) order[i] = i;
  // (table, destination) of the removals; none (a first pass): the batch's order.
  std::set<std::pair<std::uint32_t, routing::IpPrefix>> removed;
  for (const auto& change : batch) {
    const Route& route = std::get<Route>(change.item);
    if (change.kind == ChangeKind::remove) removed.insert({route.table, route.destination});
  }
  if (removed.empty()) return order;
  // Of those destinations: the protocols of their upserts in this batch.
  std::map<std::pair<std::uint32_t, routing::IpPrefix>, std::set<std::uint8_t>> upserted;
  for (const auto& change : batch) {
    const Route& route = std::get<Route>(change.item);
    if (change.kind != ChangeKind::remove && removed.contains({route.table, route.destination}))
      upserted[{route.table, route.destination}].insert(route.protocol);
  }
  order.clear();
  std::vector<std::size_t> last;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Route& route = std::get<Route>(batch[i].item);
    bool successor_first = false;
    if (batch[i].kind == ChangeKind::remove) {
      // Another protocol's route of a destination we install under another key.
      auto it = upserted.find({route.table, route.destination});
      successor_first = it != upserted.end() && (it->second.size() > 1 || !it->second.contains(route.protocol));
    }
    (successor_first ? last : order).push_back(i);
  }
  order.insert(order.end(), last.begin(), last.end());
  return order;
}

asio::awaitable<std::vector<ItemResult>> RouteTarget::apply(const std::vector<ItemChange>& batch) {
  const std::vector<std::size_t> order = route_adoption_order(batch);
  std::vector<ItemResult> out(batch.size());
  // One slice after the other, in the batch's order (kApplySlice).
  for (std::size_t begin = 0; begin < order.size(); begin += kApplySlice) {
    const std::size_t end = std::min(order.size(), begin + kApplySlice);
    std::vector<routing::RouteChange> changes;
    changes.reserve(end - begin);
    std::vector<std::size_t> sent;
    sent.reserve(end - begin);
    for (std::size_t n = begin; n < end; ++n) {
      const std::size_t index = order[n];
      const Route& route = std::get<Route>(batch[index].item);
      if (route.nexthop_id != 0 && batch[index].kind != ChangeKind::remove && !nexthop_assigned(route)) {
        // Its nexthop was refused: the id may be someone else's now.
        out[index] = {EINVAL, "nexthop " + std::to_string(route.nexthop_id) + " was not added"};
        continue;
      }
      sent.push_back(index);
      changes.push_back({batch[index].kind, route});
    }
    if (changes.empty()) continue;
    std::vector<routing::ChangeResult> results = co_await table_.apply(std::move(changes));
    for (std::size_t n = 0; n < results.size() && n < sent.size(); ++n)
      out[sent[n]] = {results[n].error, std::move(results[n].message)};
  }
  co_return out;
}

bool RouteTarget::nexthop_assigned(const Route& route) const {
  if (!nexthops_) return false;
  auto it = nexthops_->find(route.destination);
  return it != nexthops_->end() && it->second == route.nexthop_id;
}

std::string RouteTarget::describe(const Item& item) const {
  return text_of(std::get<Route>(item));
}

}  // namespace hostgw::controller
