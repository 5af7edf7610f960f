#include "netfilter/fake_masquerade_table.hpp"

#include <algorithm>

namespace hostgw::netfilter {

using routing::IpAddress;
using routing::IpPrefix;

namespace {

// Element texts back to values: what nft itself does with them.
IpPrefix prefix_of(const std::string& text) {
  if (text.find('/') != std::string::npos) return IpPrefix::parse(text);
  IpAddress address = IpAddress::parse(text);
  return IpPrefix(address, address.bit_width());
}

bool is_prefix_set(std::string_view set) {
  return set == kPodCidrsV4 || set == kPodCidrsV6 || set == kNoMasqueradeV4 || set == kNoMasqueradeV6;
}

template <typename T>
void erase_family(std::vector<T>& values, routing::Family family) {
  std::erase_if(values, [&](const T& value) { return value.family() == family; });
}

}  // namespace

NftReadResult FakeMasqueradeTable::read_current() {
  ++reads;
  if (!fail_with.empty()) return {{false, fail_with, {}}, {}};
  return {{}, state};
}

NftResult FakeMasqueradeTable::replace_table(const MasqueradeSets& sets) {
  ++replaces;
  if (!fail_with.empty()) return {false, fail_with, {}};
  state = MasqueradeTableState{true, sets, {}};
  return {};
}

NftResult FakeMasqueradeTable::update_elements(const MasqueradeUpdate& update) {
  ++element_updates;
  if (!fail_with.empty()) return {false, fail_with, {}};
  if (!state.present) return {false, "Error: No such file or directory; did you mean table 'kube-hostgw'?", {}};
  MasqueradeSets sets = state.sets;
  for (const SetChange& change : update.sets) {
    elements_changed += change.add.size() + change.remove.size();
    const auto family = change.set.ends_with("v4") ? routing::Family::v4 : routing::Family::v6;
    if (is_prefix_set(change.set)) {
      auto& prefixes = (change.set == kPodCidrsV4 || change.set == kPodCidrsV6) ? sets.pod_cidrs : sets.no_masquerade;
      if (change.replace_all) erase_family(prefixes, family);
      for (const auto& text : change.remove) {
        auto at = std::find(prefixes.begin(), prefixes.end(), prefix_of(text));
        if (at == prefixes.end()) return {false, "Error: Could not process rule: No such file or directory", {}};
        prefixes.erase(at);
      }
      for (const auto& text : change.add) prefixes.push_back(prefix_of(text));
    } else {
      for (const auto& text : change.remove) {
        auto at = std::find(sets.node_addresses.begin(), sets.node_addresses.end(), IpAddress::parse(text));
        if (at == sets.node_addresses.end())
          return {false, "Error: Could not process rule: No such file or directory", {}};
        sets.node_addresses.erase(at);
      }
      for (const auto& text : change.add) sets.node_addresses.push_back(IpAddress::parse(text));
    }
  }
  // One transaction: all of it or nothing (the early returns above change nothing).
  state.sets = make_masquerade_sets(sets.pod_cidrs, sets.node_addresses, sets.no_masquerade);
  return {};
}

NftResult FakeMasqueradeTable::delete_table() {
  ++deletes;
  if (!fail_with.empty()) return {false, fail_with, {}};
  state = MasqueradeTableState{};
  return {};
}

}  // namespace hostgw::netfilter
