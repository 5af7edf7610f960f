#include "routing/fake_route_table.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <cerrno>

namespace hostgw::routing {

FakeRouteTable::FakeRouteTable(boost::asio::any_io_executor executor)
    : wakeup_(std::move(executor), boost::asio::steady_timer::time_point::max()) {}

boost::asio::awaitable<common::Result<std::vector<Route>>> FakeRouteTable::dump_routes(std::uint32_t table,
                                                                                      std::uint8_t protocol) {
  ++dumps_;
  dumped_.emplace(table, protocol);
  if (next_dump_error_) {
    const std::error_code error = std::exchange(next_dump_error_, {});
    co_return common::Error{error, "dump of routes of table " + std::to_string(table) + " proto " +
                                       std::to_string(protocol) + ": " + error.message()};
  }
  std::vector<Route> routes;
  for (const auto& [key, route] : routes_) {
    if (route.table == table && route.protocol == protocol) routes.push_back(route);
  }
  co_return std::move(routes);
}

boost::asio::awaitable<std::vector<ChangeResult>> FakeRouteTable::apply(std::vector<RouteChange> changes) {
  ++apply_calls_;
  std::vector<ChangeResult> results;
  results.reserve(changes.size());
  for (const RouteChange& change : changes) results.push_back(apply_one(change));
  co_return results;
}

boost::asio::awaitable<common::Result<std::vector<ConnectedNetwork>>> FakeRouteTable::connected_networks() {
  ++connected_calls_;
  if (next_connected_error_) {
    const std::error_code error = std::exchange(next_connected_error_, {});
    co_return common::Error{error, "dump of addresses: " + error.message()};
  }
  co_return networks_;
}

boost::asio::awaitable<ChangeNotice> FakeRouteTable::next_change() {
  while (notices_.empty()) {
    // Cancelled by post_notice(); an expiry never happens (time_point::max).
    co_await wakeup_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  ChangeNotice notice = std::move(notices_.front());
  notices_.pop_front();
  co_return notice;
}

void FakeRouteTable::set_connected_networks(std::vector<ConnectedNetwork> networks) {
  networks_ = std::move(networks);
}

void FakeRouteTable::fail_next_connected(std::error_code error) {
  next_connected_error_ = error;
}
void FakeRouteTable::fail_next_dump(std::error_code error) {
  next_dump_error_ = error;
}

void FakeRouteTable::seed(const Route& route) {
  routes_[key_of(route)] = route;
}

bool FakeRouteTable::remove_externally(const Route& route) {
  auto it = routes_.find(key_of(route));
  if (it == routes_.end()) return false;
  ChangeNotice notice;
  notice.relevant = true;
  notice.what = "RTM_DELROUTE " + it->second.destination.to_string() + " proto " + std::to_string(it->second.protocol);
  // Like the kernel monitor: an owned route (protocol 44, main table) is named.
  if (it->second.protocol == kDefaultRouteProtocol && it->second.table == kMainTable) {
    notice.owned_routes.push_back({true, it->second});
    notice.only_owned_routes = true;
  }
  routes_.erase(it);
  post_notice(std::move(notice));
  return true;
}

void FakeRouteTable::post_notice(ChangeNotice notice) {
  notices_.push_back(std::move(notice));
  wakeup_.cancel();
}

void FakeRouteTable::fail_next(const IpPrefix& destination, int error, std::string message) {
  failures_.emplace(destination, std::make_pair(error, std::move(message)));
}

std::vector<Route> FakeRouteTable::routes() const {
  std::vector<Route> out;
  out.reserve(routes_.size());
  for (const auto& [key, route] : routes_) out.push_back(route);
  return out;
}

const Route* FakeRouteTable::find(const RouteKey& key) const {
  auto it = routes_.find(key);
  return it == routes_.end() ? nullptr : &it->second;
}

int FakeRouteTable::check_next_hop(Route& route, std::string& message) const {
  if (route.nexthop_id != 0) {
    auto nexthop = nexthops_.find(route.nexthop_id);
    if (route.gateway || route.oif != 0 || route.onlink || route.type != RouteType::unicast) {
      message = "fake: a route with a nexthop id names no gateway or device of its own";
      return EINVAL;
    }
    if (nexthop == nexthops_.end()) {
      message = "Nexthop id does not exist";
      return EINVAL;
    }
    if (route.family() == Family::v6 && nexthop->second.family() != Family::v6) {
      message = "IPv6 routes can not use an IPv4 nexthop";
      return EINVAL;
    }
    return 0;
  }
  // An unreachable route has no next hop (check_route() in netlink_message.hpp).
  if (route.type == RouteType::unreachable) {
    if (!route.gateway && route.oif == 0 && !route.onlink) return 0;
    message = "unreachable route with a next hop";
    return EINVAL;
  }
  if (route.onlink && route.oif == 0) {
    message = "Nexthop device required for onlink";
    return EINVAL;
  }
  if (route.oif != 0) {
    bool known = false;
    for (const auto& network : networks_) known = known || network.oif == route.oif;
    if (!known) {
      message = "Cannot find device";
      return ENODEV;
    }
  }
  if (!route.gateway) {
    if (route.oif == 0) {
      message = "Route without gateway needs an output device";
      return EINVAL;
    }
    return 0;
  }
  if (route.gateway->family() != route.family()) {
    message = "Gateway family does not match destination family";
    return EINVAL;
  }
  if (route.onlink) return 0;
  for (const auto& network : networks_) {
    if (route.oif != 0 && network.oif != route.oif) continue;
    if (network.prefix.contains(*route.gateway)) {
      if (route.oif == 0) route.oif = network.oif;
      return 0;
    }
  }
  if (route.family() == Family::v6) {
    // IPv6 answers EHOSTUNREACH, without extended-ACK text on 6.x kernels.
    message = "fake: IPv6 gateway is on no connected network";
    return EHOSTUNREACH;
  }
  message = "Nexthop has invalid gateway";
  return ENETUNREACH;
}

ChangeResult FakeRouteTable::apply_one(const RouteChange& change) {
  ++writes_;
  ChangeResult result{change, 0, {}};
  if (auto failure = failures_.find(change.route.destination); failure != failures_.end()) {
    result.error = failure->second.first;
    result.message = std::move(failure->second.second);
    failures_.erase(failure);
    return result;
  }
  Route route = change.route;
  // The IPv6 kernel stores metric 0 as 1024 (and dumps 1024).
  if (route.family() == Family::v6 && route.metric == 0 && change.kind != ChangeKind::remove) route.metric = 1024;
  const RouteKey key = key_of(route);
  auto existing = routes_.find(key);
  switch (change.kind) {
    case ChangeKind::remove:
      if (route.metric == 0) {
        // Without a metric the kernel deletes the first route of that
        // destination (any metric) that carries the protocol.
        existing = routes_.end();
        for (auto it = routes_.lower_bound(RouteKey{route.table, route.destination, 0});
             it != routes_.end() && it->first.table == route.table && it->first.destination == route.destination;
             ++it) {
          if (it->second.protocol == route.protocol) {
            existing = it;
            break;
          }
        }
      }
      if (existing == routes_.end() || existing->second.protocol != route.protocol) {
        result.error = ESRCH;
        result.message = "No such route with protocol " + std::to_string(change.route.protocol);
      } else {
        routes_.erase(existing);
        applied_.push_back(change);
      }
      return result;
    case ChangeKind::add:
    case ChangeKind::replace: {
      if (existing != routes_.end()) {
        if (change.kind == ChangeKind::add) {
          result.error = EEXIST;
          result.message = "Route exists (proto " + std::to_string(existing->second.protocol) + ")";
          return result;
        }
        if (existing->second.protocol != change.route.protocol &&
            !dumped_.contains({existing->second.table, existing->second.protocol})) {
          result.error = EEXIST;
          result.message = "fake: refusing to replace a route of protocol " +
                           std::to_string(existing->second.protocol) +
                           " (the kernel would overwrite it; only replace routes you own)";
          return result;
        }
      }
      result.error = check_next_hop(route, result.message);
      if (result.error == 0) {
        routes_[key] = route;
        applied_.push_back(change);
      }
      return result;
    }
  }
  result.error = EINVAL;
  result.message = "unknown change kind";
  return result;
}


boost::asio::awaitable<common::Result<NexthopDump>> FakeRouteTable::dump_nexthops(std::uint8_t protocol) {
  ++nexthop_dumps_;
  if (!nexthops_supported_) {
    const auto error = std::make_error_code(std::errc::operation_not_supported);
    co_return common::Error{error, "dump of nexthops: " + error.message()};
  }
  NexthopDump result;
  for (const auto& [id, nexthop] : nexthops_) {
    result.ids_used.push_back(id);
    if (nexthop.protocol == protocol) result.owned.push_back(nexthop);
  }
  co_return std::move(result);
}

boost::asio::awaitable<std::vector<NexthopResult>> FakeRouteTable::apply_nexthops(std::vector<NexthopChange> changes) {
  ++nexthop_apply_calls_;
  std::vector<NexthopResult> results;
  results.reserve(changes.size());
  for (auto& change : changes) results.push_back(apply_nexthop(change));
  co_return results;
}

NexthopResult FakeRouteTable::apply_nexthop(const NexthopChange& change) {
  ++nexthop_writes_;
  NexthopResult result{change, 0, {}};
  const Nexthop& nexthop = change.nexthop;
  if (!nexthops_supported_) {
    result.error = EOPNOTSUPP;
    return result;
  }
  auto existing = nexthops_.find(nexthop.id);
  if (change.kind == ChangeKind::remove) {
    if (existing == nexthops_.end()) {
      result.error = ENOENT;
      result.message = "Nexthop id does not exist";
      return result;
    }
    // The kernel deletes every route through it (IPv4 without a notification).
    std::erase_if(routes_, [&](const auto& entry) { return entry.second.nexthop_id == nexthop.id; });
    nexthops_.erase(existing);
    return result;
  }
  if (existing != nexthops_.end()) {
    if (change.kind == ChangeKind::add) {
      result.error = EEXIST;
      result.message = "Nexthop id already exists (proto " + std::to_string(existing->second.protocol) + ")";
      return result;
    }
    if (existing->second.protocol != nexthop.protocol) {
      result.error = EEXIST;
      result.message = "fake: refusing to replace a nexthop of protocol " + std::to_string(existing->second.protocol);
      return result;
    }
    // A route's family must still match (the kernel refuses such a replace).
    for (const auto& [key, route] : routes_) {
      if (route.nexthop_id == nexthop.id && route.family() == Family::v6 && nexthop.family() != Family::v6) {
        result.error = EINVAL;
        result.message = "IPv6 routes can not use an IPv4 nexthop";
        return result;
      }
    }
  }
  // The kernel's checks of the next hop itself, as for a route.
  Route probe{IpPrefix::containing(nexthop.gateway, nexthop.gateway.bit_width()), nexthop.gateway, nexthop.oif};
  probe.onlink = nexthop.onlink;
  if (nexthop.oif == 0) {
    result.error = EINVAL;
    result.message = "Device attribute required for non-blackhole and non-fdb nexthops";
    return result;
  }
  if (int error = check_next_hop(probe, result.message)) {
    result.error = error;
    return result;
  }
  nexthops_[nexthop.id] = nexthop;
  return result;
}

void FakeRouteTable::seed_nexthop(const Nexthop& nexthop) {
  nexthops_[nexthop.id] = nexthop;
}

bool FakeRouteTable::remove_nexthop_externally(std::uint32_t id) {
  auto it = nexthops_.find(id);
  if (it == nexthops_.end()) return false;
  ChangeNotice notice;
  notice.relevant = true;
  notice.what = "RTM_DELNEXTHOP " + it->second.to_string();
  std::erase_if(routes_, [&](const auto& entry) { return entry.second.nexthop_id == id; });
  nexthops_.erase(it);
  post_notice(std::move(notice));
  return true;
}

std::vector<Nexthop> FakeRouteTable::nexthops() const {
  std::vector<Nexthop> out;
  out.reserve(nexthops_.size());
  for (const auto& [id, nexthop] : nexthops_) out.push_back(nexthop);
  return out;
}

const Nexthop* FakeRouteTable::find_nexthop(std::uint32_t id) const {
  auto it = nexthops_.find(id);
  return it == nexthops_.end() ? nullptr : &it->second;
}

}  // namespace hostgw::routing
