#include "routing/fake_overlay_table.hpp"

#include <algorithm>
#include <cerrno>

namespace hostgw::routing {

namespace {
std::error_code errno_code(int value) {
  return {value, std::system_category()};
}

// The attributes a VXLAN device cannot change in place (the kernel refuses
// most of them on a running device): a mismatch means delete and recreate.
bool same_identity(const VxlanDeviceSpec& have, const VxlanDeviceSpec& want) {
  return have.vni == want.vni && have.port == want.port && have.local == want.local &&
         have.underlay_oif == want.underlay_oif;
}

// "device hostgw.vxlan: <what>: <strerror>", as NetlinkOverlayTable words it.
common::Error device_error(const std::string& name, std::error_code error, const std::string& what) {
  std::string message = "device ";
  message += name;
  message += ": ";
  if (!what.empty()) {
    message += what;
    message += ": ";
  }
  message += error.message();
  return common::Error{error, std::move(message)};
}
}  // namespace

boost::asio::awaitable<common::Result<EnsuredDevice>> FakeOverlayTable::ensure_device(VxlanDeviceSpec spec) {
  ++ensure_calls_;
  EnsuredDevice result;
  if (next_ensure_error_) {
    const std::error_code error = std::exchange(next_ensure_error_, {});
    co_return device_error(spec.name, error, std::exchange(next_ensure_step_, {}));
  }
  if (std::string problem = check_device_spec(spec); !problem.empty()) {
    std::string message = "device ";
    message += spec.name;
    message += ": ";
    message += problem;
    co_return common::Error{errno_code(EINVAL), std::move(message)};
  }
  auto it = devices_.find(spec.name);
  if (it != devices_.end() && (!it->second.is_vxlan || !same_identity(it->second.spec, spec))) {
    devices_.erase(it);
    it = devices_.end();
  }
  if (it == devices_.end()) {
    FakeVxlanDevice device;
    device.spec = spec;
    device.index = next_index_++;
    ++creations_;
    result.created = true;
    result.changed = true;
    result.index = device.index;
    devices_.emplace(spec.name, std::move(device));
    co_return result;
  }
  FakeVxlanDevice& device = it->second;
  if (device.spec.mtu != spec.mtu || device.spec.mac != spec.mac || device.spec.address != spec.address ||
      device.spec.address6 != spec.address6 || !device.has_address || !device.up) {
    result.changed = true;
  }
  device.spec = spec;
  device.has_address = true;
  device.up = true;
  result.index = device.index;
  co_return result;
}

boost::asio::awaitable<common::Result<void>> FakeOverlayTable::delete_device(std::string name) {
  if (next_delete_error_) co_return device_error(name, std::exchange(next_delete_error_, {}), "deleting it");
  auto it = devices_.find(name);
  if (it == devices_.end()) co_return common::Result<void>{};
  if (!it->second.is_vxlan) {
    co_return device_error(name, errno_code(EMEDIUMTYPE), "left alone, it is a foreign device, not vxlan");
  }
  devices_.erase(it);
  co_return common::Result<void>{};
}

boost::asio::awaitable<std::optional<std::uint32_t>> FakeOverlayTable::device_index(std::string name) {
  auto it = devices_.find(name);
  if (it == devices_.end()) co_return std::nullopt;
  co_return it->second.index;
}

boost::asio::awaitable<common::Result<OverlayDump>> FakeOverlayTable::dump(std::uint32_t index) {
  ++dumps_;
  // "dump of overlay entries on link 12: No such device"
  auto failure = [&](std::error_code error) {
    std::string message = "dump of overlay entries on link ";
    message += std::to_string(index);
    message += ": ";
    message += error.message();
    return common::Error{error, std::move(message)};
  };
  if (next_dump_error_) co_return failure(std::exchange(next_dump_error_, {}));
  const FakeVxlanDevice* device = find(index);
  if (!device) co_return failure(errno_code(ENODEV));
  OverlayDump result;
  // std::map iterates in key order; entries compare address-first / MAC-first.
  for (const auto& [address, mac] : device->neighbours) result.neighbours.push_back({address, mac});
  for (const auto& [mac, destination] : device->fdb) result.fdb.push_back({mac, destination});
  co_return result;
}

boost::asio::awaitable<std::vector<OverlayChangeResult>> FakeOverlayTable::apply(std::uint32_t index,
                                                                                 std::vector<OverlayChange> changes) {
  ++apply_calls_;
  std::vector<OverlayChangeResult> results;
  results.reserve(changes.size());
  for (const OverlayChange& change : changes) results.push_back(apply_one(find(index), change));
  co_return results;
}

OverlayChangeResult FakeOverlayTable::apply_one(FakeVxlanDevice* device, const OverlayChange& change) {
  ++writes_;
  OverlayChangeResult result{change, 0, {}};
  auto failure =
      std::find_if(failures_.begin(), failures_.end(), [&](const auto& entry) { return entry.first == change.entry; });
  if (failure != failures_.end()) {
    result.error = failure->second.first;
    result.message = std::move(failure->second.second);
    failures_.erase(failure);
    return result;
  }
  if (std::string problem = check_overlay_change(change); !problem.empty()) {
    result.error = EINVAL;
    result.message = std::move(problem);
    return result;
  }
  if (!device) {
    result.error = ENODEV;
    result.message = "Cannot find device";
    return result;
  }
  const bool remove = change.kind == ChangeKind::remove;
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&change.entry)) {
    auto existing = device->neighbours.find(neighbour->address);
    if (!remove) {
      device->neighbours[neighbour->address] = neighbour->mac;
    } else if (existing == device->neighbours.end()) {
      result.error = ENOENT;
      result.message = "fake: no neighbour " + neighbour->address.to_string();
    } else {
      device->neighbours.erase(existing);
    }
    return result;
  }
  const auto& fdb = std::get<FdbEntry>(change.entry);
  auto existing = device->fdb.find(fdb.mac);
  if (!remove) {
    device->fdb[fdb.mac] = fdb.destination;
  } else if (existing == device->fdb.end() || existing->second != fdb.destination) {
    result.error = ENOENT;
    result.message = "fake: no FDB entry " + fdb.mac.to_string() + " dst " + fdb.destination.to_string();
  } else {
    device->fdb.erase(existing);
  }
  return result;
}

std::uint32_t FakeOverlayTable::seed_device(const VxlanDeviceSpec& spec, bool up) {
  FakeVxlanDevice device;
  device.spec = spec;
  device.index = next_index_++;
  device.up = up;
  devices_[spec.name] = device;
  return device.index;
}

std::uint32_t FakeOverlayTable::seed_foreign_device(const std::string& name) {
  FakeVxlanDevice device;
  device.spec.name = name;
  device.index = next_index_++;
  device.is_vxlan = false;
  device.has_address = false;
  devices_[name] = device;
  return device.index;
}

bool FakeOverlayTable::seed(std::uint32_t index, const OverlayEntry& entry) {
  FakeVxlanDevice* device = find(index);
  if (!device) return false;
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&entry)) {
    device->neighbours[neighbour->address] = neighbour->mac;
  } else {
    const auto& fdb = std::get<FdbEntry>(entry);
    device->fdb[fdb.mac] = fdb.destination;
  }
  return true;
}

bool FakeOverlayTable::remove_device_externally(const std::string& name) {
  return devices_.erase(name) > 0;
}

bool FakeOverlayTable::remove_externally(std::uint32_t index, const OverlayEntry& entry) {
  FakeVxlanDevice* device = find(index);
  if (!device) return false;
  if (const auto* neighbour = std::get_if<NeighbourEntry>(&entry)) {
    auto it = device->neighbours.find(neighbour->address);
    if (it == device->neighbours.end() || it->second != neighbour->mac) return false;
    device->neighbours.erase(it);
    return true;
  }
  const auto& fdb = std::get<FdbEntry>(entry);
  auto it = device->fdb.find(fdb.mac);
  if (it == device->fdb.end() || it->second != fdb.destination) return false;
  device->fdb.erase(it);
  return true;
}

bool FakeOverlayTable::set_mtu_externally(const std::string& name, std::uint32_t mtu) {
  auto it = devices_.find(name);
  if (it == devices_.end()) return false;
  it->second.spec.mtu = mtu;
  return true;
}

bool FakeOverlayTable::set_down_externally(const std::string& name) {
  auto it = devices_.find(name);
  if (it == devices_.end()) return false;
  it->second.up = false;
  return true;
}

void FakeOverlayTable::fail_next_ensure(std::error_code error, std::string step) {
  next_ensure_error_ = error;
  next_ensure_step_ = std::move(step);
}
void FakeOverlayTable::fail_next_delete(std::error_code error) {
  next_delete_error_ = error;
}
void FakeOverlayTable::fail_next_dump(std::error_code error) {
  next_dump_error_ = error;
}
void FakeOverlayTable::fail_next(const OverlayEntry& entry, int error, std::string message) {
  failures_.push_back({entry, {error, std::move(message)}});
}

const FakeVxlanDevice* FakeOverlayTable::device(const std::string& name) const {
  auto it = devices_.find(name);
  return it == devices_.end() ? nullptr : &it->second;
}

const FakeVxlanDevice* FakeOverlayTable::device(std::uint32_t index) const {
  for (const auto& [name, device] : devices_) {
    if (device.index == index) return &device;
  }
  return nullptr;
}

FakeVxlanDevice* FakeOverlayTable::find(std::uint32_t index) {
  for (auto& [name, device] : devices_) {
    if (device.index == index) return &device;
  }
  return nullptr;
}

}  // namespace hostgw::routing
