#include "controller/masquerade_target.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>

#include "common/log.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;
using routing::ChangeKind;

namespace {

constexpr std::array<std::string_view, 6> kSetNames{netfilter::kPodCidrsV4,      netfilter::kPodCidrsV6,
                                                    netfilter::kNodeAddressesV4, netfilter::kNodeAddressesV6,
                                                    netfilter::kNoMasqueradeV4,  netfilter::kNoMasqueradeV6};

// The constant naming `set` (SetChange keeps a string_view), or empty.
std::string_view set_name(const std::string& set) {
  for (auto name : kSetNames)
    if (name == set) return name;
  return {};
}

std::string table_text() {
  return "table " + std::string(netfilter::kTableFamily) + " " + std::string(netfilter::kTableName);
}

ItemResult to_item_result(const netfilter::NftResult& result) {
  if (result.ok) return {};
  // nft reports text, not an errno: EIO with nft's own message.
  return {EIO, result.error.empty() ? std::string("nft failed") : result.error};
}

}  // namespace

netfilter::NftResult DryRunMasqueradeTable::replace_table(const netfilter::MasqueradeSets& sets) {
  KHG_LOG(info) << "Dry run: masquerade table would be replaced" << kv("table", table_text())
                << kv("pod_cidrs", sets.pod_cidrs.size()) << kv("node_addresses", sets.node_addresses.size())
                << kv("no_masquerade", sets.no_masquerade.size());
  return {};
}

netfilter::NftResult DryRunMasqueradeTable::update_elements(const netfilter::MasqueradeUpdate& update) {
  KHG_LOG(info) << "Dry run: masquerade set elements would change" << kv("table", table_text())
                << kv("elements", update.element_count());
  return {};
}

netfilter::NftResult DryRunMasqueradeTable::delete_table() {
  KHG_LOG(info) << "Dry run: masquerade table would be deleted" << kv("table", table_text());
  return {};
}

MasqueradeTarget::MasqueradeTarget(netfilter::MasqueradeTable& backend, ControllerMetrics& metrics)
    : backend_(backend), metrics_(metrics) {}

const TargetInfo& MasqueradeTarget::info() const {
  static const TargetInfo kInfo{.name = "masquerade",
                                .noun = "Masquerade entry",
                                .plural = "Masquerade entries",
                                .item_key = "masquerade",
                                .role = TargetRole::leaf,
                                .gone_errno = ENOENT,
                                .problem_line = "Masquerade table not in place",
                                .changes = &ControllerMetrics::masquerade_changes,
                                .counts_netlink_errors = false};
  return kInfo;
}

asio::awaitable<std::optional<TargetProblem>> MasqueradeTarget::read(const DesiredState& desired, const KernelFacts&,
                                                                     Bindings&) {
  model_valid_ = false;
  netfilter::NftReadResult read = backend_.read_current();
  if (!read.result.ok) {
    current_ = {};
    // Masquerading off and nftables unreadable (no nf_tables in this kernel,
    // say): there is no table of ours to delete, and nothing to retry.
    if (!desired.masquerade) {
      KHG_VLOG(1) << "Masquerade table not readable; masquerade is off" << kv("table", table_text())
                  << kv("error", read.result.error);
      co_return std::nullopt;
    }
    co_return TargetProblem{"read " + table_text(), read.result.error};
  }
  current_ = std::move(read.state);
  co_return std::nullopt;
}

std::optional<Delta> MasqueradeTarget::element_changes(const netfilter::MasqueradeUpdate& update,
                                                       const k8s::NodeName& node) const {
  Delta delta;
  for (const auto& change : update.sets) {
    if (change.replace_all) return std::nullopt;
    for (const auto& element : change.remove)
      delta.removals.push_back({ChangeKind::remove, MasqueradeItem{std::string(change.set), element}, node, {}});
    for (const auto& element : change.add)
      delta.upserts.push_back({ChangeKind::add, MasqueradeItem{std::string(change.set), element}, node, {}});
  }
  return delta;
}

namespace {

// Names, for the log, the node that has each node-address element of `delta`
// (the first by name when several have it). Built for the changes only: a
// full pass seldom changes more than a few elements.
void name_address_owners(Delta& delta, const DesiredState& desired) {
  std::map<routing::IpAddress, std::vector<ItemChange*>> unnamed;
  for (auto* changes : {&delta.removals, &delta.upserts}) {
    for (auto& change : *changes) {
      const auto& item = std::get<MasqueradeItem>(change.item);
      if (!netfilter::node_address_set_family(item.set)) continue;
      if (auto address = routing::IpAddress::try_parse(item.element)) unnamed[*address].push_back(&change);
    }
  }
  for (const auto& [node, addresses] : desired.node_addresses) {
    if (unnamed.empty()) return;
    for (const auto& address : addresses) {
      auto it = unnamed.find(address);
      if (it == unnamed.end()) continue;
      for (ItemChange* change : it->second) change->node = node;
      unnamed.erase(it);
    }
  }
}

}  // namespace

Delta MasqueradeTarget::diff(const DesiredState& desired, const Bindings&) {
  desired_ = desired.masquerade;
  const netfilter::MasqueradePlan plan = netfilter::plan_masquerade(current_, desired_);
  Delta delta;
  auto whole_table = [&](std::string reason) {
    delta.upserts.push_back({current_.present ? ChangeKind::replace : ChangeKind::add, MasqueradeItem{},
                             desired.facts.self, std::move(reason)});
  };
  switch (plan.action) {
    case netfilter::MasqueradeAction::none:
      break;
    case netfilter::MasqueradeAction::replace_table:
      whole_table(plan.reason);
      break;
    case netfilter::MasqueradeAction::update_elements:
      if (auto elements = element_changes(plan.update, {})) {
        delta = std::move(*elements);
        name_address_owners(delta, desired);
      } else {
        // A set must be flushed and refilled (overlapping intervals): the
        // table replace does that in one transaction too.
        whole_table("a set's intervals change in a way only a refill can apply");
      }
      break;
    case netfilter::MasqueradeAction::delete_table:
      delta.removals.push_back({ChangeKind::remove, MasqueradeItem{}, desired.facts.self, plan.reason});
      break;
  }
  return delta;
}

void MasqueradeTarget::after_pass(const std::vector<ItemChange>&, bool clean) {
  // Clean: every change applied, so the table holds the desired sets (or is
  // gone). What read() saw is not needed any more; nor is desired_, which only
  // a table item of a full pass writes (~0.1 MB each at 5000 nodes).
  installed_ = std::move(desired_);
  desired_.reset();
  current_ = {};
  model_valid_ = clean;
}

std::optional<MasqueradeTarget::AddressChanges> MasqueradeTarget::address_changes(const NodeUpdate& update,
                                                                                  const DesiredModel& model) const {
  auto has = [](const std::vector<routing::IpAddress>& list, const routing::IpAddress& address) {
    return std::find(list.begin(), list.end(), address) != list.end();
  };
  const std::vector<routing::IpAddress>& installed = installed_->node_addresses;
  AddressChanges out;
  // An address leaves the set when no node has it any more, and enters it
  // when this node is the only one that has it (the model counts after the
  // update). The set must agree, or the model is wrong: a full pass.
  for (const auto& address : update.addresses_before) {
    if (has(update.addresses_after, address) || model.nodes_with_address(address) != 0) continue;
    if (!std::binary_search(installed.begin(), installed.end(), address)) return std::nullopt;
    out.removed.push_back(address);
  }
  for (const auto& address : update.addresses_after) {
    if (has(update.addresses_before, address) || model.nodes_with_address(address) != 1) continue;
    if (std::binary_search(installed.begin(), installed.end(), address)) return std::nullopt;
    out.added.push_back(address);
  }
  return out;
}

std::optional<Delta> MasqueradeTarget::plan_update(const NodeUpdate& update, const DesiredModel& model) {
  if (!model_valid_) return std::nullopt;
  if (!model.masquerade_on()) return Delta{};  // off: the full pass removed the table
  if (!installed_) return std::nullopt;
  if (model.masquerade_pods_follow_nodes()) {
    // The pod set changes too: build the sets the model asks for and diff them.
    std::optional<netfilter::MasqueradeSets> wanted = model.masquerade();
    auto delta = element_changes(netfilter::diff_masquerade_sets(*installed_, *wanted), update.node);
    if (!delta) return std::nullopt;
    installed_ = std::move(wanted);
    return delta;
  }
  std::optional<AddressChanges> changes = address_changes(update, model);
  if (!changes) return std::nullopt;
  auto item = [](const routing::IpAddress& address) {
    return MasqueradeItem{std::string(netfilter::node_address_set(address.family())), address.to_string()};
  };
  Delta delta;
  for (const auto& address : changes->removed)
    delta.removals.push_back({ChangeKind::remove, item(address), update.node, {}});
  for (const auto& address : changes->added) delta.upserts.push_back({ChangeKind::add, item(address), update.node, {}});
  // The model as if the changes succeed (after_step drops it if not), kept
  // sorted in place.
  auto& addresses = installed_->node_addresses;
  for (const auto& address : changes->removed)
    addresses.erase(std::lower_bound(addresses.begin(), addresses.end(), address));
  for (const auto& address : changes->added)
    addresses.insert(std::lower_bound(addresses.begin(), addresses.end(), address), address);
  return delta;
}

void MasqueradeTarget::after_step(bool clean) {
  if (!clean) model_valid_ = false;
}

asio::awaitable<std::vector<ItemResult>> MasqueradeTarget::apply(const std::vector<ItemChange>& batch) {
  netfilter::NftResult result;
  bool table = false;
  for (const auto& change : batch) table = table || std::get<MasqueradeItem>(change.item).is_table();
  if (table) {
    // diff() makes a table change the only change of its batch.
    const ItemChange& change = batch.front();
    if (change.kind == ChangeKind::remove || !desired_) {
      result = backend_.delete_table();
    } else {
      result = backend_.replace_table(*desired_);
    }
  } else {
    netfilter::MasqueradeUpdate update;
    for (const auto& change : batch) {
      const auto& item = std::get<MasqueradeItem>(change.item);
      std::string_view name = set_name(item.set);
      auto set = std::find_if(update.sets.begin(), update.sets.end(),
                              [&](const netfilter::SetChange& candidate) { return candidate.set == name; });
      if (set == update.sets.end()) {
        netfilter::SetChange fresh;
        fresh.set = name;
        set = update.sets.insert(update.sets.end(), std::move(fresh));
      }
      (change.kind == ChangeKind::remove ? set->remove : set->add).push_back(item.element);
    }
    result = backend_.update_elements(update);
  }
  // One transaction: every change of the batch shares its result.
  co_return std::vector<ItemResult>(batch.size(), to_item_result(result));
}

std::string MasqueradeTarget::describe(const Item& item) const {
  const auto& masquerade = std::get<MasqueradeItem>(item);
  if (masquerade.is_table()) return table_text();
  return "set " + masquerade.set + " element " + masquerade.element;
}

}  // namespace hostgw::controller
