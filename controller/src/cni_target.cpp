#include "controller/cni_target.hpp"

#include <cerrno>

#include "common/log.hpp"

namespace hostgw::controller {

namespace asio = boost::asio;
using log::kv;
using routing::ChangeKind;

CniTarget::CniTarget(std::filesystem::path conf_dir, bool dry_run) : file_(std::move(conf_dir)), dry_run_(dry_run) {}

const TargetInfo& CniTarget::info() const {
  static const TargetInfo kInfo{.name = "cni",
                                .noun = "CNI conflist",
                                .plural = "CNI conflists",
                                .item_key = "file",
                                .role = TargetRole::leaf,
                                .gone_errno = ENOENT,
                                .problem_line = "CNI conflist not readable",
                                .changes = &ControllerMetrics::cni_conf_changes,
                                .counts_netlink_errors = false};
  return kInfo;
}

asio::awaitable<std::optional<TargetProblem>> CniTarget::read(const DesiredState&, const KernelFacts&, Bindings&) {
  CniFileState state = file_.read_current();
  if (state.error) {
    current_.reset();
    co_return TargetProblem{"read " + file_.path().string(), state.message};
  }
  current_ = std::move(state.content);
  co_return std::nullopt;
}

Delta CniTarget::diff(const DesiredState& desired, const Bindings&) {
  Delta delta;
  mtu_ = desired.pod_mtu;
  // Not yet a podCIDR (or no --cni-conf-dir): leave the file as it is.
  if (!desired.cni_conflist || current_ == desired.cni_conflist) return delta;
  delta.upserts.push_back({current_ ? ChangeKind::replace : ChangeKind::add, CniFileItem{*desired.cni_conflist},
                           desired.facts.self, current_ ? "another content" : std::string()});
  return delta;
}

asio::awaitable<std::vector<ItemResult>> CniTarget::apply(const std::vector<ItemChange>& batch) {
  std::vector<ItemResult> results;
  for (const auto& change : batch) {
    const auto& item = std::get<CniFileItem>(change.item);
    if (dry_run_) {
      KHG_LOG(info) << "Dry run: CNI conflist would be written" << kv("file", file_.path().string()) << kv("mtu", mtu_);
      results.push_back({});
      continue;
    }
    WriteResult written = file_.apply(item.content);
    if (written.error) {
      results.push_back({written.error.value(), written.message});
    } else {
      current_ = item.content;
      results.push_back({});
    }
  }
  co_return results;
}

std::string CniTarget::describe(const Item&) const {
  return file_.path().string() + " (mtu " + std::to_string(mtu_) + ")";
}

}  // namespace hostgw::controller
