#pragma once

// DryRunRouteTable: --dry-run. Reads go to the real table; apply() only logs
// each change ("Dry run: route would be added", "Dry run: nexthop would be
// replaced") and reports success. It never writes to the kernel.

#include "routing/route_table.hpp"

namespace hostgw::controller {

class DryRunRouteTable final : public routing::RouteTable {
 public:
  explicit DryRunRouteTable(routing::RouteTable& real) : real_(real) {}

  boost::asio::awaitable<common::Result<std::vector<routing::Route>>> dump_routes(std::uint32_t table,
                                                                                  std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<routing::ChangeResult>> apply(std::vector<routing::RouteChange> changes) override;
  boost::asio::awaitable<common::Result<std::vector<routing::ConnectedNetwork>>> connected_networks()
      override;
  boost::asio::awaitable<common::Result<routing::NexthopDump>> dump_nexthops(std::uint8_t protocol) override;
  boost::asio::awaitable<std::vector<routing::NexthopResult>> apply_nexthops(
      std::vector<routing::NexthopChange> changes) override;

 private:
  routing::RouteTable& real_;
};

}  // namespace hostgw::controller
