#pragma once

// PodCidrIndex: every node's parsed podCIDRs, to answer "does this podCIDR
// overlap another node's?" in O(prefix length · log n) instead of a scan of
// every node. The Reconciler keeps it in step with the cluster view; a
// single-node update asks it for the one rule that needs every node.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/cluster_view.hpp"
#include "routing/ip.hpp"

namespace hostgw::controller {

class PodCidrIndex {
 public:
  // Replaces the node's entries by its current podCIDRs (texts that do not
  // parse are left out: such a node is skipped anyway).
  void set(const k8s::NodeName& node, const std::vector<std::string>& pod_cidrs);
  void erase(std::string_view node);
  void rebuild(const ClusterView& view);

  // True if `cidr` overlaps (contains, equals or lies inside) a podCIDR of a
  // node other than `node`.
  bool overlaps_other(const routing::IpPrefix& cidr, std::string_view node) const;

 private:
  // node -> its parsed podCIDRs (the name shared with the view).
  std::map<k8s::NodeName, std::vector<routing::IpPrefix>, std::less<>> by_node_;
  // podCIDR -> the nodes that have it (one, but for an overlap), each a
  // pointer to its key in by_node_ (map keys never move; an entry here goes
  // before its node's entry in by_node_ does). One allocation per podCIDR
  // where a set of names per prefix took three (~110 bytes a node less).
  std::multimap<routing::IpPrefix, const k8s::NodeName*> by_prefix_;
};

}  // namespace hostgw::controller
