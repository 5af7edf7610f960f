#pragma once

// RouteTable: what the controller needs from the kernel's routing tables, as an
// interface. routing/netlink_route_table.hpp implements it over netlink;
// routing/fake_route_table.hpp implements it in memory for tests without root.
//
// Every operation is a coroutine on the caller's io_context; none blocks.
// Errors inside the reconcile loop are values, never exceptions: a dump that
// fails as a whole is a common::Result error; a batch answers per message
// (ChangeResult).

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "routing/ip.hpp"
#include "routing/route.hpp"

namespace hostgw::routing {

// Nexthop objects' values (routing/nexthop.hpp).
struct NexthopDump;
struct NexthopChange;
struct NexthopResult;

enum class ChangeKind : std::uint8_t {
  add,      // RTM_NEWROUTE with NLM_F_CREATE|NLM_F_EXCL; EEXIST is reported, not fatal
  replace,  // RTM_NEWROUTE with NLM_F_CREATE|NLM_F_REPLACE
  remove,   // RTM_DELROUTE carrying our rtm_protocol
};

std::string_view to_string(ChangeKind kind);

struct RouteChange {
  ChangeKind kind = ChangeKind::add;
  Route route;

  friend bool operator==(const RouteChange&, const RouteChange&) = default;
};

// The kernel's answer to one message of a batch.
struct ChangeResult {
  RouteChange change;
  // 0 on success, else a positive errno (EEXIST, ESRCH, ENETUNREACH, ETIMEDOUT, ...).
  int error = 0;
  // The kernel's extended-ACK text, if it sent one ("Nexthop has invalid gateway").
  std::string message;

  bool ok() const { return error == 0; }
};

// A network directly connected to this host: an address on an up link.
struct ConnectedNetwork {
  IpPrefix prefix;         // e.g. 198.51.100.0/24
  IpAddress local_address; // e.g. 198.51.100.11
  std::uint32_t oif = 0;   // link index
  std::string link_name;   // e.g. "eth0"
  std::uint32_t mtu = 0;

  friend bool operator==(const ConnectedNetwork&, const ConnectedNetwork&) = default;
};

class RouteTable {
 public:
  virtual ~RouteTable() = default;

  // Routes of `table` (both families) that carry `protocol`; an error if the
  // dump failed as a whole (its code the kernel's errno, its message naming
  // the dump).
  virtual boost::asio::awaitable<common::Result<std::vector<Route>>> dump_routes(std::uint32_t table,
                                                                                 std::uint8_t protocol) = 0;

  // Applies the changes as one batch; one result per change, in the same order.
  // A failed message never stops the others.
  virtual boost::asio::awaitable<std::vector<ChangeResult>> apply(std::vector<RouteChange> changes) = 0;

  // The connected networks of up links (global-scope addresses only).
  virtual boost::asio::awaitable<common::Result<std::vector<ConnectedNetwork>>> connected_networks() = 0;

  // Nexthop objects (routing/nexthop.hpp): every single-gateway nexthop of
  // `protocol`, and every id in use. The defaults are a table without them:
  // the dump fails with EOPNOTSUPP, every change too.
  virtual boost::asio::awaitable<common::Result<NexthopDump>> dump_nexthops(std::uint8_t protocol);
  // One batch; one result per change, in the same order.
  virtual boost::asio::awaitable<std::vector<NexthopResult>> apply_nexthops(std::vector<NexthopChange> changes);
};

// One owned route (our protocol, our table) that someone else added, changed
// or deleted, as the kernel announced it.
struct OwnedRouteEvent {
  bool deleted = false;  // RTM_DELROUTE; false: RTM_NEWROUTE (added or replaced)
  Route route;

  friend bool operator==(const OwnedRouteEvent&, const OwnedRouteEvent&) = default;
};

// Kernel events, reduced to what the controller acts upon.
struct ChangeNotice {
  ChangeNotice() = default;
  // The three original fields, so `{true, false, "link eth0 down"}` keeps working.
  ChangeNotice(bool is_relevant, bool needs_resync, std::string summary)
      : relevant(is_relevant), resync_needed(needs_resync), what(std::move(summary)) {}

  // An owned route was deleted or changed by someone else, a link went
  // down/up, or an address changed: reconcile soon.
  bool relevant = false;
  // Events were lost (ENOBUFS): only a full resync can be trusted.
  bool resync_needed = false;
  // Human-readable summary for the log, e.g. "RTM_DELROUTE 10.244.2.0/24 proto 44".
  std::string what;
  // The owned-route events behind this notice, in order. When
  // `only_owned_routes` is true they are ALL its relevant events (no link or
  // address event, nothing unreadable, nothing lost), so a consumer may repair
  // exactly these routes; otherwise it must reconcile everything.
  std::vector<OwnedRouteEvent> owned_routes;
  bool only_owned_routes = false;
};

class ChangeMonitor {
 public:
  virtual ~ChangeMonitor() = default;
  // Waits for the next relevant kernel change. Irrelevant events (other
  // protocols' routes, neighbour churn) are consumed without waking the caller.
  virtual boost::asio::awaitable<ChangeNotice> next_change() = 0;
};

}  // namespace hostgw::routing
