#pragma once

// DryRunOverlayTable: --dry-run for the VXLAN device. Reads (device_index,
// dump) go to the real table; ensure_device, delete_device and apply only log
// what would be done ("Dry run: VXLAN device would be created") and report
// success. It never writes to the kernel. When the device does not exist,
// ensure_device returns index 0 and dump(0) an empty dump.

#include <string>

#include "routing/overlay_table.hpp"

namespace hostgw::controller {

class DryRunOverlayTable final : public routing::OverlayTable {
 public:
  explicit DryRunOverlayTable(routing::OverlayTable& real) : real_(real) {}

  boost::asio::awaitable<routing::EnsureDeviceResult> ensure_device(routing::VxlanDeviceSpec spec) override;
  boost::asio::awaitable<std::error_code> delete_device(std::string name) override;
  boost::asio::awaitable<std::optional<std::uint32_t>> device_index(std::string name) override;
  boost::asio::awaitable<routing::OverlayDump> dump(std::uint32_t index) override;
  boost::asio::awaitable<std::vector<routing::OverlayChangeResult>> apply(
      std::uint32_t index, std::vector<routing::OverlayChange> changes) override;

  std::size_t changes_logged() const { return changes_logged_; }

 private:
  routing::OverlayTable& real_;
  std::size_t changes_logged_ = 0;
  std::string last_device_message_;  // logged once until it changes
};

// "neighbour 10.244.4.0 lladdr 0e:68:cb:00:71:0e" / "fdb 0e:68:cb:00:71:0e dst 203.0.113.14"
std::string to_string(const routing::OverlayEntry& entry);

}  // namespace hostgw::controller
