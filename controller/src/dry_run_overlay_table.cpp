#include "controller/dry_run_overlay_table.hpp"

#include "common/log.hpp"

namespace hostgw::controller {

using log::kv;

boost::asio::awaitable<common::Result<routing::EnsuredDevice>> DryRunOverlayTable::ensure_device(
    routing::VxlanDeviceSpec spec) {
  routing::EnsuredDevice result;
  auto index = co_await real_.device_index(spec.name);
  result.index = index.value_or(0);
  std::string message = index ? "Dry run: VXLAN device would be checked and fixed" : "Dry run: VXLAN device would be created";
  if (message != last_device_message_) {
    last_device_message_ = message;
    KHG_LOG(info) << message << kv("device", spec.name) << kv("vni", spec.vni) << kv("port", spec.port)
                  << kv("local", spec.local.to_string()) << kv("mtu", spec.mtu)
                  << kv("address", spec.address.to_string())
                  << kv("address6", spec.address6 ? spec.address6->to_string() : std::string("-"));
  }
  co_return result;
}

boost::asio::awaitable<common::Result<void>> DryRunOverlayTable::delete_device(std::string name) {
  std::string message = "Dry run: VXLAN device would be deleted";
  if (message != last_device_message_) {
    last_device_message_ = message;
    KHG_LOG(info) << message << kv("device", name);
  }
  co_return common::Result<void>{};
}

boost::asio::awaitable<std::optional<std::uint32_t>> DryRunOverlayTable::device_index(std::string name) {
  co_return co_await real_.device_index(std::move(name));
}

boost::asio::awaitable<common::Result<routing::OverlayDump>> DryRunOverlayTable::dump(std::uint32_t index) {
  if (index == 0) co_return routing::OverlayDump{};
  co_return co_await real_.dump(index);
}

boost::asio::awaitable<std::vector<routing::OverlayChangeResult>> DryRunOverlayTable::apply(
    std::uint32_t /*index*/, std::vector<routing::OverlayChange> changes) {
  std::vector<routing::OverlayChangeResult> results;
  results.reserve(changes.size());
  for (auto& change : changes) {
    KHG_LOG(info) << (change.kind == routing::ChangeKind::remove ? "Dry run: overlay entry would be deleted"
                                                                  : "Dry run: overlay entry would be added")
                  << kv("entry", to_string(change.entry));
    results.push_back({std::move(change), 0, {}});
  }
  co_return results;
}

}  // namespace hostgw::controller
