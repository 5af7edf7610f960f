#pragma once

// NetlinkRouteTable: the RouteTable of the kernel's network namespace this
// object was created in, over one rtnetlink request socket.
//
// It owns the socket and turns RouteChanges into one batch of messages (many
// per sendmsg), one result per change with the kernel's errno and its
// extended-ACK text. It only ever deletes routes carrying the protocol the
// change names (RTM_DELROUTE with rtm_protocol set: the kernel refuses the rest).
// It never decides which routes should exist; the controller does.
//
// Routes kube-hostgw owns carry rtm_protocol kDefaultRouteProtocol (44) unless
// the controller's --route-protocol says otherwise. 44 is not in iproute2's
// /etc/iproute2/rt_protos (which names 0-4, 8-16, 18, 42 babel, 99 openr,
// 186-192), nor used by the daemons commonly found on nodes: bird (12), FRR
// (11, 186-198), keepalived (18), systemd-networkd/NetworkManager (4, 9, 16). routing/rt_protos.d/kube-hostgw.conf ("44
// kube-hostgw"), installed in /etc/iproute2/rt_protos.d/, makes `ip route` print the name.
//
// Caveat: NLM_F_REPLACE replaces whatever route holds the key (table,
// destination, metric), whoever owns it: only send `replace` for keys the
// dump showed as ours; `add` (EEXIST) is the safe way to claim a new key.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "routing/route_table.hpp"

namespace hostgw::routing {

namespace netlink {
class Socket;
}

struct NetlinkRouteTableOptions {
  // Per request (a window of a batch, a dump, a lookup).
  std::chrono::milliseconds timeout{5000};
  // SO_RCVBUF asked for: with SO_RCVBUFFORCE 8 MiB holds 8000+ ACKs in
  // flight; without CAP_NET_ADMIN the kernel caps it at net.core.rmem_max and
  // batches are sent in smaller windows.
  int receive_buffer = 8 * 1024 * 1024;
  int send_buffer = 4 * 1024 * 1024;
  // A dump the kernel flags NLM_F_DUMP_INTR is repeated up to this many times.
  int dump_attempts = 5;
};

// Which way the kernel would send a packet to an address.
struct NextHopLookup {
  std::error_code error;
  std::uint32_t oif = 0;
  std::optional<IpAddress> gateway;  // set if the kernel goes through a router
  std::optional<IpAddress> source;   // RTA_PREFSRC
  // True if the address is reached directly (on-link), not via a gateway.
  bool direct() const { return !error && !gateway && oif != 0; }
};

class NetlinkRouteTable final : public RouteTable {
 public:
  // Throws std::system_error if the socket cannot be opened or bound.
  explicit NetlinkRouteTable(boost::asio::any_io_executor executor, NetlinkRouteTableOptions options = {});
  ~NetlinkRouteTable() override;

  // Routes of `table`, both families, with rtm_protocol `protocol`; plain
  // unicast only (no cloned/cached, local, broadcast or multipath entries).
  // Filtered by the kernel under NETLINK_GET_STRICT_CHK and always again here.
  boost::asio::awaitable<DumpResult> dump_routes(std::uint32_t table, std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<ChangeResult>> apply(std::vector<RouteChange> changes) override;
  // Global-scope addresses of up, non-loopback links, IPv4 and IPv6.
  boost::asio::awaitable<ConnectedResult> connected_networks() override;

  // RTM_GETROUTE for one address: which link/source/gateway the kernel uses.
  boost::asio::awaitable<NextHopLookup> lookup(const IpAddress& address);

  // The request socket's netlink port id: the kernel stamps it on the events
  // our own changes cause, so a monitor can ignore them.
  std::uint32_t port_id() const;
  // Messages per window of a batch (bounded by the receive buffer).
  std::size_t window() const;
  bool strict_checking() const;

 private:
  NetlinkRouteTableOptions options_;
  std::unique_ptr<netlink::Socket> socket_;
};

}  // namespace hostgw::routing
