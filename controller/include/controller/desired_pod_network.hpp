#pragma once

// The pod network's desired state besides the routes to other nodes, as pure
// functions over plain values (no ClusterView, no I/O): the masquerade sets
// and this node's own-podCIDR unreachable routes. The CNI conflist's is
// render_cni_conflist() in cni_config.hpp.

#include <cstdint>
#include <vector>

#include "netfilter/masquerade_rules.hpp"
#include "routing/ip.hpp"
#include "routing/route.hpp"

namespace hostgw::controller {

// Metric of the unreachable route for this node's own podCIDR: 0xFF002000.
// It must lose to the bridge's connected route for the same prefix (IPv4
// metric 0, IPv6 256) and to anything a person or another agent installs for
// it (iproute2's default 0 / 1024, DHCP and NetworkManager's 100-20000+,
// systemd-networkd's 1024), while staying below 0xFFFFFFFF so it remains an
// ordinary, dumpable value. Distinct from our routes to other nodes, which
// never carry our own podCIDR.
inline constexpr std::uint32_t kOwnPodCidrMetric = 4278198272u;

// The masquerade sets for a cluster:
//   pod set: `cluster_cidrs` (--cluster-cidr) when given, else every node's
//            podCIDRs (`all_node_pod_cidrs`, this node's included);
//   node addresses: every node's addresses (`all_node_addresses`);
//   no-masquerade: `no_masquerade_cidrs` (--no-masquerade-cidr).
// In canonical form (make_masquerade_sets).
netfilter::MasqueradeSets desired_masquerade_sets(const std::vector<routing::IpPrefix>& cluster_cidrs,
                                                  const std::vector<routing::IpPrefix>& all_node_pod_cidrs,
                                                  const std::vector<routing::IpAddress>& all_node_addresses,
                                                  const std::vector<routing::IpPrefix>& no_masquerade_cidrs);

// `unreachable <podCIDR> proto <protocol> metric <metric>` in `table` for each
// of this node's podCIDRs, sorted, without duplicates.
std::vector<routing::Route> desired_own_pod_cidr_routes(const std::vector<routing::IpPrefix>& own_pod_cidrs,
                                                        std::uint8_t protocol,
                                                        std::uint32_t table = routing::kMainTable,
                                                        std::uint32_t metric = kOwnPodCidrMetric);

}  // namespace hostgw::controller
