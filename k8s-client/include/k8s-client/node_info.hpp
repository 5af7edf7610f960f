#pragma once

// NodeInfo: the few fields of a Kubernetes Node object that kube-hostgw needs,
// copied out of the JSON. Whole Node objects are never kept.
//
// Values stay as the API server sent them (strings): validating a podCIDR or
// an address is the controller's decision, so that a bad node can be skipped
// with a precise reason instead of disappearing inside the client.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "k8s-client/node_name.hpp"

namespace hostgw::k8s {

struct NodeInfo {
  NodeName name;  // shared by every copy (node_name.hpp)
  std::string resource_version;
  // spec.podCIDRs, else [spec.podCIDR], else empty.
  std::vector<std::string> pod_cidrs;
  // status.addresses of type InternalIP / ExternalIP, in the order given.
  std::vector<std::string> internal_ips;
  std::vector<std::string> external_ips;
  // metadata.deletionTimestamp is set.
  bool deleting = false;
  // metadata.annotations whose key was asked for (NodeJsonLimits::annotation_keys),
  // as (key, value) in the order the object has them (one per key); nothing
  // else is kept. Last, so that brace-initialised NodeInfos keep their meaning.
  std::vector<std::pair<std::string, std::string>> annotations;

  friend bool operator==(const NodeInfo&, const NodeInfo&) = default;
};

// What the NodeWatcher tells its consumer.
struct NodeEvent {
  enum class Type {
    added,
    modified,
    deleted,
    // A (re)list completed: `nodes` is the complete node set; every node not in
    // it is gone. Sent after the first list and after every relist.
    resynced,
  };
  Type type = Type::added;
  NodeInfo node;               // for added / modified / deleted
  std::vector<NodeInfo> nodes; // for resynced
  // Watch events: when the stream's piece that completed this event arrived
  // (read and un-gzipped, before framing and parsing); the controller
  // measures from here to the kernel's acknowledgement. Unset for lists.
  std::chrono::steady_clock::time_point received{};
};

}  // namespace hostgw::k8s
