#include "controller/pod_cidr_index.hpp"

namespace hostgw::controller {

using routing::IpPrefix;

void PodCidrIndex::set(const std::string& node, const std::vector<std::string>& pod_cidrs) {
  erase(node);
  std::vector<IpPrefix> parsed;
  for (const auto& text : pod_cidrs) {
    if (auto cidr = IpPrefix::try_parse(text)) parsed.push_back(*cidr);
  }
  if (parsed.empty()) return;
  for (const auto& cidr : parsed) by_prefix_[cidr].insert(node);
  by_node_.emplace(node, std::move(parsed));
}

void PodCidrIndex::erase(const std::string& node) {
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return;
  for (const auto& cidr : it->second) {
    auto entry = by_prefix_.find(cidr);
    if (entry == by_prefix_.end()) continue;
    entry->second.erase(node);
    if (entry->second.empty()) by_prefix_.erase(entry);
  }
  by_node_.erase(it);
}

void PodCidrIndex::rebuild(const ClusterView& view) {
  by_prefix_.clear();
  by_node_.clear();
  for (const auto* node : view.nodes()) set(node->name, node->pod_cidrs);
}

bool PodCidrIndex::overlaps_other(const IpPrefix& cidr, const std::string& node) const {
  auto other_than_node = [&](const std::set<std::string>& nodes) {
    return nodes.size() > 1 || (nodes.size() == 1 && !nodes.contains(node));
  };
  // Prefixes containing it (shorter or equal length): one lookup per length.
  for (unsigned length = 0; length <= cidr.length(); ++length) {
    auto it = by_prefix_.find(IpPrefix::containing(cidr.address(), length));
    if (it != by_prefix_.end() && other_than_node(it->second)) return true;
  }
  // Prefixes inside it: ordered by (address, length), they follow it.
  for (auto it = by_prefix_.upper_bound(cidr); it != by_prefix_.end() && cidr.contains(it->first.address()); ++it) {
    if (other_than_node(it->second)) return true;
  }
  return false;
}

}  // namespace hostgw::controller
