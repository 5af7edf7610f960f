#include "routing/netlink_overlay_table.hpp"

// glibc's <net/if.h> first: <linux/if.h> then adds only what glibc lacks.
#include <net/if.h>

#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include "routing/netlink_message.hpp"
#include "routing/netlink_overlay_message.hpp"
#include "routing/netlink_socket.hpp"

namespace hostgw::routing {

namespace asio = boost::asio;
using netlink::consistent_dump;
using netlink::DumpVisitor;
using netlink::errno_code;
using netlink::RequestBuilder;

namespace {


// Why an existing device cannot be kept (empty: it can).
std::string identity_mismatch(const netlink::LinkDetails& have, const VxlanDeviceSpec& want) {
  if (have.kind != "vxlan") {
    return "is a " + (have.kind.empty() ? std::string("device without a kind") : have.kind + " device") + ", not vxlan";
  }
  if (have.vni != want.vni) return "has VNI " + std::to_string(have.vni) + ", want " + std::to_string(want.vni);
  if (have.port != want.port) {
    return "has UDP port " + std::to_string(have.port) + ", want " + std::to_string(want.port);
  }
  if (have.local != want.local) {
    return "has local address " + (have.local ? have.local->to_string() : std::string("(none)")) + ", want " +
           want.local.to_string();
  }
  if (have.underlay_oif != want.underlay_oif) {
    return "has underlay link " + std::to_string(have.underlay_oif) + ", want " + std::to_string(want.underlay_oif);
  }
  if (have.learning.value_or(true)) return "has learning on, want off";
  return {};
}
}  // namespace

struct NetlinkOverlayTable::Lookup {
  std::error_code error;                     // other than "no such device"
  std::optional<netlink::LinkDetails> link;  // nullopt: no device of that name
  std::string message;
};

NetlinkOverlayTable::NetlinkOverlayTable(asio::any_io_executor executor, NetlinkTableOptions options)
    : options_(options), socket_(netlink::open_request_socket(std::move(executor), options)) {}

NetlinkOverlayTable::~NetlinkOverlayTable() = default;

std::uint32_t NetlinkOverlayTable::port_id() const {
  return socket_->port_id();
}

asio::awaitable<NetlinkOverlayTable::Lookup> NetlinkOverlayTable::find_link(const std::string& name) {
  Lookup result;
  const std::uint32_t seq = socket_->reserve_sequence(1);
  const std::vector<std::uint8_t> request = netlink::link_get_request(name, seq);
  std::string parse_error;
  bool malformed = false;
  const netlink::MessageVisitor visit = [&](const netlink::MessageHeader& header,
                                            std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWLINK) return;
    auto details = netlink::parse_link_details(message, &parse_error);
    if (!details) {
      malformed = true;
      return;
    }
    result.link = std::move(*details);
  };
  std::error_code error = co_await socket_->request(request, seq, visit);
  if (error.value() == ENODEV) co_return result;  // no such device
  if (error) {
    result.error = error;
    result.message = "RTM_GETLINK " + name + ": " + error.message();
  } else if (malformed) {
    result.error = errno_code(EBADMSG);
    result.message = "RTM_GETLINK " + name + ": unreadable reply: " + parse_error;
  } else if (result.link && result.link->link.name != name) {
    // Should not happen; never act on another device.
    result.error = errno_code(EBADMSG);
    result.message = "RTM_GETLINK " + name + " answered with link " + result.link->link.name;
    result.link.reset();
  }
  co_return result;
}

asio::awaitable<std::pair<int, std::string>> NetlinkOverlayTable::transact_one(std::vector<std::uint8_t> message) {
  const std::uint32_t seq = socket_->reserve_sequence(1);
  // The builders were given seq 0: stamp the reserved one.
  reinterpret_cast<nlmsghdr*>(message.data())->nlmsg_seq = seq;
  const std::vector<std::size_t> ends{message.size()};
  std::vector<netlink::MessageResult> answers = co_await socket_->transact(message, ends, seq);
  co_return std::make_pair(answers.at(0).error, std::move(answers.at(0).message));
}

namespace {

// Fills `result` for a kernel refusal of one step on the device.
void device_failure(EnsureDeviceResult& result, const VxlanDeviceSpec& spec, int error, std::string what,
                    const std::string& kernel_text) {
  result.error = errno_code(error);
  result.message = "device " + spec.name + ": " + std::move(what) + ": " + errno_code(error).message() +
                   (kernel_text.empty() ? std::string() : " (" + kernel_text + ")");
}

}  // namespace

asio::awaitable<bool> NetlinkOverlayTable::create_device(const VxlanDeviceSpec& spec, EnsureDeviceResult& result) {
  std::vector<std::uint8_t> message;
  netlink::append_vxlan_create(message, spec, 0);
  auto [error, text] = co_await transact_one(std::move(message));
  if (error != 0) {
    device_failure(result, spec, error,
                   "creating the vxlan device (VNI " + std::to_string(spec.vni) + ", port " +
                       std::to_string(spec.port) + ", local " + spec.local.to_string() + ", link " +
                       std::to_string(spec.underlay_oif) + ", MTU " + std::to_string(spec.mtu) + ")",
                   text);
    co_return false;
  }
  result.created = true;
  result.changed = true;
  Lookup created = co_await find_link(spec.name);
  if (created.error || !created.link) {
    result.error = created.error ? created.error : errno_code(ENODEV);
    result.message = created.error ? created.message : "device " + spec.name + " vanished right after its creation";
    co_return false;
  }
  result.index = created.link->link.index;
  if (created.link->link.mtu != spec.mtu) {
    // The kernel clamps a new VXLAN device's MTU to the underlay's minus
    // the overhead without saying so (a later change to it is EINVAL).
    result.error = errno_code(EINVAL);
    result.message = "device " + spec.name + ": the kernel created it with MTU " +
                     std::to_string(created.link->link.mtu) + ", not " + std::to_string(spec.mtu) +
                     " (at most the underlay link's MTU minus " + std::to_string(kVxlanOverheadV4) + ")";
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> NetlinkOverlayTable::fix_device(const netlink::LinkDetails& link, const VxlanDeviceSpec& spec,
                                                      EnsureDeviceResult& result) {
  const bool fix_mtu = link.link.mtu != spec.mtu;
  const bool fix_mac = link.mac != spec.mac;
  const bool fix_up = !(link.link.flags & IFF_UP);
  if (!fix_mtu && !fix_mac && !fix_up) {
    result.index = link.link.index;
    co_return true;
  }
  std::vector<std::uint8_t> message;
  netlink::append_link_update(message, link.link.index, fix_mtu ? std::optional(spec.mtu) : std::nullopt,
                              fix_mac ? std::optional(spec.mac) : std::nullopt, fix_up, 0);
  auto [error, text] = co_await transact_one(std::move(message));
  if (error != 0) {
    std::string what = "setting";
    if (fix_mtu) what += " MTU " + std::to_string(spec.mtu) + " (was " + std::to_string(link.link.mtu) + ")";
    if (fix_mac) what += " MAC " + spec.mac.to_string();
    if (fix_up) what += " up";
    device_failure(result, spec, error, what, text);
    co_return false;
  }
  result.index = link.link.index;
  result.changed = true;
  co_return true;
}

asio::awaitable<bool> NetlinkOverlayTable::ensure_address(const VxlanDeviceSpec& spec, EnsureDeviceResult& result) {
  // The VTEP addresses: exactly spec.address among the device's IPv4
  // addresses, exactly spec.address6 (or none) among its global IPv6 ones;
  // the kernel's link-local IPv6 address stays.
  const std::uint32_t index = result.index;
  std::vector<std::pair<IpAddress, unsigned>> present;  // as the kernel holds them (host bits kept)
  const RequestBuilder request = [](std::uint32_t seq) { return netlink::address_dump_request(seq); };
  const std::function<void()> restart = [&] { present.clear(); };
  const DumpVisitor visit = [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWADDR) return true;
    auto address = netlink::parse_address_message(message);
    if (!address) return false;
    if (address->index == index && (address->local.is_v4() || address->scope == RT_SCOPE_UNIVERSE)) {
      present.emplace_back(address->local, address->prefix_length);
    }
    return true;
  };
  if (std::error_code error = co_await consistent_dump(*socket_, options_.dump_attempts, request, restart, visit)) {
    result.error = error;
    result.message = "device " + spec.name + ": dumping its addresses: " + error.message();
    co_return false;
  }
  bool have = false;
  bool have6 = false;
  auto is = [](const std::pair<IpAddress, unsigned>& held, const IpPrefix& wanted) {
    return held.first == wanted.address() && held.second == wanted.length();
  };
  for (const auto& held : present) {
    if (is(held, spec.address)) {
      have = true;
      continue;
    }
    if (spec.address6 && is(held, *spec.address6)) {
      have6 = true;
      continue;
    }
    std::vector<std::uint8_t> message;
    netlink::append_address_change(message, false, index, held.first, held.second, 0);
    auto [error, text] = co_await transact_one(std::move(message));
    if (error != 0 && error != EADDRNOTAVAIL) {
      device_failure(result, spec, error,
                     "removing the stale address " + held.first.to_string() + "/" + std::to_string(held.second), text);
      co_return false;
    }
    result.changed = true;
  }
  std::vector<IpPrefix> missing;
  if (!have) missing.push_back(spec.address);
  if (spec.address6 && !have6) missing.push_back(*spec.address6);
  for (const IpPrefix& address : missing) {
    std::vector<std::uint8_t> message;
    netlink::append_address_change(message, true, index, address, 0);
    auto [error, text] = co_await transact_one(std::move(message));
    if (error != 0) {
      device_failure(result, spec, error, "adding the VTEP address " + address.to_string(), text);
      co_return false;
    }
    result.changed = true;
  }
  co_return true;
}

asio::awaitable<EnsureDeviceResult> NetlinkOverlayTable::ensure_device(VxlanDeviceSpec spec) {
  EnsureDeviceResult result;
  if (std::string problem = check_device_spec(spec); !problem.empty()) {
    result.error = errno_code(EINVAL);
    result.message = "device " + spec.name + ": " + problem;
    co_return result;
  }
  Lookup found = co_await find_link(spec.name);
  if (found.error) {
    result.error = found.error;
    result.message = found.message;
    co_return result;
  }
  if (found.link) {
    if (std::string why = identity_mismatch(*found.link, spec); !why.empty()) {
      std::vector<std::uint8_t> message;
      netlink::append_link_delete(message, found.link->link.index, 0);
      auto [error, text] = co_await transact_one(std::move(message));
      if (error != 0 && error != ENODEV) {
        device_failure(result, spec, error, "deleting it to recreate it (it " + why + ")", text);
        co_return result;
      }
      found.link.reset();
    }
  }
  bool device_ok = false;
  if (found.link)
    device_ok = co_await fix_device(*found.link, spec, result);
  else
    device_ok = co_await create_device(spec, result);
  if (device_ok) co_await ensure_address(spec, result);
  co_return result;
}

asio::awaitable<std::error_code> NetlinkOverlayTable::delete_device(std::string name) {
  Lookup found = co_await find_link(name);
  if (found.error) co_return found.error;
  if (!found.link) co_return std::error_code();
  // Never delete what is not a VXLAN device (a typo'd name, someone else's link).
  if (found.link->kind != "vxlan") co_return errno_code(EMEDIUMTYPE);
  std::vector<std::uint8_t> message;
  netlink::append_link_delete(message, found.link->link.index, 0);
  auto [error, text] = co_await transact_one(std::move(message));
  if (error != 0 && error != ENODEV) co_return errno_code(error);
  co_return std::error_code();
}

asio::awaitable<std::optional<std::uint32_t>> NetlinkOverlayTable::device_index(std::string name) {
  Lookup found = co_await find_link(name);
  if (!found.link) co_return std::nullopt;
  co_return found.link->link.index;
}

asio::awaitable<std::error_code> NetlinkOverlayTable::dump_permanent(std::uint32_t index, std::uint8_t family,
                                                                     const std::function<void()>& restart,
                                                                     const EntryVisitor& take) {
  const RequestBuilder request = [&](std::uint32_t seq) { return netlink::neighbour_dump_request(family, index, seq); };
  const DumpVisitor visit = [&](const netlink::MessageHeader& header, std::span<const std::uint8_t> message) {
    if (header.type != RTM_NEWNEIGH) return true;
    auto parsed = netlink::parse_neighbour_message(message);
    if (!parsed) return false;
    // The kernel filters on the link; kept here too for kernels that do not.
    if (parsed->index != index || parsed->family != family || !(parsed->state & NUD_PERMANENT)) return true;
    // Entries without NDA_DST (the device's own and multicast FDB addresses)
    // are not remotes: not ours.
    if (!parsed->destination || !parsed->lladdr) return true;
    take(*parsed->destination, *parsed->lladdr);
    return true;
  };
  co_return co_await consistent_dump(*socket_, options_.dump_attempts, request, restart, visit);
}

asio::awaitable<OverlayDump> NetlinkOverlayTable::dump(std::uint32_t index) {
  OverlayDump result;
  const std::function<void()> restart_neighbours = [&] { result.neighbours.clear(); };
  const EntryVisitor take_neighbour = [&](const IpAddress& address, const MacAddress& mac) {
    result.neighbours.push_back({address, mac});
  };
  const std::function<void()> restart_fdb = [&] { result.fdb.clear(); };
  const EntryVisitor take_fdb = [&](const IpAddress& destination, const MacAddress& mac) {
    result.fdb.push_back({mac, destination});
  };
  // One dump per neighbour family; an interrupted IPv6 dump must not drop the IPv4 entries.
  std::vector<NeighbourEntry> neighbours4;
  std::error_code error = co_await dump_permanent(index, AF_INET, restart_neighbours, take_neighbour);
  if (!error) {
    neighbours4 = result.neighbours;
    const std::function<void()> restart_neighbours6 = [&] { result.neighbours = neighbours4; };
    error = co_await dump_permanent(index, AF_INET6, restart_neighbours6, take_neighbour);
  }
  if (!error) error = co_await dump_permanent(index, AF_BRIDGE, restart_fdb, take_fdb);
  if (error) {
    result.error = error;
    result.neighbours.clear();
    result.fdb.clear();
    co_return result;
  }
  // The kernel answers a dump filtered to a link that does not exist with
  // nothing at all: make sure the device is (still) there, so an empty dump
  // means "no entries", never "wrong index".
  {
    const std::uint32_t seq = socket_->reserve_sequence(1);
    const std::vector<std::uint8_t> request = netlink::link_get_request(index, seq);
    const netlink::MessageVisitor ignore = [](const netlink::MessageHeader&, std::span<const std::uint8_t>) {};
    if (std::error_code error = co_await socket_->request(request, seq, ignore)) {
      result.error = error;
      result.neighbours.clear();
      result.fdb.clear();
      co_return result;
    }
  }
  std::sort(result.neighbours.begin(), result.neighbours.end());
  result.neighbours.erase(std::unique(result.neighbours.begin(), result.neighbours.end()), result.neighbours.end());
  std::sort(result.fdb.begin(), result.fdb.end());
  result.fdb.erase(std::unique(result.fdb.begin(), result.fdb.end()), result.fdb.end());
  co_return result;
}

asio::awaitable<std::vector<OverlayChangeResult>> NetlinkOverlayTable::apply(std::uint32_t index,
                                                                             std::vector<OverlayChange> changes) {
  co_return co_await netlink::checked_batch<OverlayChangeResult>(
      *socket_, std::move(changes), [](const OverlayChange& change) { return check_overlay_change(change); },
      [index](std::vector<std::uint8_t>& batch, const OverlayChange& change, std::uint32_t seq) {
        netlink::append_overlay_change(batch, index, change, seq);
      });
}

}  // namespace hostgw::routing
