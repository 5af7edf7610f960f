#include "controller/cluster_view.hpp"

#include <algorithm>
#include <string_view>

#include "controller/node_relevance.hpp"

namespace hostgw::controller {

bool ClusterView::upsert(const k8s::NodeInfo& node) {
  auto [it, inserted] = nodes_.try_emplace(node.name, node);
  if (inserted) return true;
  bool relevant = routing_relevant_change(it->second, node);
  it->second = node;
  return relevant;
}

bool ClusterView::apply(const k8s::NodeEvent& event) {
  using Type = k8s::NodeEvent::Type;
  switch (event.type) {
    case Type::added:
    case Type::modified:
      return upsert(event.node);
    case Type::deleted:
      return nodes_.erase(event.node.name) > 0;
    case Type::resynced: {
      bool relevant = !has_full_list_;
      has_full_list_ = true;
      // The listed names as views into the event (a set of copies would be
      // ~80 bytes a node more at the moment the process holds the most).
      std::vector<std::string_view> listed;
      listed.reserve(event.nodes.size());
      for (const auto& node : event.nodes) {
        listed.push_back(node.name);
        if (upsert(node)) relevant = true;
      }
      std::sort(listed.begin(), listed.end());
      for (auto it = nodes_.begin(); it != nodes_.end();) {
        if (!std::binary_search(listed.begin(), listed.end(), std::string_view(it->first))) {
          it = nodes_.erase(it);
          relevant = true;
        } else {
          ++it;
        }
      }
      return relevant;
    }
  }
  return false;
}

const k8s::NodeInfo* ClusterView::find(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<const k8s::NodeInfo*> ClusterView::nodes() const {
  std::vector<const k8s::NodeInfo*> out;
  out.reserve(nodes_.size());
  for (const auto& [name, node] : nodes_) out.push_back(&node);
  return out;
}

}  // namespace hostgw::controller
