#pragma once

// FakeOverlayTable: an in-memory OverlayTable for tests that run without root
// (the controller's cross-subnet tests).
//
// It behaves like the kernel where the controller's logic depends on it:
//   - ensure_device creates a missing device (created = true, a new ifindex);
//     one with another VNI, port, local address or underlay link, or one
//     seeded as "not vxlan", is deleted (its entries with it) and recreated
//     with a new ifindex; MTU, MAC, the VTEP addresses and the up state
//     are fixed in place (changed = true). A spec the kernel would refuse
//     (VNI 0 or above 2^24-1, port 0, non-IPv4 local, no underlay link, MTU
//     below 68, non-/32 address, non-/128 IPv6 address) -> EINVAL with a
//     message naming the field;
//   - neighbours are keyed by address, FDB entries by MAC (the kernel's
//     NLM_F_REPLACE on a VXLAN FDB replaces the MAC's one remote): add and
//     replace create or overwrite;
//   - remove of an absent entry -> ENOENT; an FDB remove whose destination
//     differs from the MAC's remote -> ENOENT, as the kernel answers;
//   - every operation on an unknown ifindex -> ENODEV;
//   - a change check_overlay_change() refuses (IPv6 FDB destination,
//     multicast MAC) -> EINVAL with its text, before anything else, as
//     NetlinkOverlayTable does;
//   - delete_device of a seeded foreign (non-VXLAN) device -> EMEDIUMTYPE;
//   - errors are common::Error values whose messages name the device or the
//     dump, in the form NetlinkOverlayTable uses.
// It never touches the network; it owns no sockets. One thread, like the rest.
// It does not post change notices: tests that simulate "someone deleted the
// device" call remove_device_externally() and post the notice on their
// ChangeMonitor (FakeRouteTable::post_notice).

#include <cstddef>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "routing/overlay_table.hpp"

namespace hostgw::routing {

// One device as the fake holds it.
struct FakeVxlanDevice {
  VxlanDeviceSpec spec;     // the attributes it has now
  std::uint32_t index = 0;  // its ifindex
  bool up = true;
  bool is_vxlan = true;                        // false: a foreign device of that name (seed_foreign_device)
  bool has_address = true;                     // the VTEP /32 is on it
  std::map<IpAddress, MacAddress> neighbours;  // address -> MAC
  std::map<MacAddress, IpAddress> fdb;         // MAC -> underlay destination
};

class FakeOverlayTable final : public OverlayTable {
 public:
  FakeOverlayTable() = default;

  // OverlayTable
  boost::asio::awaitable<common::Result<EnsuredDevice>> ensure_device(VxlanDeviceSpec spec) override;
  boost::asio::awaitable<common::Result<void>> delete_device(std::string name) override;
  boost::asio::awaitable<std::optional<std::uint32_t>> device_index(std::string name) override;
  boost::asio::awaitable<common::Result<OverlayDump>> dump(std::uint32_t index) override;
  boost::asio::awaitable<std::vector<OverlayChangeResult>> apply(std::uint32_t index,
                                                                 std::vector<OverlayChange> changes) override;

  // --- test knobs -----------------------------------------------------------

  // Installs a device as a previous run would have left it (no checks, no
  // counters); returns its ifindex. Replaces a device of the same name.
  std::uint32_t seed_device(const VxlanDeviceSpec& spec, bool up = true);
  // Installs a non-VXLAN device (say a dummy) under `name`; ensure_device
  // must recreate it.
  std::uint32_t seed_foreign_device(const std::string& name);
  // Puts an entry on device `index` without checks (a previous run's entry,
  // or one someone else added). False if no such device.
  bool seed(std::uint32_t index, const OverlayEntry& entry);

  // As `ip link del` by someone else: false if no such device.
  bool remove_device_externally(const std::string& name);
  // As `ip neigh del` / `bridge fdb del` by someone else: false if absent.
  bool remove_externally(std::uint32_t index, const OverlayEntry& entry);
  // As `ip link set ... mtu/down` by someone else. False if no such device.
  bool set_mtu_externally(const std::string& name, std::uint32_t mtu);
  bool set_down_externally(const std::string& name);

  // The next ensure_device() / delete_device() / dump() fails with `error`
  // (once), its message naming the device (and for ensure_device `step`) or
  // the dump, as NetlinkOverlayTable's do.
  void fail_next_ensure(std::error_code error, std::string step = "creating the vxlan device");
  void fail_next_delete(std::error_code error);
  void fail_next_dump(std::error_code error);
  // The next message that touches `entry` (compared by value) fails with
  // `error` (positive errno) and `message` instead of being applied;
  // consumed once per call.
  void fail_next(const OverlayEntry& entry, int error, std::string message = {});

  // The device named `name`, or nullptr.
  const FakeVxlanDevice* device(const std::string& name) const;
  // The device with ifindex `index`, or nullptr.
  const FakeVxlanDevice* device(std::uint32_t index) const;
  std::size_t device_count() const { return devices_.size(); }

  std::size_t ensure_calls() const { return ensure_calls_; }
  // Devices created by ensure_device (first creations and recreations).
  std::size_t creations() const { return creations_; }
  std::size_t dumps() const { return dumps_; }
  // Messages processed by apply() (each change is one message, failed or not).
  std::size_t writes() const { return writes_; }
  std::size_t apply_calls() const { return apply_calls_; }

 private:
  FakeVxlanDevice* find(std::uint32_t index);
  OverlayChangeResult apply_one(FakeVxlanDevice* device, const OverlayChange& change);

  std::map<std::string, FakeVxlanDevice> devices_;
  std::vector<std::pair<OverlayEntry, std::pair<int, std::string>>> failures_;
  std::error_code next_ensure_error_;
  std::string next_ensure_step_;
  std::error_code next_delete_error_;
  std::error_code next_dump_error_;
  // Starts above the indexes a fresh namespace uses (lo = 1), like a host
  // with a few links.
  std::uint32_t next_index_ = 10;
  std::size_t ensure_calls_ = 0;
  std::size_t creations_ = 0;
  std::size_t dumps_ = 0;
  std::size_t writes_ = 0;
  std::size_t apply_calls_ = 0;
};

}  // namespace hostgw::routing
