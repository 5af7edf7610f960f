#pragma once

// OverlayTarget: the VXLAN device hostgw.vxlan (--cross-subnet=vxlan) and its
// neighbour/FDB entries, over a routing::OverlayTable. A carrier: read() puts
// the device in place before its entries are read and binds its index for
// the overlay routes; its entry removals and the device's deletion come after
// the routes through it. Has no incremental model: a node reached through the
// overlay, before or after a change, asks for a full pass. Never retries or
// logs an entry change: the Applier does.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/target.hpp"

namespace hostgw::controller {

class OverlayTarget final : public Target {
 public:
  // `cross_subnet`: the mode in effect (for the log of a device deletion).
  OverlayTarget(routing::OverlayTable& table, ControllerMetrics& metrics, CrossSubnet cross_subnet);

  const TargetInfo& info() const override;
  boost::asio::awaitable<std::optional<TargetProblem>> read(const DesiredState& desired, const KernelFacts& facts,
                                                            Bindings& bindings) override;
  Delta diff(const DesiredState& desired, const Bindings& bindings) override;
  boost::asio::awaitable<std::optional<TargetProblem>> finish() override;
  void after_pass(const std::vector<ItemChange>&, bool) override {}
  std::optional<Delta> plan_update(const NodeUpdate& update, const DesiredModel& model) override;
  void after_step(bool) override {}
  boost::asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) override;
  std::string describe(const Item& item) const override;

 private:
  void log_device(const routing::VxlanDeviceSpec& device, const routing::EnsuredDevice& ensured);
  void note_peers(const DesiredRoutes& routes);

  routing::OverlayTable& table_;
  ControllerMetrics& metrics_;
  CrossSubnet cross_subnet_;
  // This pass: the device's index, what it holds, whether it goes at the end.
  std::uint32_t index_ = 0;
  std::optional<routing::OverlayDump> dump_;
  bool delete_device_ = false;
  std::map<routing::IpAddress, k8s::NodeName> vtep_nodes_;  // VTEP address -> peer node (for the log)
  std::map<routing::MacAddress, k8s::NodeName> mac_nodes_;  // VTEP MAC -> peer node
};

}  // namespace hostgw::controller
