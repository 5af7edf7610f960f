#pragma once

// subnet.env: the file flannel's CNI plugin reads (FLANNEL_NETWORK,
// FLANNEL_SUBNET, ...), rendered from this node's podCIDRs, and an atomic
// write that touches the file only when its content changes.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "k8s-client/node_info.hpp"
#include "routing/ip.hpp"
#include "routing/route_table.hpp"

namespace hostgw::controller {

struct SubnetEnv {
  std::vector<routing::IpPrefix> cluster_cidrs;  // the first of each family becomes *_NETWORK
  std::vector<routing::IpPrefix> pod_cidrs;      // this node's; the first of each family becomes *_SUBNET
  std::uint32_t mtu = 1500;
  bool ipmasq = false;
};

// The file's text, e.g.
//   FLANNEL_NETWORK=10.244.0.0/16
//   FLANNEL_SUBNET=10.244.1.1/24
//   FLANNEL_MTU=1500
//   FLANNEL_IPMASQ=false
// plus FLANNEL_IPV6_NETWORK / FLANNEL_IPV6_SUBNET for an IPv6 podCIDR.
// *_SUBNET is the first address of the podCIDR with its length. nullopt (with
// `error` set) when the node has no podCIDR.
std::optional<std::string> render_subnet_env(const SubnetEnv& env, std::string* error = nullptr);

// This node's podCIDRs that parse, in order.
std::vector<routing::IpPrefix> parse_pod_cidrs(const k8s::NodeInfo& node);

// The MTU of the link that carries this node's InternalIP (else of the first
// connected network with an MTU; else 1500).
std::uint32_t node_link_mtu(const k8s::NodeInfo* node, const std::vector<routing::ConnectedNetwork>& connected);

struct WriteResult {
  bool changed = false;   // the file was (re)written
  std::error_code error;  // set on failure; the old file is untouched
  std::string message;    // what failed, naming the path
};

// Writes `content` to `path` unless it already holds exactly that: into a
// temporary file in the same folder (created if missing), fsync, rename over
// `path`. Readers see the old or the new file, never a partial one.
WriteResult write_file_if_changed(const std::filesystem::path& path, std::string_view content);

}  // namespace hostgw::controller
