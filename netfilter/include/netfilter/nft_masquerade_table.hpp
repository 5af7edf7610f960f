#pragma once

// NftMasqueradeTable: kube-hostgw's nftables table `inet kube-hostgw`, read
// and written through libnftables (nftables' own library; see
// docs/masquerade.md for why this one and what it costs).
//
// Each call makes its own libnftables context (its own netlink socket, in the
// network namespace of the calling thread) and frees it afterwards, so no
// cache of thousands of set elements stays in memory between calls. Every
// write is one nft transaction: all of it applies or none of it. It only ever names our table:
// it never lists, changes or deletes another table, chain or rule.
//
// Synchronous: libnftables has no asynchronous interface. A call takes a few
// milliseconds (5000 set elements: see docs/masquerade.md), so the controller
// calls it on its loop thread. Not thread-safe; one thread uses it.
// Nothing throws after construction: results carry the error text nft gave.

#include <chrono>
#include <memory>
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

class NftMasqueradeTable {
 public:
  // Throws std::runtime_error if libnftables cannot make a context (start-up only).
  // Holds no state: every call below stands alone.
  NftMasqueradeTable();
  ~NftMasqueradeTable();
  NftMasqueradeTable(const NftMasqueradeTable&) = delete;
  NftMasqueradeTable& operator=(const NftMasqueradeTable&) = delete;

  // Our table as the kernel holds it (present = false if there is none).
  NftReadResult read_current();

  // Creates our table, or replaces it whatever it holds, with `sets`.
  NftResult replace_table(const MasqueradeSets& sets);

  // Adds/deletes set elements in one transaction (never a table rebuild).
  NftResult update_elements(const MasqueradeUpdate& update);

  // Removes our table; ok when there was none.
  NftResult delete_table();

  // Carries out `plan` (replace_table uses `desired`).
  NftResult apply(const MasqueradePlan& plan, const MasqueradeSets& desired);

  // Runs one nft script as one transaction. For the above and for tests.
  NftResult run(const std::string& script);

 private:
  NftResult run_command(const std::string& command, bool json, std::string* output);
};

}  // namespace hostgw::netfilter
