#pragma once

// NetlinkChangeMonitor: the ChangeMonitor of the network namespace it was
// created in. It owns one rtnetlink event socket (separate from the request
// socket) joined to RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK,
// RTNLGRP_IPV4_IFADDR and RTNLGRP_IPV6_IFADDR with a large receive buffer,
// and wakes its caller only for what can break an owned route:
//   - an owned route (our protocol, our table) deleted or changed by someone
//     else (echoes of our own changes are skipped by netlink port id);
//   - a link going up or down (IFF_UP/IFF_RUNNING/IFF_LOWER_UP changing, not
//     every RTM_NEWLINK statistics update) or disappearing: the kernel drops
//     IPv4 routes on link-down and address removal WITHOUT an RTM_DELROUTE;
//   - an address added or removed (not host scope);
//   - with NetlinkChangeMonitorOptions::overlay_device set (RTNLGRP_NEIGH
//     joined): a neighbour or FDB entry deleted on that device (RTM_DELNEIGH;
//     other links' neighbour churn is dropped on ndm_ifindex before any
//     attribute is parsed). The device's own deletion is an RTM_DELLINK.
//   - with NetlinkChangeMonitorOptions::adoption set (--adopt-protocol): an
//     adoptable route (RouteAdoption::adoptable) added or replaced by someone
//     else; the next full pass takes it over. Its deletion changes nothing.
// Routes of other protocols are consumed silently. Lost events (ENOBUFS)
// become a notice with resync_needed. It never changes anything in the kernel.
//
// ChangeFilter is the decision part, a pure state machine over messages,
// unit-tested without sockets.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "routing/netlink_message.hpp"
#include "routing/route_adoption.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

namespace netlink {
class Socket;
}

class ChangeFilter {
 public:
  ChangeFilter(std::uint8_t protocol, std::uint32_t table) : protocol_(protocol), table_(table) {}

  // Route events stamped with this netlink port are our own changes' echoes.
  void ignore_port(std::uint32_t port_id) { ignored_ports_.insert(port_id); }
  // Replies carrying this (port, seq) are the monitor's own link dump: they
  // only teach the filter each link's current flags.
  void expect_link_dump(std::uint32_t port_id, std::uint32_t seq) {
    dump_port_ = port_id;
    dump_seq_ = seq;
  }

  // Wake on RTM_DELNEIGH for entries on the link named `name` (its index is
  // learned from link messages: the monitor's dump and later RTM_NEWLINKs).
  void watch_overlay_device(std::string name) { overlay_device_ = std::move(name); }
  // Wake on RTM_NEWROUTE for routes this adoption would take over.
  void watch_adoptable(RouteAdoption adoption) { adoption_ = std::move(adoption); }
  // The watched device's index as last seen, 0 if none (tests).
  std::uint32_t overlay_index() const { return overlay_index_; }

  // A description ("RTM_DELROUTE 10.244.2.0/24 proto 44 table 254") if the
  // message should wake the caller, nullopt otherwise. Malformed messages
  // count as relevant (something changed that we cannot read).
  std::optional<std::string> relevant(const netlink::MessageHeader& header, std::span<const std::uint8_t> message);

  // The owned route behind the last relevant() call, when it returned a
  // description for a readable owned-route message; nullopt otherwise.
  const std::optional<OwnedRouteEvent>& last_owned_route() const { return last_owned_route_; }

  // The last flags seen for a link (tests).
  std::optional<std::uint32_t> link_flags(std::uint32_t index) const;

 private:
  // relevant() for one kind of message.
  std::optional<std::string> relevant_route(const netlink::MessageHeader& header, std::span<const std::uint8_t> message);
  std::optional<std::string> relevant_link(const netlink::MessageHeader& header, std::span<const std::uint8_t> message);

  std::uint8_t protocol_;
  std::uint32_t table_;
  std::string overlay_device_;
  std::uint32_t overlay_index_ = 0;
  RouteAdoption adoption_;
  std::set<std::uint32_t> ignored_ports_;
  std::uint32_t dump_port_ = 0;
  std::uint32_t dump_seq_ = 0;
  std::unordered_map<std::uint32_t, std::uint32_t> link_flags_;
  std::optional<OwnedRouteEvent> last_owned_route_;
};

struct NetlinkChangeMonitorOptions {
  std::uint8_t protocol = kDefaultRouteProtocol;
  std::uint32_t table = kMainTable;
  // SO_RCVBUF asked for (SO_RCVBUFFORCE when allowed): route floods of a few
  // thousand events must fit before we read them.
  int receive_buffer = 8 * 1024 * 1024;
  // The VXLAN device whose neighbour/FDB deletions wake the caller (joins
  // RTNLGRP_NEIGH); empty: neighbour events are not subscribed to at all.
  std::string overlay_device;
  // --adopt-protocol: adoptable routes someone else adds wake the caller.
  RouteAdoption adoption;
  // Join RTNLGRP_NEXTHOP: a nexthop of our protocol deleted or changed by
  // someone else (or by the kernel, with its link) wakes the caller; the
  // routes through it went with it. Only on kernels with nexthop objects.
  bool nexthops = false;
};

class NetlinkChangeMonitor final : public ChangeMonitor {
 public:
  // Throws std::system_error if the socket cannot be opened, bound or joined.
  NetlinkChangeMonitor(boost::asio::any_io_executor executor, NetlinkChangeMonitorOptions options = {});
  ~NetlinkChangeMonitor() override;

  // Returns once at least one relevant event (or an overrun) was read; all
  // events queued at that moment are consumed and summarized in one notice
  // ("RTM_DELROUTE 10.244.2.0/24 proto 44 table 254 (+3 more)").
  // Throws boost::system::system_error(operation_aborted) if cancelled.
  boost::asio::awaitable<ChangeNotice> next_change() override;

  // Skip the echoes of changes made through the socket with this port id
  // (NetlinkRouteTable::port_id()).
  void ignore_port(std::uint32_t port_id) { filter_.ignore_port(port_id); }

  // Tests shrink the buffer to provoke ENOBUFS.
  std::error_code set_receive_buffer(int bytes);
  int receive_buffer_size() const;

  struct Counters {
    std::uint64_t messages = 0;  // every message read
    std::uint64_t relevant = 0;  // messages that woke the caller
    std::uint64_t overruns = 0;  // ENOBUFS seen
  };
  const Counters& counters() const { return counters_; }
  // Owned-route events a notice lists at most; beyond, it is only_owned_routes = false.
  static constexpr std::size_t kMaxOwnedRouteEvents = 64;

  // Descriptions of every relevant event behind the last notice (at most 64),
  // for logs at high verbosity and for tests.
  const std::vector<std::string>& last_events() const { return last_events_; }

 private:
  std::unique_ptr<netlink::Socket> socket_;
  ChangeFilter filter_;
  boost::asio::steady_timer backoff_;
  Counters counters_;
  std::vector<std::string> last_events_;
  bool link_dump_sent_ = false;
};

}  // namespace hostgw::routing
