#pragma once

// FakeRouteTable: an in-memory RouteTable and ChangeMonitor for tests that
// run without root (the controller's reconciler tests).
//
// It behaves like the kernel where the controller's logic depends on it:
//   - routes are keyed like the kernel keys them: (table, destination, metric);
//   - add of an existing key            -> EEXIST (whoever owns the existing route);
//   - replace creates or overwrites a route of OUR protocol, or of a protocol
//     the caller dumped that table for (a route under adoption, which the
//     kernel overwrites in place); a key held by a route of any other protocol
//     is never touched (EEXIST with a message; the real kernel would overwrite
//     it, which is why the controller must only replace keys it saw in a dump);
//   - an IPv6 route added with metric 0 is stored (and dumped) with 1024;
//   - remove matches key + protocol     -> ESRCH if no such route of that protocol;
//     a remove with metric 0 matches the destination's first route of that
//     protocol whatever its metric;
//   - a gateway outside every configured connected network of its family (and
//     not `onlink`)                     -> ENETUNREACH "Nexthop has invalid gateway"
//                                          (IPv6: EHOSTUNREACH, as the kernel says);
//     `onlink` without an output link  -> EINVAL; an unknown oif -> ENODEV;
//   - a route added with oif 0 is stored with the oif of the connected network
//     that reaches its gateway, as a kernel dump would show it;
//   - nexthop objects: add of an existing id -> EEXIST; replace of another
//     protocol's id -> EEXIST (the kernel would overwrite it); remove of an
//     absent id -> ENOENT; a nexthop without oif -> EINVAL, its gateway is
//     checked like a route's; a route naming a missing nexthop id -> EINVAL
//     "Nexthop id does not exist" (an IPv6 route via an IPv4 nexthop too);
//     removing a nexthop removes every route through it.
// It never touches the network; it owns no sockets. One thread, like the rest.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "routing/nexthop.hpp"
#include "routing/route_table.hpp"

namespace hostgw::routing {

class FakeRouteTable final : public RouteTable, public ChangeMonitor {
 public:
  explicit FakeRouteTable(boost::asio::any_io_executor executor);

  // RouteTable
  boost::asio::awaitable<common::Result<std::vector<Route>>> dump_routes(std::uint32_t table,
                                                                         std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<ChangeResult>> apply(std::vector<RouteChange> changes) override;
  boost::asio::awaitable<common::Result<std::vector<ConnectedNetwork>>> connected_networks() override;
  boost::asio::awaitable<common::Result<NexthopDump>> dump_nexthops(std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<NexthopResult>> apply_nexthops(std::vector<NexthopChange> changes) override;

  // ChangeMonitor: waits until a notice is posted (post_notice, remove_externally).
  boost::asio::awaitable<ChangeNotice> next_change() override;

  // --- test knobs -----------------------------------------------------------

  // The networks connected_networks() returns and gateways are checked against.
  void set_connected_networks(std::vector<ConnectedNetwork> networks);
  // Makes the next connected_networks() call fail with `error` (once).
  void fail_next_connected(std::error_code error);
  // Makes the next dump_routes() call fail with `error` (once).
  void fail_next_dump(std::error_code error);

  // Installs a route as if someone else (or a previous run) had: any protocol,
  // no checks, no notice. Overwrites a route with the same key.
  void seed(const Route& route);

  // Deletes the route with route's key (any protocol), as `ip route del` by
  // someone else would, and posts a relevant ChangeNotice ("RTM_DELROUTE ...")
  // for next_change(); a route of protocol 44 in the main table is listed in
  // its owned_routes, as NetlinkChangeMonitor would. Returns false (and posts
  // nothing) if no such route.
  bool remove_externally(const Route& route);

  // A kernel without nexthop objects: dump_nexthops() fails with EOPNOTSUPP,
  // every nexthop change too.
  void set_nexthops_supported(bool supported) { nexthops_supported_ = supported; }
  // Installs a nexthop as if someone else (or a previous run) had; no checks.
  void seed_nexthop(const Nexthop& nexthop);
  // Deletes nexthop `id` (and every route through it) as `ip nexthop del`
  // would, and posts a relevant notice ("RTM_DELNEXTHOP ...", not only owned
  // routes). False (nothing posted) if no such id.
  bool remove_nexthop_externally(std::uint32_t id);
  std::vector<Nexthop> nexthops() const;
  const Nexthop* find_nexthop(std::uint32_t id) const;
  std::size_t nexthop_writes() const { return nexthop_writes_; }
  std::size_t nexthop_apply_calls() const { return nexthop_apply_calls_; }
  std::size_t nexthop_dumps() const { return nexthop_dumps_; }

  // Queues a notice for next_change() (link down, address removed, resync...).
  void post_notice(ChangeNotice notice);

  // The next message that touches `destination` fails with `error` (positive
  // errno) and `message` instead of being applied; consumed once per call.
  void fail_next(const IpPrefix& destination, int error, std::string message = {});

  // Every installed route (all tables and protocols), ordered by key.
  std::vector<Route> routes() const;
  // Installed route for this key, or nullptr.
  const Route* find(const RouteKey& key) const;

  std::size_t dumps() const { return dumps_; }
  // Every change applied successfully, in order (to tell a replace in place
  // from a delete and add).
  const std::vector<RouteChange>& applied() const { return applied_; }
  // Messages processed by apply() (each change is one message, failed or not).
  std::size_t writes() const { return writes_; }
  std::size_t apply_calls() const { return apply_calls_; }
  std::size_t connected_calls() const { return connected_calls_; }
  // Notices queued and not yet taken by next_change().
  std::size_t pending_notices() const { return notices_.size(); }

 private:
  ChangeResult apply_one(const RouteChange& change);
  NexthopResult apply_nexthop(const NexthopChange& change);
  // 0 if the gateway is reachable; fills `route.oif` when it was 0.
  int check_next_hop(Route& route, std::string& message) const;

  boost::asio::steady_timer wakeup_;
  std::map<RouteKey, Route> routes_;
  std::set<std::pair<std::uint32_t, std::uint8_t>> dumped_;  // (table, protocol) ever dumped
  std::vector<RouteChange> applied_;
  std::vector<ConnectedNetwork> networks_;
  std::multimap<IpPrefix, std::pair<int, std::string>> failures_;
  std::deque<ChangeNotice> notices_;
  std::error_code next_connected_error_;
  std::error_code next_dump_error_;
  std::size_t dumps_ = 0;
  std::size_t writes_ = 0;
  std::size_t apply_calls_ = 0;
  std::size_t connected_calls_ = 0;
  std::map<std::uint32_t, Nexthop> nexthops_;
  bool nexthops_supported_ = true;
  std::size_t nexthop_writes_ = 0;
  std::size_t nexthop_apply_calls_ = 0;
  std::size_t nexthop_dumps_ = 0;
};

}  // namespace hostgw::routing
