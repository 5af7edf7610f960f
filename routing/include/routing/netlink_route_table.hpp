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
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>

#include "routing/netlink_table_options.hpp"
#include "routing/nexthop.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

namespace netlink {
class Socket;
}

class NetlinkRouteTable final : public RouteTable {
 public:
  // Throws std::system_error if the socket cannot be opened or bound.
  explicit NetlinkRouteTable(boost::asio::any_io_executor executor, NetlinkTableOptions options = {});
  ~NetlinkRouteTable() override;

  // Routes of `table`, both families, with rtm_protocol `protocol`; plain
  // unicast only (no cloned/cached, local, broadcast or multipath entries).
  // Filtered by the kernel under NETLINK_GET_STRICT_CHK and always again here.
  boost::asio::awaitable<common::Result<std::vector<Route>>> dump_routes(std::uint32_t table,
                                                                         std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<ChangeResult>> apply(std::vector<RouteChange> changes) override;
  // Global-scope addresses of up, non-loopback links, IPv4 and IPv6.
  boost::asio::awaitable<common::Result<std::vector<ConnectedNetwork>>> connected_networks() override;
  // RTM_GETNEXTHOP dump (EOPNOTSUPP on kernels without nexthop objects) and
  // RTM_NEWNEXTHOP/RTM_DELNEXTHOP batches, over the same socket.
  boost::asio::awaitable<common::Result<NexthopDump>> dump_nexthops(std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<NexthopResult>> apply_nexthops(std::vector<NexthopChange> changes) override;

  // The request socket's netlink port id: the kernel stamps it on the events
  // our own changes cause, so a monitor can ignore them.
  std::uint32_t port_id() const;
  // Messages per window of a batch (bounded by the receive buffer).
  std::size_t window() const;
  bool strict_checking() const;

 private:
  NetlinkTableOptions options_;
  std::unique_ptr<netlink::Socket> socket_;
};

// Whether this network namespace's kernel has nexthop objects: one blocking
// RTM_GETNEXTHOP dump request on a socket of its own (at start-up, before the
// io_context runs). {} if the kernel answered with nexthops or an empty dump;
// EOPNOTSUPP (kernels before 5.3) or another errno otherwise.
std::error_code probe_nexthop_objects();

}  // namespace hostgw::routing
