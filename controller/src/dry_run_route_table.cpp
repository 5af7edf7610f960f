#include "controller/dry_run_route_table.hpp"

#include "common/log.hpp"
#include "routing/nexthop.hpp"

namespace hostgw::controller {

boost::asio::awaitable<common::Result<std::vector<routing::Route>>> DryRunRouteTable::dump_routes(
    std::uint32_t table, std::uint8_t protocol) {
  co_return co_await real_.dump_routes(table, protocol);
}

boost::asio::awaitable<common::Result<std::vector<routing::ConnectedNetwork>>>
DryRunRouteTable::connected_networks() {
  co_return co_await real_.connected_networks();
}

boost::asio::awaitable<std::vector<routing::ChangeResult>> DryRunRouteTable::apply(
    std::vector<routing::RouteChange> changes) {
  std::vector<routing::ChangeResult> results;
  results.reserve(changes.size());
  for (auto& change : changes) {
    const char* what = change.kind == routing::ChangeKind::add       ? "Dry run: route would be added"
                       : change.kind == routing::ChangeKind::replace ? "Dry run: route would be replaced"
                                                                     : "Dry run: route would be deleted";
    KHG_LOG(info) << what << log::kv("route", change.route.to_string());
    results.push_back({std::move(change), 0, {}});
  }
  co_return results;
}

boost::asio::awaitable<common::Result<routing::NexthopDump>> DryRunRouteTable::dump_nexthops(std::uint8_t protocol) {
  co_return co_await real_.dump_nexthops(protocol);
}

boost::asio::awaitable<std::vector<routing::NexthopResult>> DryRunRouteTable::apply_nexthops(
    std::vector<routing::NexthopChange> changes) {
  std::vector<routing::NexthopResult> results;
  results.reserve(changes.size());
  for (auto& change : changes) {
    const char* what = change.kind == routing::ChangeKind::add       ? "Dry run: nexthop would be added"
                       : change.kind == routing::ChangeKind::replace ? "Dry run: nexthop would be replaced"
                                                                     : "Dry run: nexthop would be deleted";
    KHG_LOG(info) << what << log::kv("nexthop", change.nexthop.to_string());
    results.push_back({std::move(change), 0, {}});
  }
  co_return results;
}

}  // namespace hostgw::controller
