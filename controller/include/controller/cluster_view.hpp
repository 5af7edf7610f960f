#pragma once

// ClusterView: the controller's copy of the node set (name -> NodeInfo), fed
// by NodeWatcher events. It decides whether an event can change a route, so
// that kubelet heartbeats cost nothing.

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "k8s-client/node_info.hpp"

namespace hostgw::controller {

class ClusterView {
 public:
  // Applies the event. Returns true if the node set changed in a way that can
  // change a route (a node added or deleted, a routing-relevant field
  // changed); false for heartbeats and repeated events.
  bool apply(const k8s::NodeEvent& event);

  // True once a `resynced` event (a complete list) arrived. Before that the
  // view is partial and must never cause a deletion.
  bool has_full_list() const { return has_full_list_; }

  const k8s::NodeInfo* find(const std::string& name) const;
  std::size_t size() const { return nodes_.size(); }
  // Pointers into the view, valid until the next apply().
  std::vector<const k8s::NodeInfo*> nodes() const;

 private:
  bool upsert(const k8s::NodeInfo& node);

  // Ordered by name, looked up by name: the name is kept once (a map would
  // keep a second copy as its key).
  struct ByName {
    using is_transparent = void;
    bool operator()(const k8s::NodeInfo& a, const k8s::NodeInfo& b) const { return a.name < b.name; }
    bool operator()(const k8s::NodeInfo& a, const std::string& b) const { return a.name < b; }
    bool operator()(const std::string& a, const k8s::NodeInfo& b) const { return a < b.name; }
  };
  std::set<k8s::NodeInfo, ByName> nodes_;
  bool has_full_list_ = false;
};

}  // namespace hostgw::controller
