#pragma once

// DryRunOverlayTable: --dry-run for the VXLAN device. Reads (device_index,
// dump) go to the real table; ensure_device, delete_device and apply only log
// what would be done ("Dry run: VXLAN device would be created") and report
// success. It never writes to the kernel. When the device does not exist,
// ensure_device returns index 0 and dump(0) an empty dump.

#include <string>

#include "controller/desired_overlay.hpp"
#include "routing/overlay_table.hpp"

namespace hostgw::controller {

class DryRunOverlayTable final : public routing::OverlayTable {
 public:
  explicit DryRunOverlayTable(routing::OverlayTable& real) : real_(real) {}

  boost::asio::awaitable<common::Result<routing::EnsuredDevice>> ensure_device(routing::VxlanDeviceSpec spec) override;
  boost::asio::awaitable<common::Result<void>> delete_device(std::string name) override;
  boost::asio::awaitable<std::optional<std::uint32_t>> device_index(std::string name) override;
  boost::asio::awaitable<common::Result<routing::OverlayDump>> dump(std::uint32_t index) override;
  boost::asio::awaitable<std::vector<routing::OverlayChangeResult>> apply(
      std::uint32_t index, std::vector<routing::OverlayChange> changes) override;

 private:
  routing::OverlayTable& real_;
  std::string last_device_message_;  // logged once until it changes
};

}  // namespace hostgw::controller
