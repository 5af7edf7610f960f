#pragma once

// A MasqueradeBackend holding one table in memory (tests of MasqueradeTarget
// and the Daemon): counts what it was asked for; `fail_next` makes every call
// fail as nft would.

#include "controller/masquerade_target.hpp"

namespace hostgw::testing {

namespace netfilter = hostgw::netfilter;

using routing::IpAddress;
using routing::IpPrefix;

// Holds one table in memory; counts what the target asked for.
class FakeMasqueradeBackend final : public controller::MasqueradeBackend {
 public:
  netfilter::NftReadResult read_current() override {
    ++reads;
    netfilter::NftReadResult result;
    if (fail_next) {
      result.result = {false, "Error: simulated", {}};
      return result;
    }
    result.state = state;
    return result;
  }
  netfilter::NftResult replace_table(const netfilter::MasqueradeSets& sets) override {
    ++replaces;
    if (fail_next) return {false, "Error: Could not process rule: simulated", {}};
    state = {true, sets, {}};
    return {};
  }
  netfilter::NftResult update_elements(const netfilter::MasqueradeUpdate& update) override {
    ++element_updates;
    last_update = update;
    if (fail_next) return {false, "Error: Could not process rule: simulated", {}};
    for (const auto& change : update.sets) {
      const bool addresses = change.set == netfilter::kNodeAddressesV4 || change.set == netfilter::kNodeAddressesV6;
      for (const auto& element : change.remove) {
        if (addresses) {
          std::erase(state.sets.node_addresses, IpAddress::parse(element));
        } else {
          auto& list = change.set.starts_with("pod") ? state.sets.pod_cidrs : state.sets.no_masquerade;
          std::erase(list, IpPrefix::parse(element));
        }
      }
      for (const auto& element : change.add) {
        if (addresses) {
          state.sets.node_addresses.push_back(IpAddress::parse(element));
        } else {
          (change.set.starts_with("pod") ? state.sets.pod_cidrs : state.sets.no_masquerade)
              .push_back(IpPrefix::parse(element));
        }
      }
    }
    state.sets =
        netfilter::make_masquerade_sets(state.sets.pod_cidrs, state.sets.node_addresses, state.sets.no_masquerade);
    return {};
  }
  netfilter::NftResult delete_table() override {
    ++deletes;
    state = {};
    return {};
  }

  netfilter::MasqueradeTableState state;
  netfilter::MasqueradeUpdate last_update;
  bool fail_next = false;
  int reads = 0, replaces = 0, element_updates = 0, deletes = 0;
};

}  // namespace hostgw::testing
