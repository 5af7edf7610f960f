#include "controller/nexthop_target.hpp"

#include <algorithm>
#include <cerrno>
#include <set>

#include "controller/key_diff.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using routing::ChangeKind;
using routing::IpPrefix;
using routing::Nexthop;

std::string nexthop_text(const Nexthop& nexthop, const std::map<std::uint32_t, std::string>& links) {
  std::string text = "id " + std::to_string(nexthop.id) + " via " + nexthop.gateway.to_string();
  auto link = links.find(nexthop.oif);
  text += link != links.end() ? " dev " + link->second : " dev #" + std::to_string(nexthop.oif);
  if (nexthop.onlink) text += " onlink";
  return text;
}

namespace {

void add_change(Delta& delta, ItemChange change) {
  (change.kind == ChangeKind::remove ? delta.removals : delta.upserts).push_back(std::move(change));
}

// What a nexthop is, without its id: two equal ones are interchangeable.
Nexthop without_id(Nexthop nexthop) {
  nexthop.id = 0;
  return nexthop;
}

}  // namespace

NexthopTarget::NexthopTarget(routing::RouteTable& table, ControllerMetrics& metrics, bool use)
    : table_(table), metrics_(metrics), use_(use) {
  metrics_.nexthop_objects.set(use ? 1 : 0);
}

const TargetInfo& NexthopTarget::info() const {
  static const TargetInfo kInfo{.name = "nexthops",
                                .noun = "Nexthop",
                                .plural = "Nexthops",
                                .item_key = "nexthop",
                                .role = TargetRole::carrier,
                                .gone_errno = ENOENT,
                                .problem_line = "Nexthops not in place",
                                .changes = &ControllerMetrics::nexthop_changes,
                                .counts_netlink_errors = true};
  return kInfo;
}

bool NexthopTarget::eligible(const NodeRoute& entry) const {
  const routing::Route& route = entry.route;
  return use_ && entry.path == RoutePath::direct && route.type == routing::RouteType::unicast && route.gateway &&
         route.oif != 0 && !route.onlink && route.nexthop_id == 0;
}

std::optional<Nexthop> NexthopTarget::wanted_for(const NodeRoute& entry, std::uint32_t id) const {
  if (!eligible(entry) || id == 0) return std::nullopt;
  return Nexthop{id, *entry.route.gateway, entry.route.oif, entry.route.protocol, false};
}

std::uint32_t NexthopTarget::allocate() {
  const std::uint32_t id = routing::free_nexthop_id(ids_used_, next_id_);
  if (id == 0) return 0;  // the range is full: the route stays a plain one
  ids_used_.insert(std::lower_bound(ids_used_.begin(), ids_used_.end(), id), id);
  next_id_ = id + 1;
  return id;
}

asio::awaitable<std::optional<TargetProblem>> NexthopTarget::read(const DesiredState& desired, const KernelFacts& facts,
                                                                  Bindings& bindings) {
  installed_.clear();
  assigned_.clear();
  owners_.clear();
  links_.clear();
  model_valid_ = false;
  next_id_ = routing::kNexthopIdFirst;
  ids_used_ = facts.nexthop_ids_used;
  for (const auto& nexthop : facts.owned_nexthops) installed_[nexthop.id].push_back(nexthop);
  for (const auto& network : facts.connected)
    if (!network.link_name.empty()) links_.emplace(network.oif, network.link_name);
  bindings.nexthops = &assigned_;
  if (!use_) co_return std::nullopt;

  std::map<IpPrefix, const NodeRoute*> wanted;
  for (const auto& entry : desired.routes.routes)
    if (eligible(entry)) wanted.emplace(entry.route.destination, &entry);
  // A route of ours through a nexthop of ours keeps it (adopted as it is).
  std::set<std::uint32_t> taken;
  for (const auto& route : facts.owned_routes) {
    if (route.nexthop_id == 0 || !installed_.contains(route.nexthop_id) || taken.contains(route.nexthop_id)) continue;
    if (!wanted.contains(route.destination) || assigned_.contains(route.destination)) continue;
    assigned_.emplace(route.destination, route.nexthop_id);
    taken.insert(route.nexthop_id);
  }
  // An owned nexthop no route uses, equal to what a route wants, is taken over.
  std::map<Nexthop, std::uint32_t> spare;
  for (const auto& [id, nexthops] : installed_)
    if (!taken.contains(id) && nexthops.size() == 1) spare.emplace(without_id(nexthops.front()), id);
  for (const auto& [destination, entry] : wanted) {
    if (assigned_.contains(destination)) continue;
    auto match = spare.find(without_id(*wanted_for(*entry, 1)));
    if (match != spare.end()) {
      assigned_.emplace(destination, match->second);
      spare.erase(match);
    } else if (const std::uint32_t id = allocate(); id != 0) {
      assigned_.emplace(destination, id);
    }
  }
  co_return std::nullopt;
}

Delta NexthopTarget::diff(const DesiredState& desired, const Bindings&) {
  // (id, the entry whose nexthop it is), sorted by id, the first entry of an id
  // winning; the nexthop itself is made as the diff reaches it.
  std::vector<std::pair<std::uint32_t, const NodeRoute*>> wanted;
  wanted.reserve(desired.routes.routes.size());
  for (const auto& entry : desired.routes.routes) {
    auto id = assigned_.find(entry.route.destination);
    if (id == assigned_.end() || !wanted_for(entry, id->second)) continue;
    wanted.emplace_back(id->second, &entry);
  }
  const auto by_id = [](const auto& a, const auto& b) { return a.first < b.first; };
  if (!std::is_sorted(wanted.begin(), wanted.end(), by_id)) std::stable_sort(wanted.begin(), wanted.end(), by_id);
  wanted.erase(std::unique(wanted.begin(), wanted.end(), [](const auto& a, const auto& b) { return a.first == b.first; }),
               wanted.end());
  for (const auto& [id, entry] : wanted) owners_[id] = entry->node;
  const auto wanted_id = [](const auto& pair) { return pair.first; };
  const auto wanted_nexthop = [this](const auto& pair) { return *wanted_for(*pair.second, pair.first); };
  Delta delta;
  const DiffCounts counts = count_diff(wanted, wanted_id, wanted_nexthop, installed_);
  delta.upserts.reserve(counts.upserts);
  delta.removals.reserve(counts.removals);
  diff_sorted(wanted, wanted_id, wanted_nexthop, installed_, [&](ChangeKind kind, const Nexthop& nexthop) {
    ItemChange change{kind, nexthop, {}, {}};
    auto owner = owners_.find(nexthop.id);
    change.node = owner != owners_.end() ? owner->second : k8s::NodeName("unknown");
    if (kind == ChangeKind::replace) change.previous = nexthop_text(installed_.at(nexthop.id).front(), links_);
    add_change(delta, std::move(change));
  });
  return delta;
}

void NexthopTarget::record(const ItemChange& change) {
  const Nexthop& nexthop = std::get<Nexthop>(change.item);
  auto& nexthops = installed_[nexthop.id];
  switch (change.kind) {
    case ChangeKind::add:
      nexthops.push_back(nexthop);
      break;
    case ChangeKind::replace:
      nexthops = {nexthop};
      break;
    case ChangeKind::remove:
      std::erase(nexthops, nexthop);
      break;
  }
  if (nexthops.empty()) installed_.erase(nexthop.id);
}

void NexthopTarget::after_pass(const std::vector<ItemChange>& applied, bool clean) {
  for (const auto& change : applied) record(change);
  model_valid_ = clean;
}

std::optional<Delta> NexthopTarget::plan_update(const NodeUpdate& update, const DesiredModel&) {
  if (!use_) return Delta{};  // routes are plain; owned leftovers go in the next full pass
  if (!model_valid_) return std::nullopt;
  static const std::vector<Nexthop> kNone;
  Delta delta;
  std::set<IpPrefix> after;
  for (const auto& entry : update.routes_after)
    if (eligible(entry)) after.insert(entry.route.destination);
  std::vector<ItemChange> changes;
  for (const auto& entry : update.routes_before) {
    auto id = assigned_.find(entry.route.destination);
    if (after.contains(entry.route.destination) || id == assigned_.end()) continue;
    // The route goes (or turns plain) first: a carrier's removals come last.
    if (auto installed = installed_.find(id->second); installed != installed_.end())
      for (const auto& nexthop : installed->second) changes.push_back({ChangeKind::remove, nexthop, update.node, {}});
    assigned_.erase(id);
  }
  for (const auto& entry : update.routes_after) {
    if (!eligible(entry)) continue;
    auto id = assigned_.find(entry.route.destination);
    if (id == assigned_.end()) {
      const std::uint32_t fresh = allocate();
      if (fresh == 0) continue;
      id = assigned_.emplace(entry.route.destination, fresh).first;
    }
    const Nexthop wanted = *wanted_for(entry, id->second);
    auto installed = installed_.find(id->second);
    const auto& current = installed == installed_.end() ? kNone : installed->second;
    diff_key(&wanted, current, [&](ChangeKind kind, const Nexthop& nexthop) {
      ItemChange change{kind, nexthop, update.node, {}};
      if (kind == ChangeKind::replace) change.previous = nexthop_text(current.front(), links_);
      changes.push_back(std::move(change));
    });
    owners_[id->second] = update.node;
  }
  for (auto& change : changes) {
    record(change);
    add_change(delta, std::move(change));
  }
  return delta;
}

void NexthopTarget::after_step(bool clean) {
  if (!clean) {
    model_valid_ = false;  // the full pass reads the kernel again, without this copy beside it
    installed_.clear();
  }
}

asio::awaitable<std::vector<ItemResult>> NexthopTarget::apply(const std::vector<ItemChange>& batch) {
  std::vector<ItemResult> out;
  out.reserve(batch.size());
  // One slice after the other, in the batch's order (kApplySlice).
  for (std::size_t begin = 0; begin < batch.size(); begin += kApplySlice) {
    const std::size_t end = std::min(batch.size(), begin + kApplySlice);
    std::vector<routing::NexthopChange> changes;
    changes.reserve(end - begin);
    for (std::size_t n = begin; n < end; ++n) changes.push_back({batch[n].kind, std::get<Nexthop>(batch[n].item)});
    std::vector<routing::NexthopResult> results = co_await table_.apply_nexthops(std::move(changes));
    for (auto& result : results) {
      // A nexthop that could not be added (its id taken meanwhile, say) is no
      // one's: routes planned through it are held back (RouteTarget::apply).
      if (!result.ok() && result.change.kind == ChangeKind::add)
        std::erase_if(assigned_, [&](const auto& entry) { return entry.second == result.change.nexthop.id; });
      out.push_back({result.error, std::move(result.message)});
    }
  }
  co_return out;
}

std::string NexthopTarget::describe(const Item& item) const {
  return nexthop_text(std::get<Nexthop>(item), links_);
}

}  // namespace hostgw::controller
