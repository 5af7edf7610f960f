#include "controller/overlay_target.hpp"

#include <cerrno>

#include "common/log.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;
using routing::ChangeKind;

namespace {
// The error a TargetProblem carries: the table's message, which names the
// device or dump and the step ("device hostgw.vxlan: adding the VTEP address
// 10.244.1.0/32: File exists"); the errno's text should a table give none.
std::string problem_text(const common::Error& error) {
  return error.message.empty() ? error.code.message() : error.message;
}
}  // namespace

OverlayTarget::OverlayTarget(routing::OverlayTable& table, ControllerMetrics& metrics, CrossSubnet cross_subnet)
    : table_(table), metrics_(metrics), cross_subnet_(cross_subnet) {}

const TargetInfo& OverlayTarget::info() const {
  static const TargetInfo kInfo{.name = "overlay",
                                .noun = "Overlay entry",
                                .plural = "Overlay entries",
                                .item_key = "entry",
                                .role = TargetRole::carrier,
                                .gone_errno = ENOENT,
                                .problem_line = "VXLAN overlay not in place",
                                .changes = &ControllerMetrics::overlay_entry_changes,
                                .counts_netlink_errors = false};
  return kInfo;
}

void OverlayTarget::note_peers(const DesiredRoutes& routes) {
  vtep_nodes_.clear();
  mac_nodes_.clear();
  for (const auto& peer : routes.overlay_peers) {
    vtep_nodes_.emplace(peer.vtep, peer.node);
    if (auto mac = routing::vtep_mac(peer.underlay)) mac_nodes_.emplace(*mac, peer.node);
  }
}

asio::awaitable<std::optional<TargetProblem>> OverlayTarget::read(const DesiredState& desired, const KernelFacts&,
                                                                  Bindings& bindings) {
  index_ = 0;
  dump_.reset();
  delete_device_ = false;
  note_peers(desired.routes);
  // One FDB entry per peer node, whatever its families.
  metrics_.overlay_peers.set(static_cast<double>(desired.overlay.fdb.size()));
  const std::string name(routing::kVxlanDeviceName);
  if (!desired.overlay.device) {
    // No overlay peer (or --cross-subnet=skip): a device of ours goes, after
    // the routes through it. Deleting rather than keeping it idle closes its
    // UDP socket; recreating it when a peer comes back is one message.
    auto index = co_await table_.device_index(name);
    if (index) {
      index_ = *index;
      delete_device_ = true;
    }
    co_return std::nullopt;
  }
  // Without the device the overlay routes cannot be installed: no binding, they stay out.
  auto ensured = co_await table_.ensure_device(*desired.overlay.device);
  if (!ensured) co_return TargetProblem{"ensure device", problem_text(ensured.error())};
  log_device(*desired.overlay.device, *ensured);
  index_ = ensured->index;
  bindings.overlay_device = ensured->index;
  // Read after the device is in place: a recreated device holds no entry.
  auto dump = co_await table_.dump(ensured->index);
  if (!dump) co_return TargetProblem{"dump neighbour/FDB entries", problem_text(dump.error())};
  dump_ = std::move(*dump);
  co_return std::nullopt;
}

void OverlayTarget::log_device(const routing::VxlanDeviceSpec& device, const routing::EnsuredDevice& ensured) {
  if (ensured.created) {
    metrics_.overlay_device_creations.inc();
    KHG_LOG(info) << "VXLAN device created" << kv("device", device.name) << kv("index", ensured.index)
                  << kv("vni", device.vni) << kv("port", device.port) << kv("local", device.local.to_string())
                  << kv("mtu", device.mtu) << kv("address", device.address.to_string())
                  << kv("address6", device.address6 ? device.address6->to_string() : std::string("-"))
                  << kv("mac", device.mac.to_string());
  } else if (ensured.changed) {
    KHG_LOG(info) << "VXLAN device fixed" << kv("device", device.name) << kv("index", ensured.index)
                  << kv("mtu", device.mtu) << kv("address", device.address.to_string())
                  << kv("address6", device.address6 ? device.address6->to_string() : std::string("-"));
  }
}

Delta OverlayTarget::diff(const DesiredState& desired, const Bindings&) {
  Delta delta;
  if (!dump_) return delta;
  OverlayDiff changes = overlay_diff(desired.overlay, *dump_);
  auto to_item = [&](const routing::OverlayChange& change) {
    ItemChange out;
    out.kind = change.kind;
    std::visit([&](const auto& entry) { out.item = entry; }, change.entry);
    if (const auto* neighbour = std::get_if<routing::NeighbourEntry>(&change.entry)) {
      if (auto it = vtep_nodes_.find(neighbour->address); it != vtep_nodes_.end()) out.node = it->second;
    } else if (auto it = mac_nodes_.find(std::get<routing::FdbEntry>(change.entry).mac); it != mac_nodes_.end()) {
      out.node = it->second;
    }
    return out;
  };
  for (const auto& change : changes.upserts) delta.upserts.push_back(to_item(change));
  for (const auto& change : changes.removals) delta.removals.push_back(to_item(change));
  return delta;
}

asio::awaitable<std::optional<TargetProblem>> OverlayTarget::finish() {
  if (!delete_device_) co_return std::nullopt;
  delete_device_ = false;
  auto deleted = co_await table_.delete_device(std::string(routing::kVxlanDeviceName));
  if (!deleted) co_return TargetProblem{"delete device", problem_text(deleted.error())};
  KHG_LOG(info) << "VXLAN device deleted" << kv("device", routing::kVxlanDeviceName)
                << kv("reason",
                      cross_subnet_ == CrossSubnet::skip ? "--cross-subnet=skip" : "no peer on another subnet");
  co_return std::nullopt;
}

std::optional<Delta> OverlayTarget::plan_update(const NodeUpdate& update, const DesiredModel&) {
  // A peer through the overlay has neighbour/FDB entries (and maybe the
  // device) to follow: that is the full pass's work.
  for (const auto* routes : {&update.routes_before, &update.routes_after}) {
    for (const auto& entry : *routes)
      if (entry.path == RoutePath::overlay) return std::nullopt;
  }
  return Delta{};
}

asio::awaitable<std::vector<ItemResult>> OverlayTarget::apply(const std::vector<ItemChange>& batch) {
  std::vector<routing::OverlayChange> changes;
  changes.reserve(batch.size());
  for (const auto& change : batch) {
    routing::OverlayChange out{change.kind, {}};
    if (const auto* neighbour = std::get_if<routing::NeighbourEntry>(&change.item)) {
      out.entry = *neighbour;
    } else {
      out.entry = std::get<routing::FdbEntry>(change.item);
    }
    changes.push_back(std::move(out));
  }
  std::vector<routing::OverlayChangeResult> results = co_await table_.apply(index_, std::move(changes));
  std::vector<ItemResult> out;
  out.reserve(results.size());
  for (auto& result : results) out.push_back({result.error, std::move(result.message)});
  co_return out;
}

std::string OverlayTarget::describe(const Item& item) const {
  if (const auto* neighbour = std::get_if<routing::NeighbourEntry>(&item))
    return to_string(routing::OverlayEntry{*neighbour});
  return to_string(routing::OverlayEntry{std::get<routing::FdbEntry>(item)});
}

}  // namespace hostgw::controller
