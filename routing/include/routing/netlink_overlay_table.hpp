#pragma once

// NetlinkOverlayTable: the OverlayTable of the kernel's network namespace this
// object was created in, over its own rtnetlink request socket (the same
// netlink::Socket class NetlinkRouteTable uses).
//
// ensure_device reads the device by name (RTM_GETLINK, IFLA_LINKINFO parsed),
// deletes and recreates it when its kind, VNI, UDP port, local address,
// underlay link or learning flag differ, sets MTU/MAC/IFF_UP in place
// otherwise, and makes the VTEP /32 the device's only IPv4 address. Entries
// go out as one batch with one ACK per message (like NetlinkRouteTable::apply).
// It only ever touches the device it is named and entries on it; it never
// decides which entries should exist (the controller does).

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "routing/overlay_table.hpp"

namespace hostgw::routing {

namespace netlink {
class Socket;
}

struct NetlinkOverlayTableOptions {
  // Per request (a window of a batch, a dump, a lookup).
  std::chrono::milliseconds timeout{5000};
  // As NetlinkRouteTableOptions: room for thousands of ACKs in flight.
  int receive_buffer = 8 * 1024 * 1024;
  int send_buffer = 4 * 1024 * 1024;
  // A dump the kernel flags NLM_F_DUMP_INTR is repeated up to this many times.
  int dump_attempts = 5;
};

class NetlinkOverlayTable final : public OverlayTable {
 public:
  // Throws std::system_error if the socket cannot be opened or bound.
  explicit NetlinkOverlayTable(boost::asio::any_io_executor executor, NetlinkOverlayTableOptions options = {});
  ~NetlinkOverlayTable() override;

  boost::asio::awaitable<EnsureDeviceResult> ensure_device(VxlanDeviceSpec spec) override;
  boost::asio::awaitable<std::error_code> delete_device(std::string name) override;
  boost::asio::awaitable<std::optional<std::uint32_t>> device_index(std::string name) override;
  boost::asio::awaitable<OverlayDump> dump(std::uint32_t index) override;
  boost::asio::awaitable<std::vector<OverlayChangeResult>> apply(std::uint32_t index,
                                                                 std::vector<OverlayChange> changes) override;

  // The request socket's netlink port id (the kernel stamps it on the
  // neighbour events our own changes cause).
  std::uint32_t port_id() const;

 private:
  struct Lookup;
  boost::asio::awaitable<Lookup> find_link(const std::string& name);
  // One message through transact(): the kernel's errno and extended ACK.
  boost::asio::awaitable<std::pair<int, std::string>> transact_one(std::vector<std::uint8_t> message);

  NetlinkOverlayTableOptions options_;
  std::unique_ptr<netlink::Socket> socket_;
};

}  // namespace hostgw::routing
