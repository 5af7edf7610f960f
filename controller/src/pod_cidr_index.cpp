#include "controller/pod_cidr_index.hpp"

#include <iterator>

namespace hostgw::controller {

using routing::IpPrefix;

void PodCidrIndex::set(const k8s::NodeName& node, const std::vector<std::string>& pod_cidrs) {
  erase(node);
  std::vector<IpPrefix> parsed;
  for (const auto& text : pod_cidrs) {
    if (auto cidr = IpPrefix::try_parse(text)) parsed.push_back(*cidr);
  }
  if (parsed.empty()) return;
  auto entry = by_node_.emplace(node, std::move(parsed)).first;
  for (const auto& cidr : entry->second) by_prefix_.emplace(cidr, &entry->first);
}

void PodCidrIndex::erase(std::string_view node) {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return;
  for (const auto& cidr : it->second) {
    auto [first, last] = by_prefix_.equal_range(cidr);
    for (auto entry = first; entry != last;) {
      entry = entry->second == &it->first ? by_prefix_.erase(entry) : std::next(entry);
    }
  }
  by_node_.erase(it);
}

void PodCidrIndex::rebuild(const ClusterView& view) {
  by_prefix_.clear();
  by_node_.clear();
  for (const auto* node : view.nodes()) set(node->name, node->pod_cidrs);
}

bool PodCidrIndex::overlaps_other(const IpPrefix& cidr, std::string_view node) const {
  // Prefixes containing it (shorter or equal length): one lookup per length.
  for (unsigned length = 0; length <= cidr.length(); ++length) {
    auto [first, last] = by_prefix_.equal_range(IpPrefix::containing(cidr.address(), length));
    for (auto it = first; it != last; ++it)
      if (*it->second != node) return true;
  }
  // Prefixes inside it: ordered by (address, length), they follow it.
  for (auto it = by_prefix_.upper_bound(cidr); it != by_prefix_.end() && cidr.contains(it->first.address()); ++it) {
    if (*it->second != node) return true;
  }
  return false;
}

}  // namespace hostgw::controller
