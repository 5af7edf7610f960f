#pragma once

// MasqueradeTarget: kube-hostgw's nftables table `inet kube-hostgw` (egress
// masquerade for pod traffic leaving the cluster), over a netfilter::MasqueradeTable
// (libnftables in production, netfilter::FakeMasqueradeTable in tests).
// A full pass reads the table and plans with netfilter::plan_masquerade():
// missing or changed in structure -> one item for the whole table (replaced
// atomically with every element); only elements differ -> one item per
// element (added/deleted in one transaction, never a rebuild); masquerading
// off and our table present -> the table removed. Between full passes it keeps
// the sets it installed as its model, so a node added or removed is an
// element update planned without reading the table (with --cluster-cidr, from
// that node's addresses alone, without building the sets). Never names another
// table; never retries or logs a change (the Applier does).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/target.hpp"
#include "netfilter/masquerade_rules.hpp"
#include "netfilter/masquerade_table.hpp"

namespace hostgw::controller {

// --dry-run: reads through, logs every write instead of making it.
class DryRunMasqueradeTable final : public netfilter::MasqueradeTable {
 public:
  explicit DryRunMasqueradeTable(netfilter::MasqueradeTable& real) : real_(real) {}
  netfilter::NftReadResult read_current() override { return real_.read_current(); }
  netfilter::NftResult replace_table(const netfilter::MasqueradeSets& sets) override;
  netfilter::NftResult update_elements(const netfilter::MasqueradeUpdate& update) override;
  netfilter::NftResult delete_table() override;

 private:
  netfilter::MasqueradeTable& real_;
};

class MasqueradeTarget final : public Target {
 public:
  MasqueradeTarget(netfilter::MasqueradeTable& backend, ControllerMetrics& metrics);

  const TargetInfo& info() const override;
  boost::asio::awaitable<std::optional<TargetProblem>> read(const DesiredState& desired, const KernelFacts& facts,
                                                            Bindings& bindings) override;
  Delta diff(const DesiredState& desired, const Bindings& bindings) override;
  void after_pass(const std::vector<ItemChange>& applied, bool clean) override;
  std::optional<Delta> plan_update(const NodeUpdate& update, const DesiredModel& model) override;
  void after_step(bool clean) override;
  boost::asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) override;
  std::string describe(const Item& item) const override;

  bool model_valid() const { return model_valid_; }

 private:
  // Element items for `update` (nullopt when a set must be flushed and
  // refilled: only a table replace says that in one item).
  std::optional<Delta> element_changes(const netfilter::MasqueradeUpdate& update, const k8s::NodeName& node) const;
  // plan_update() with --cluster-cidr: only `update`'s node's addresses can
  // change the sets, so the node-address elements to delete and add are found
  // without building the sets (O(its addresses), not O(nodes)); nullopt if the
  // installed sets disagree with the model.
  struct AddressChanges {
    std::vector<routing::IpAddress> removed;
    std::vector<routing::IpAddress> added;
  };
  std::optional<AddressChanges> address_changes(const NodeUpdate& update, const DesiredModel& model) const;

  netfilter::MasqueradeTable& backend_;
  ControllerMetrics& metrics_;
  netfilter::MasqueradeTableState current_;             // what read() saw, during a full pass
  std::optional<netfilter::MasqueradeSets> desired_;    // what a table item writes, during a full pass
  std::optional<netfilter::MasqueradeSets> installed_;  // the model: what the table holds (nullopt: no table)
  bool model_valid_ = false;
};

}  // namespace hostgw::controller
