#include "netfilter/masquerade_table.hpp"

namespace hostgw::netfilter {

NftResult MasqueradeTable::apply(const MasqueradePlan& plan, const MasqueradeSets& desired) {
  switch (plan.action) {
    case MasqueradeAction::none:
      return {};
    case MasqueradeAction::replace_table:
      return replace_table(desired);
    case MasqueradeAction::update_elements:
      return plan.update.empty() ? NftResult{} : update_elements(plan.update);
    case MasqueradeAction::delete_table:
      return delete_table();
  }
  return {false, "unknown masquerade action", {}};
}

MasqueradeTable::SyncResult MasqueradeTable::sync(const std::optional<MasqueradeSets>& desired) {
  SyncResult sync;
  NftReadResult current = read_current();
  if (!current.result.ok) {
    sync.result = std::move(current.result);
    return sync;
  }
  sync.plan = plan_masquerade(current.state, desired);
  sync.result = apply(sync.plan, desired.value_or(MasqueradeSets{}));
  sync.result.took += current.result.took;
  return sync;
}

}  // namespace hostgw::netfilter
