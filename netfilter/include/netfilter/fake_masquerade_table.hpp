#pragma once

// FakeMasqueradeTable: MasqueradeTable in memory, for controller tests without
// root. Holds a MasqueradeTableState, counts each kind of call, and can be
// told to fail the next calls or to look changed by hand.

#include <cstddef>
#include <string>

#include "netfilter/masquerade_table.hpp"

namespace hostgw::netfilter {

class FakeMasqueradeTable : public MasqueradeTable {
 public:
  NftReadResult read_current() override;
  NftResult replace_table(const MasqueradeSets& sets) override;
  NftResult update_elements(const MasqueradeUpdate& update) override;
  NftResult delete_table() override;

  // What the table holds now (tests may edit it: "changed by hand").
  MasqueradeTableState state;
  // When non-empty, every call fails with this text (nothing changes).
  std::string fail_with;

  std::size_t reads = 0;
  std::size_t replaces = 0;
  std::size_t element_updates = 0;
  std::size_t elements_changed = 0;  // added + removed over all element updates
  std::size_t deletes = 0;
};

}  // namespace hostgw::netfilter
