#pragma once

// MasqueradeTable: what the controller needs from kube-hostgw's masquerade
// table, as an interface. nft_masquerade_table.hpp implements it with
// libnftables; fake_masquerade_table.hpp in memory, for tests without root.
// Synchronous; errors are values, nothing throws after construction.

#include <chrono>
#include <optional>
#include <string>

#include "netfilter/masquerade_rules.hpp"

namespace hostgw::netfilter {

struct NftResult {
  bool ok = true;
  std::string error;  // nft's own message, e.g. "Error: Could not process rule: Operation not permitted"
  std::chrono::microseconds took{0};
};

struct NftReadResult {
  NftResult result;
  MasqueradeTableState state;  // meaningful when result.ok
};

class MasqueradeTable {
 public:
  virtual ~MasqueradeTable() = default;

  // Our table as it is now (present = false if there is none).
  virtual NftReadResult read_current() = 0;
  // Creates our table, or replaces it whatever it holds, with `sets`: one transaction.
  virtual NftResult replace_table(const MasqueradeSets& sets) = 0;
  // Adds/deletes set elements in one transaction (never a table rebuild).
  virtual NftResult update_elements(const MasqueradeUpdate& update) = 0;
  // Removes our table (only ours); ok when there was none.
  virtual NftResult delete_table() = 0;

  // Carries out `plan` (replace_table uses `desired`).
  NftResult apply(const MasqueradePlan& plan, const MasqueradeSets& desired);

  // Read, plan, apply: the whole step a target takes. `desired` nullopt means
  // masquerade is off (our table goes). plan.action says what was done.
  struct SyncResult {
    MasqueradePlan plan;
    NftResult result;  // of the read when it failed, else of the apply
  };
  SyncResult sync(const std::optional<MasqueradeSets>& desired);
};

}  // namespace hostgw::netfilter
