#pragma once

// NftMasqueradeTable: kube-hostgw's nftables table `inet kube-hostgw`, read
// and written through libnftables (nftables' own library; see
// docs/masquerade.md for why this one and what it costs).
//
// Each call makes its own libnftables context (its own netlink socket, in the
// network namespace of the calling thread) and frees it afterwards, so no
// cache of thousands of set elements stays in memory between calls. Every
// write is one nft transaction: all of it applies or none of it. It only ever
// names our table: it never lists, changes or deletes another table, chain or
// rule.
//
// An element update of the node-addresses sets alone (what a node event
// changes when --cluster-cidr is given) goes as nf_tables' own netlink
// messages on one socket kept open (nft_element_socket.hpp): ~2 us an element
// where a libnftables context cost ~0.3 ms to add one and 5-15 ms after a delete.
//
// Synchronous: libnftables has no asynchronous interface. At 5000 nodes a
// full replace or read blocks for 100-300 ms (docs/masquerade.md): the
// controller calls it on its loop thread, once per coalesced pass. Not
// thread-safe; one thread uses it. Nothing throws after construction:
// results carry the error text nft (or the kernel) gave.

#include <memory>
#include <string>

#include "netfilter/masquerade_table.hpp"
#include "netfilter/nft_element_socket.hpp"

namespace hostgw::netfilter {

class NftMasqueradeTable : public MasqueradeTable {
 public:
  // Throws std::runtime_error if libnftables cannot make a context (start-up only).
  // Holds no state but the element socket: every call below stands alone.
  NftMasqueradeTable();
  ~NftMasqueradeTable() override;
  NftMasqueradeTable(const NftMasqueradeTable&) = delete;
  NftMasqueradeTable& operator=(const NftMasqueradeTable&) = delete;

  NftReadResult read_current() override;
  NftResult replace_table(const MasqueradeSets& sets) override;
  NftResult update_elements(const MasqueradeUpdate& update) override;
  NftResult delete_table() override;

  // Runs one nft script as one transaction. For the above and for tests.
  NftResult run(const std::string& script);

  // Why element updates all go through libnftables (the element socket could
  // not be opened), or empty.
  const std::string& element_socket_error() const { return element_socket_error_; }
  // Element updates that went through the element socket (for tests).
  std::size_t element_socket_writes() const { return element_socket_writes_; }

 private:
  NftResult run_command(const std::string& command, bool json, std::string* output);

  std::unique_ptr<NftElementSocket> elements_;
  std::string element_socket_error_;
  std::size_t element_socket_writes_ = 0;
};

}  // namespace hostgw::netfilter
