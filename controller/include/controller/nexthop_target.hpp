#pragma once

// NexthopTarget (carrier): the nexthop objects of our protocol
// (--nexthop-objects, routing/nexthop.hpp), one per routed podCIDR reached
// directly through a gateway on a link. Owns the assignment "destination ->
// nexthop id" that RouteTarget binds those routes to (Bindings::nexthops), and
// its model of what is installed, so a node's new address is one nexthop
// replace with the route untouched, also in an incremental step.
//
// Adoption: a route of ours naming a nexthop of ours keeps that id; an owned
// nexthop no route uses but equal to what a route wants is taken over; any
// other owned nexthop is an orphan and goes (after the routes moved off it:
// a carrier's removals come last). New ids: routing::free_nexthop_id() over
// every id in use. Switched off (`use` false) nothing is wanted: routes go
// back to plain gateways (replaced in place) and every owned nexthop goes.
// Overlay routes stay plain (docs/operations.md says why). Never retries or
// logs a change: the Applier does.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/target.hpp"
#include "routing/nexthop.hpp"

namespace hostgw::controller {

class NexthopTarget final : public Target {
 public:
  // `use`: nexthop objects wanted (--nexthop-objects resolved to on).
  NexthopTarget(routing::RouteTable& table, ControllerMetrics& metrics, bool use);

  const TargetInfo& info() const override;
  boost::asio::awaitable<std::optional<TargetProblem>> read(const DesiredState& desired, const KernelFacts& facts,
                                                            Bindings& bindings) override;
  Delta diff(const DesiredState& desired, const Bindings& bindings) override;
  void after_pass(const std::vector<ItemChange>& applied, bool clean) override;
  std::optional<Delta> plan_update(const NodeUpdate& update, const DesiredModel& model) override;
  void after_step(bool clean) override;
  boost::asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) override;
  std::string describe(const Item& item) const override;

  // The destination -> nexthop id assignment routes are bound to.
  const std::map<routing::IpPrefix, std::uint32_t>& assignment() const { return assigned_; }

 private:
  // The nexthop `entry`'s route goes through, if it gets one: a direct
  // unicast route with a gateway and an output link, nexthops in use.
  std::optional<routing::Nexthop> wanted_for(const NodeRoute& entry, std::uint32_t id) const;
  bool eligible(const NodeRoute& entry) const;
  std::uint32_t allocate();
  void record(const ItemChange& change);

  routing::RouteTable& table_;
  ControllerMetrics& metrics_;
  bool use_;
  std::map<routing::IpPrefix, std::uint32_t> assigned_;               // destination -> id
  std::map<std::uint32_t, std::vector<routing::Nexthop>> installed_;  // ours, by id
  std::vector<std::uint32_t> ids_used_;                               // anyone's, sorted (allocation skips them)
  std::uint32_t next_id_ = routing::kNexthopIdFirst;
  std::map<std::uint32_t, std::string> links_;     // ifindex -> name, for the log
  std::map<std::uint32_t, k8s::NodeName> owners_;  // id -> node, for the log
  bool model_valid_ = false;
};

// "id 1802502145 via 198.51.100.12 dev eth0".
std::string nexthop_text(const routing::Nexthop& nexthop, const std::map<std::uint32_t, std::string>& links);

}  // namespace hostgw::controller
