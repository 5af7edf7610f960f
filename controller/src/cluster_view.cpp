#include "controller/cluster_view.hpp"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "controller/node_relevance.hpp"

namespace hostgw::controller {

bool ClusterView::upsert(const k8s::NodeInfo& node) {
  auto it = nodes_.lower_bound(node.name);
  if (it == nodes_.end() || it->name != node.name) {
    nodes_.insert(it, node);
    return true;
  }
  bool relevant = routing_relevant_change(*it, node);
  // Elements of a set are const: take the entry out (no allocation), change it, put it back.
  auto next = std::next(it);
  auto entry = nodes_.extract(it);
  // The name already held stays: the desired model and the targets share it
  // (k8s::NodeName), where the event's equal copy would be one more.
  k8s::NodeName name = std::move(entry.value().name);
  entry.value() = node;
  entry.value().name = std::move(name);
  nodes_.insert(next, std::move(entry));
  return relevant;
}

bool ClusterView::apply(const k8s::NodeEvent& event) {
  using Type = k8s::NodeEvent::Type;
  switch (event.type) {
    case Type::added:
    case Type::modified:
      return upsert(event.node);
    case Type::deleted:
      if (auto it = nodes_.find(event.node.name); it != nodes_.end()) {
        nodes_.erase(it);
        return true;
      }
      return false;
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
        if (!std::binary_search(listed.begin(), listed.end(), std::string_view(it->name))) {
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
  return it == nodes_.end() ? nullptr : &*it;
}

std::vector<const k8s::NodeInfo*> ClusterView::nodes() const {
  std::vector<const k8s::NodeInfo*> out;
  out.reserve(nodes_.size());
  for (const auto& node : nodes_) out.push_back(&node);
  return out;
}

}  // namespace hostgw::controller
