#pragma once

// The egress-masquerade ruleset kube-hostgw owns, as pure functions: the sets
// it holds (values), the nft script that creates or replaces our table in one
// transaction, the per-set element delta between two states and its script,
// and the reading of `nft -j list table inet kube-hostgw` back into values
// (with every way the table differs from ours spelt out).
//
// Nothing here talks to the kernel (nft_masquerade_table.hpp does). Everything
// we write lives in one table of our own, `inet kube-hostgw`; no function here
// produces a command naming any other table.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/ip.hpp"

namespace hostgw::netfilter {

inline constexpr std::string_view kTableFamily = "inet";
inline constexpr std::string_view kTableName = "kube-hostgw";
inline constexpr std::string_view kChainName = "postrouting";
// srcnat: the standard source-NAT priority (iptables' nat POSTROUTING too).
inline constexpr int kChainPriority = 100;

// Set names; each family has its own (an nftables set holds one type).
inline constexpr std::string_view kPodCidrsV4 = "pod-cidrs-v4";            // interval
inline constexpr std::string_view kPodCidrsV6 = "pod-cidrs-v6";            // interval
inline constexpr std::string_view kNodeAddressesV4 = "node-addresses-v4";  // addresses
inline constexpr std::string_view kNodeAddressesV6 = "node-addresses-v6";  // addresses
inline constexpr std::string_view kNoMasqueradeV4 = "no-masquerade-v4";    // interval
inline constexpr std::string_view kNoMasqueradeV6 = "no-masquerade-v6";    // interval

// The node-address set of `family`, and the family of a node-address set
// (nullopt: `set` is another one).
std::string_view node_address_set(routing::Family family);
std::optional<routing::Family> node_address_set_family(std::string_view set);
// "inet kube-hostgw <set>", as nft commands name a set of our table.
std::string qualified_set(std::string_view set);

// What the table holds. Always in canonical form (make_masquerade_sets):
// sorted, without duplicates, and no prefix inside another of the same set,
// so that equal meaning is equal value and interval sets never overlap.
struct MasqueradeSets {
  std::vector<routing::IpPrefix> pod_cidrs;        // source in here and destination not: masquerade
  std::vector<routing::IpAddress> node_addresses;  // destinations never masqueraded (every node's address)
  std::vector<routing::IpPrefix> no_masquerade;    // destinations never masqueraded (--no-masquerade-cidr)

  friend bool operator==(const MasqueradeSets&, const MasqueradeSets&) = default;
};

// Sorted, duplicates and prefixes covered by another one of the list dropped.
std::vector<routing::IpPrefix> normalize_prefixes(std::vector<routing::IpPrefix> prefixes);
MasqueradeSets make_masquerade_sets(std::vector<routing::IpPrefix> pod_cidrs,
                                    std::vector<routing::IpAddress> node_addresses,
                                    std::vector<routing::IpPrefix> no_masquerade);

// The nft script that replaces whatever `inet kube-hostgw` holds by our table
// with `sets` (one transaction when run as one buffer: `table` + `delete
// table` + the full definition, so it works whether or not the table exists):
//   sets as above; chain postrouting { type nat hook postrouting priority 100;
//   policy accept; } with, per family,
//   <ip|ip6> saddr @pod-cidrs-vN <ip|ip6> daddr != @pod-cidrs-vN
//     daddr != @node-addresses-vN daddr != @no-masquerade-vN
//     daddr != <224.0.0.0/4|ff00::/8> masquerade
std::string render_table_script(const MasqueradeSets& sets);

// The script that removes our table (and only ours), present or not.
std::string render_delete_script();

// One set's element changes. `replace_all`: flush the set and add every
// element of the desired state (nft refuses to add an interval overlapping one
// deleted in the same transaction, e.g. 10.244.1.0/24 -> 10.244.0.0/16).
struct SetChange {
  std::string_view set;  // one of the k* set names
  bool replace_all = false;
  std::vector<std::string> add;  // element texts, as nft reads them
  std::vector<std::string> remove;

  friend bool operator==(const SetChange&, const SetChange&) = default;
};

struct MasqueradeUpdate {
  std::vector<SetChange> sets;  // only sets that change
  bool empty() const { return sets.empty(); }
  std::size_t element_count() const;  // added + removed elements

  friend bool operator==(const MasqueradeUpdate&, const MasqueradeUpdate&) = default;
};

// The element changes from `current` to `desired` (both canonical).
MasqueradeUpdate diff_masquerade_sets(const MasqueradeSets& current, const MasqueradeSets& desired);

// The script for `update`, deletes before adds: one transaction when run as
// one buffer. Empty for an empty update.
std::string render_update_script(const MasqueradeUpdate& update);

// Our table as read back from the kernel.
struct MasqueradeTableState {
  bool present = false;
  MasqueradeSets sets;  // the elements found in our sets (canonical)
  // Every way the table's structure differs from what render_table_script
  // makes: a set or chain missing, added or of another type/hook/priority, a
  // rule changed/added/removed, an element we cannot represent. Empty when the
  // structure is exactly ours (the elements may still differ).
  std::vector<std::string> differences;

  bool structure_is_ours() const { return present && differences.empty(); }
};

// Parses the JSON that libnftables prints for `list table inet kube-hostgw`.
// nullopt (with `error`) when the text is not such a listing at all.
std::optional<MasqueradeTableState> parse_table_listing(std::string_view json, std::string* error = nullptr);

// What to do to get from `current` to `desired` (nullopt: no masquerade, our
// table must go).
enum class MasqueradeAction {
  none,             // already as desired
  replace_table,    // missing or not ours in structure: render_table_script
  update_elements,  // structure ours, elements differ: render_update_script
  delete_table,     // masquerade off and our table present: render_delete_script
};
std::string_view to_string(MasqueradeAction action);

struct MasqueradePlan {
  MasqueradeAction action = MasqueradeAction::none;
  MasqueradeUpdate update;  // for update_elements
  std::string reason;       // for the log: "table inet kube-hostgw missing", "rule 1 of chain postrouting changed", ...
};
MasqueradePlan plan_masquerade(const MasqueradeTableState& current, const std::optional<MasqueradeSets>& desired);

}  // namespace hostgw::netfilter
