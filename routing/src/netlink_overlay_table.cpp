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
#include <string_view>

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
    result.message = "device " + name + ": reading it (RTM_GETLINK): " + error.message();
  } else if (malformed) {
    result.error = errno_code(EBADMSG);
    result.message = "device " + name + ": reading it (RTM_GETLINK): unreadable reply: " + parse_error;
  } else if (result.link && result.link->link.name != name) {
    // Should not happen; never act on another device.
    result.error = errno_code(EBADMSG);
    result.message = "device " + name + ": reading it (RTM_GETLINK): answered with link " + result.link->link.name;
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

// A kernel refusal of one step on device `name`: "device hostgw.vxlan: <what>:
// <strerror> (<extended ACK>)".
common::Error device_failure(const std::string& name, int error, const std::string& what,
                             const std::string& kernel_text) {
  const std::error_code code = errno_code(error);
  std::string message = "device ";
  message += name;
  message += ": ";
  message += what;
  message += ": ";
  message += code.message();
  if (!kernel_text.empty()) {
    message += " (";
    message += kernel_text;
    message += ")";
  }
  return common::Error{code, std::move(message)};
}

}  // namespace

asio::awaitable<common::Result<void>> NetlinkOverlayTable::create_device(const VxlanDeviceSpec& spec,
                                                                         EnsuredDevice& device) {
  std::vector<std::uint8_t> message;
  netlink::append_vxlan_create(message, spec, 0);
  auto [error, text] = co_await transact_one(std::move(message));
  if (error != 0) {
    co_return device_failure(spec.name, error,
                             "creating the vxlan device (VNI " + std::to_string(spec.vni) + ", port " +
                                 std::to_string(spec.port) + ", local " + spec.local.to_string() + ", link " +
                                 std::to_string(spec.underlay_oif) + ", MTU " + std::to_string(spec.mtu) + ")",
                             text);
  }
  device.created = true;
  device.changed = true;
  Lookup created = co_await find_link(spec.name);
  if (created.error) co_return common::Error{created.error, std::move(created.message)};
  if (!created.link) {
    co_return common::Error{errno_code(ENODEV), "device " + spec.name + " vanished right after its creation"};
  }
  device.index = created.link->link.index;
  if (created.link->link.mtu != spec.mtu) {
    // The kernel clamps a new VXLAN device's MTU to the underlay's minus
    // the overhead without saying so (a later change to it is EINVAL).
    co_return common::Error{errno_code(EINVAL),
                            "device " + spec.name + ": the kernel created it with MTU " +
                                std::to_string(created.link->link.mtu) + ", not " + std::to_string(spec.mtu) +
                                " (at most the underlay link's MTU minus " + std::to_string(kVxlanOverheadV4) + ")"};
  }
  co_return common::Result<void>{};
}

asio::awaitable<common::Result<void>> NetlinkOverlayTable::fix_device(const netlink::LinkDetails& link,
                                                                      const VxlanDeviceSpec& spec,
                                                                      EnsuredDevice& device) {
  const bool fix_mtu = link.link.mtu != spec.mtu;
  const bool fix_mac = link.mac != spec.mac;
  const bool fix_up = !(link.link.flags & IFF_UP);
  if (!fix_mtu && !fix_mac && !fix_up) {
    device.index = link.link.index;
    co_return common::Result<void>{};
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
    co_return device_failure(spec.name, error, what, text);
  }
  device.index = link.link.index;
  device.changed = true;
  co_return common::Result<void>{};
}

asio::awaitable<common::Result<void>> NetlinkOverlayTable::ensure_address(const VxlanDeviceSpec& spec,
                                                                          EnsuredDevice& device) {
  // The VTEP addresses: exactly spec.address among the device's IPv4
  // addresses, exactly spec.address6 (or none) among its global IPv6 ones;
  // the kernel's link-local IPv6 address stays.
  const std::uint32_t index = device.index;
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
    co_return common::Error{error, "device " + spec.name + ": dump of its addresses: " + error.message()};
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
      co_return device_failure(
          spec.name, error, "removing the stale address " + held.first.to_string() + "/" + std::to_string(held.second),
          text);
    }
    device.changed = true;
  }
  std::vector<IpPrefix> missing;
  if (!have) missing.push_back(spec.address);
  if (spec.address6 && !have6) missing.push_back(*spec.address6);
  for (const IpPrefix& address : missing) {
    std::vector<std::uint8_t> message;
    netlink::append_address_change(message, true, index, address, 0);
    auto [error, text] = co_await transact_one(std::move(message));
    if (error != 0) co_return device_failure(spec.name, error, "adding the VTEP address " + address.to_string(), text);
    device.changed = true;
  }
  co_return common::Result<void>{};
}

asio::awaitable<common::Result<EnsuredDevice>> NetlinkOverlayTable::ensure_device(VxlanDeviceSpec spec) {
  if (std::string problem = check_device_spec(spec); !problem.empty()) {
    co_return common::Error{errno_code(EINVAL), "device " + spec.name + ": " + problem};
  }
  Lookup found = co_await find_link(spec.name);
  if (found.error) co_return common::Error{found.error, std::move(found.message)};
  if (found.link) {
    if (std::string why = identity_mismatch(*found.link, spec); !why.empty()) {
      std::vector<std::uint8_t> message;
      netlink::append_link_delete(message, found.link->link.index, 0);
      auto [error, text] = co_await transact_one(std::move(message));
      if (error != 0 && error != ENODEV) {
        co_return device_failure(spec.name, error, "deleting it to recreate it (it " + why + ")", text);
      }
      found.link.reset();
    }
  }
  EnsuredDevice device;
  common::Result<void> in_place;
  if (found.link)
    in_place = co_await fix_device(*found.link, spec, device);
  else
    in_place = co_await create_device(spec, device);
  if (!in_place) co_return in_place.error();
  if (common::Result<void> address = co_await ensure_address(spec, device); !address) {
    co_return address.error();
  }
  co_return device;
}

asio::awaitable<common::Result<void>> NetlinkOverlayTable::delete_device(std::string name) {
  Lookup found = co_await find_link(name);
  if (found.error) co_return common::Error{found.error, std::move(found.message)};
  if (!found.link) co_return common::Result<void>{};
  // Never delete what is not a VXLAN device (a typo'd name, someone else's link).
  if (found.link->kind != "vxlan") {
    std::string message = "device ";
    message += name;
    message += ": left alone, it is ";
    if (found.link->kind.empty()) {
      message += "a device without a kind";
    } else {
      message += "a ";
      message += found.link->kind;
      message += " device";
    }
    message += ", not vxlan";
    co_return common::Error{errno_code(EMEDIUMTYPE), std::move(message)};
  }
  std::vector<std::uint8_t> message;
  netlink::append_link_delete(message, found.link->link.index, 0);
  auto [error, text] = co_await transact_one(std::move(message));
  if (error != 0 && error != ENODEV) co_return device_failure(name, error, "deleting it", text);
  co_return common::Result<void>{};
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

asio::awaitable<common::Result<OverlayDump>> NetlinkOverlayTable::dump(std::uint32_t index) {
  OverlayDump result;
  const std::string link = std::to_string(index);
  // "dump of IPv6 neighbours on link 12: Connection timed out"
  auto failure = [&](std::error_code error, std::string_view what, std::string_view step = {}) {
    std::string message = "dump of ";
    message += what;
    message += " on link ";
    message += link;
    message += ": ";
    message += step;
    message += error.message();
    return common::Error{error, std::move(message)};
  };
  const std::function<void()> restart_neighbours = [&] { result.neighbours.clear(); };
  const EntryVisitor take_neighbour = [&](const IpAddress& address, const MacAddress& mac) {
    result.neighbours.push_back({address, mac});
  };
  const std::function<void()> restart_fdb = [&] { result.fdb.clear(); };
  const EntryVisitor take_fdb = [&](const IpAddress& destination, const MacAddress& mac) {
    result.fdb.push_back({mac, destination});
  };
  // One dump per neighbour family; an interrupted IPv6 dump must not drop the IPv4 entries.
  if (std::error_code error = co_await dump_permanent(index, AF_INET, restart_neighbours, take_neighbour)) {
    co_return failure(error, "IPv4 neighbours");
  }
  const std::vector<NeighbourEntry> neighbours4 = result.neighbours;
  const std::function<void()> restart_neighbours6 = [&] { result.neighbours = neighbours4; };
  if (std::error_code error = co_await dump_permanent(index, AF_INET6, restart_neighbours6, take_neighbour)) {
    co_return failure(error, "IPv6 neighbours");
  }
  if (std::error_code error = co_await dump_permanent(index, AF_BRIDGE, restart_fdb, take_fdb)) {
    co_return failure(error, "FDB entries");
  }
  // The kernel answers a dump filtered to a link that does not exist with
  // nothing at all: make sure the device is (still) there, so an empty dump
  // means "no entries", never "wrong index".
  {
    const std::uint32_t seq = socket_->reserve_sequence(1);
    const std::vector<std::uint8_t> request = netlink::link_get_request(index, seq);
    const netlink::MessageVisitor ignore = [](const netlink::MessageHeader&, std::span<const std::uint8_t>) {};
    if (std::error_code error = co_await socket_->request(request, seq, ignore)) {
      co_return failure(error, "overlay entries", "reading the link: ");
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
