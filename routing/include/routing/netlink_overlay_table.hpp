#pragma once

// NetlinkOverlayTable: the OverlayTable of the kernel's network namespace this
// object was created in, over its own rtnetlink request socket (the same
// netlink::Socket class NetlinkRouteTable uses).
//
// ensure_device reads the device by name (RTM_GETLINK, IFLA_LINKINFO parsed),
// deletes and recreates it when its kind, VNI, UDP port, local address,
// underlay link or learning flag differ, sets MTU/MAC/IFF_UP in place
// otherwise, and makes the VTEP /32 the device's only IPv4 address (and the
// IPv6 VTEP /128, if any, its only global IPv6 one). Entries
// go out as one batch with one ACK per message (like NetlinkRouteTable::apply).
// It only ever touches the device it is named and entries on it; it never
// decides which entries should exist (the controller does).

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "routing/netlink_table_options.hpp"
#include "routing/overlay_table.hpp"

namespace hostgw::routing {

namespace netlink {
class Socket;
struct LinkDetails;
}

class NetlinkOverlayTable final : public OverlayTable {
 public:
  // Throws std::system_error if the socket cannot be opened or bound.
  explicit NetlinkOverlayTable(boost::asio::any_io_executor executor, NetlinkTableOptions options = {});
  ~NetlinkOverlayTable() override;

  boost::asio::awaitable<common::Result<EnsuredDevice>> ensure_device(VxlanDeviceSpec spec) override;
  boost::asio::awaitable<common::Result<void>> delete_device(std::string name) override;
  boost::asio::awaitable<std::optional<std::uint32_t>> device_index(std::string name) override;
  boost::asio::awaitable<common::Result<OverlayDump>> dump(std::uint32_t index) override;
  boost::asio::awaitable<std::vector<OverlayChangeResult>> apply(std::uint32_t index,
                                                                 std::vector<OverlayChange> changes) override;

  // The request socket's netlink port id (the kernel stamps it on the
  // neighbour events our own changes cause).
  std::uint32_t port_id() const;

 private:
  struct Lookup;
  boost::asio::awaitable<Lookup> find_link(const std::string& name);
  // Permanent entries of one family (AF_INET/AF_INET6 neighbours, AF_BRIDGE FDB) on
  // link `index` with a destination, handed to `take` (address, MAC); one
  // consistent dump, `restart` dropping what an interrupted attempt gathered.
  using EntryVisitor = std::function<void(const IpAddress& address, const MacAddress& mac)>;
  boost::asio::awaitable<std::error_code> dump_permanent(std::uint32_t index, std::uint8_t family,
                                                         const std::function<void()>& restart,
                                                         const EntryVisitor& take);
  // The steps of ensure_device, each noting in `device` what it did; an
  // error (naming the device and the step) stops it.
  boost::asio::awaitable<common::Result<void>> create_device(const VxlanDeviceSpec& spec, EnsuredDevice& device);
  boost::asio::awaitable<common::Result<void>> fix_device(const netlink::LinkDetails& link, const VxlanDeviceSpec& spec,
                                                          EnsuredDevice& device);
  boost::asio::awaitable<common::Result<void>> ensure_address(const VxlanDeviceSpec& spec, EnsuredDevice& device);
  // One message through transact(): the kernel's errno and extended ACK.
  boost::asio::awaitable<std::pair<int, std::string>> transact_one(std::vector<std::uint8_t> message);

  NetlinkTableOptions options_;
  std::unique_ptr<netlink::Socket> socket_;
};

}  // namespace hostgw::routing
