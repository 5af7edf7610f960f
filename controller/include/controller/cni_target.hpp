#pragma once

// CniTarget: this node's CNI conflist, `<--cni-conf-dir>/10-kube-hostgw.conflist`
// (CniConfFile). A full pass reads the file and writes it, atomically, only
// when its content differs from the desired one (a file of ours deleted by
// hand comes back at the next full pass, at the latest the resync). Nothing
// is written while this node has no podCIDR, and the file is never removed
// (pods on the node use it). Other files in the folder are never read or
// touched. The conflist depends only on this node, so another node's change
// plans nothing here. --dry-run reads but never writes.

#include <optional>
#include <string>
#include <vector>

#include "controller/cni_config.hpp"
#include "controller/target.hpp"

namespace hostgw::controller {

class CniTarget final : public Target {
 public:
  CniTarget(std::filesystem::path conf_dir, bool dry_run);

  const TargetInfo& info() const override;
  boost::asio::awaitable<std::optional<TargetProblem>> read(const DesiredState& desired, const KernelFacts& facts,
                                                            Bindings& bindings) override;
  Delta diff(const DesiredState& desired, const Bindings& bindings) override;
  void after_pass(const std::vector<ItemChange>&, bool) override {}
  std::optional<Delta> plan_update(const NodeUpdate&, const DesiredModel&) override { return Delta{}; }
  void after_step(bool) override {}
  boost::asio::awaitable<std::vector<ItemResult>> apply(const std::vector<ItemChange>& batch) override;
  std::string describe(const Item& item) const override;

  const std::filesystem::path& path() const { return file_.path(); }

 private:
  CniConfFile file_;
  bool dry_run_;
  std::optional<std::string> current_;  // what read() found (nullopt: no file)
  std::uint32_t mtu_ = 0;               // of the desired conflist, for the log
};

}  // namespace hostgw::controller
