#pragma once

// RouteTarget: the routes of our protocol in our table, over a
// routing::RouteTable. Owns the model of what is installed (the last clean
// full pass's dump plus every change applied since), so that a single node's
// change, or an owned route someone else deleted, is planned without a dump.
// Binds overlay routes to the VXLAN device's index, and names links in the
// log ("dev eth0"). With an adoption (--adopt-protocol), the adoptable routes
// of other protocols count as installed, so the one diff rewrites them in
// place (replace) or deletes them; route_adoption_order() keeps a route under
// adoption until its successor under another metric is in. Never retries or
// logs a change: the Applier does (it logs one summary line of adoptions).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/target.hpp"

namespace hostgw::controller {

class RouteTarget final : public Target {
 public:
  RouteTarget(routing::RouteTable& table, ControllerMetrics& metrics);

  const TargetInfo& info() const override;
  boost::asio::awaitable<std::optional<TargetProblem>> read(const DesiredState& desired, const KernelFacts& facts,
                                                            Bindings& bindings) override;
  Delta diff(const DesiredState& desired, const Bindings& bindings) override;
  void after_pass(const std::vector<ItemChange>& applied, bool clean) override;
  std::optional<Delta> plan_update(const NodeUpdate& update, const DesiredModel& model) override;
  void after_step(bool clean) override;
  boost::asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) override;
  std::string describe(const Item& item) const override;

  // The changes that undo these owned-route events (someone else deleted an
  // owned route), against the model; nullopt: a full pass is needed (an
  // owned route was added or replaced by someone else, or no clean model).
  std::optional<Delta> plan_repair(const std::vector<routing::OwnedRouteEvent>& events, const DesiredModel& model);

  // Take over the routes this adoption allows (KernelFacts::adoptable_routes).
  void adopt(routing::RouteAdoption adoption) { adoption_ = std::move(adoption); }

  bool model_valid() const { return model_valid_; }
  std::size_t installed_routes() const { return installed_count_; }

 private:
  using Installed = std::map<routing::RouteKey, std::vector<routing::Route>>;
  // diff_key() for `keys` against `model`'s wanted routes and installed_,
  // updating installed_ as if the changes succeed.
  Delta plan_keys(const std::vector<routing::RouteKey>& keys, const DesiredModel& model, const k8s::NodeName& node);
  // The route as it goes to the kernel: an overlay route bound to the
  // device's index, or nullopt while there is no device; a route with a
  // nexthop assigned naming only its id.
  std::optional<routing::Route> bound(const NodeRoute& entry) const;
  void record(const ItemChange& change);
  // Whether `route`'s nexthop id is still the one assigned to its destination.
  bool nexthop_assigned(const routing::Route& route) const;
  k8s::NodeName owner_of(const routing::Route& route) const;
  // The wanted entry for `key` in the pass or step being applied, or null.
  const NodeRoute* wanted_entry(const routing::RouteKey& key) const;
  // route_text(), with " proto boot" for a route under adoption.
  std::string text_of(const routing::Route& route) const;
  // Counts and logs the adoptions among a pass's applied changes.
  void note_adoptions(const std::vector<ItemChange>& applied);

  routing::RouteTable& table_;
  ControllerMetrics& metrics_;
  // What read() saw (a full pass) and, between passes, the model.
  Installed installed_;
  std::size_t installed_count_ = 0;
  bool model_valid_ = false;
  std::map<routing::IpPrefix, k8s::NodeName> owners_;  // destination -> node, last known
  std::map<std::uint32_t, std::string> links_;         // ifindex -> name, from the connected networks
  std::optional<std::uint32_t> overlay_device_;        // hostgw.vxlan's index in the last pass
  routing::RouteAdoption adoption_;
  // The pass's changes that take over a route of another protocol -> its protocol.
  std::map<std::pair<routing::ChangeKind, routing::Route>, std::uint8_t> adopting_;
  // NexthopTarget's assignment (destination -> nexthop id), from the last pass's bindings.
  const std::map<routing::IpPrefix, std::uint32_t>* nexthops_ = nullptr;
  // The wanted routes while a full pass (the desired state's) or a step (the
  // model's) is applied, so that a route through a nexthop object names its
  // gateway in the log; null between them.
  const std::vector<NodeRoute>* pass_routes_ = nullptr;
  const std::map<routing::RouteKey, NodeRoute>* step_routes_ = nullptr;
};

// "10.244.2.0/24 via 198.51.100.12 dev eth0" (the link's index where its name
// is unknown: "dev #7").
std::string route_text(const routing::Route& route, const std::map<std::uint32_t, std::string>& links);

// The order in which a batch goes to the kernel, as indices into `batch`: as
// given, except that the removal of a route of another protocol (under
// adoption) waits until after the upserts of the same destination, so that
// taking over a route whose metric differs from ours (add ours, delete theirs)
// never leaves the destination without a route.
std::vector<std::size_t> route_adoption_order(const std::vector<ItemChange>& batch);

}  // namespace hostgw::controller
