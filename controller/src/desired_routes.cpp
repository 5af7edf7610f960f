#include "controller/desired_routes.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <variant>

namespace hostgw::controller {

using routing::ConnectedNetwork;
using routing::Family;
using routing::IpAddress;
using routing::IpPrefix;
using routing::Route;

std::string_view to_string(SkipReason reason) {
  switch (reason) {
    case SkipReason::self:
      return "self";
    case SkipReason::no_pod_cidr:
      return "no_pod_cidr";
    case SkipReason::invalid_pod_cidr:
      return "invalid_pod_cidr";
    case SkipReason::default_route:
      return "default_route";
    case SkipReason::overlaps_own_pod_cidr:
      return "overlaps_own_pod_cidr";
    case SkipReason::overlaps_connected_network:
      return "overlaps_connected_network";
    case SkipReason::overlaps_other_node:
      return "overlaps_other_node";
    case SkipReason::outside_cluster_cidr:
      return "outside_cluster_cidr";
    case SkipReason::no_address:
      return "no_address";
    case SkipReason::invalid_address:
      return "invalid_address";
    case SkipReason::own_address:
      return "own_address";
    case SkipReason::unreachable_address:
      return "unreachable_address";
  }
  return "unknown";
}

std::string_view to_string(CrossSubnet mode) {
  return mode == CrossSubnet::vxlan ? "vxlan" : "skip";
}

routing::RouteAdoption route_adoption(const DesiredRoutesOptions& options) {
  return {.protocols = options.adopt_protocols, .table = options.table, .within = options.cluster_cidrs};
}

namespace {

constexpr Family kFamilies[] = {Family::v4, Family::v6};

// The family a text most likely meant, for texts that do not parse.
Family guess_family(std::string_view text) {
  return text.find(':') != std::string_view::npos ? Family::v6 : Family::v4;
}

struct Problem {
  SkipReason reason;
  std::string detail;
};

// A node's address texts, parsed once per pass (both families and the
// overlap check read them).
struct ParsedAddress {
  const std::string* text = nullptr;
  const std::string* key = nullptr;  // an annotation's value: its key
  std::optional<IpAddress> address;
  std::string error;  // when it does not parse
};
struct ParsedAddresses {
  std::vector<ParsedAddress> internal;
  std::vector<ParsedAddress> external;
  std::vector<ParsedAddress> annotated;  // --address-annotation values, in the flag's order
};

std::vector<ParsedAddress> parse_addresses(const std::vector<std::string>& texts) {
  std::vector<ParsedAddress> out;
  out.reserve(texts.size());
  for (const auto& text : texts) {
    ParsedAddress parsed;
    parsed.text = &text;
    parsed.address = IpAddress::try_parse(text, &parsed.error);
    out.push_back(std::move(parsed));
  }
  return out;
}

// Calls fn(key, value) for each of the node's --address-annotation values, in the flag's order.
template <typename Fn>
void for_each_annotated(const k8s::NodeInfo& node, const std::vector<std::string>& keys, Fn&& fn) {
  for (const auto& key : keys)
    for (const auto& [name, value] : node.annotations)
      if (name == key) fn(name, value);
}

// The node's addresses: its lists, and the values of the --address-annotation
// keys it has (in the order of the keys).
ParsedAddresses parse_node_addresses(const k8s::NodeInfo& node, const std::vector<std::string>& annotation_keys) {
  ParsedAddresses out{parse_addresses(node.internal_ips), parse_addresses(node.external_ips), {}};
  for_each_annotated(node, annotation_keys, [&](const std::string& key, const std::string& value) {
    ParsedAddress parsed;
    parsed.text = &value;
    parsed.key = &key;
    parsed.address = IpAddress::try_parse(value, &parsed.error);
    out.annotated.push_back(std::move(parsed));
  });
  return out;
}

// One (node, family) to route.
struct Candidate {
  const k8s::NodeInfo* node = nullptr;
  const ParsedAddresses* addresses = nullptr;
  Family family = Family::v4;
  std::vector<IpPrefix> cidrs;
  std::optional<Problem> problem;
};

// The most specific connected network of the address's family containing it.
const ConnectedNetwork* network_reaching(const std::vector<ConnectedNetwork>& connected, const IpAddress& address) {
  const ConnectedNetwork* best = nullptr;
  for (const auto& network : connected) {
    if (!network.prefix.contains(address)) continue;
    if (!best || network.prefix.length() > best->prefix.length()) best = &network;
  }
  return best;
}

std::optional<std::string> bad_address_kind(const IpAddress& address) {
  if (address.is_unspecified()) return "unspecified";
  if (address.is_loopback()) return "loopback";
  if (address.is_multicast()) return "multicast";
  if (address.is_link_local()) return "link-local";
  return std::nullopt;
}

struct AddressChoice {
  IpAddress address;
  // nullptr: not on a connected network, reached through the overlay.
  const ConnectedNetwork* network = nullptr;
};

// What choose_address() may do with an address that is not on a connected
// network: nullopt = route it through the overlay; otherwise the sentence
// ending the unreachable_address detail.
using OverlayVerdict = std::optional<std::string>;

// Picks the first usable address of `family` (InternalIPs, then ExternalIPs
// when allowed) on a connected network; failing that, when `overlay` allows
// it, the first usable address anywhere (an overlay peer); on failure, the
// problem of the first address tried.
std::variant<AddressChoice, Problem> choose_address(const ParsedAddresses& node, Family family,
                                                    const std::vector<ConnectedNetwork>& connected,
                                                    const std::set<IpAddress>& own_addresses,
                                                    AddressTypes address_types, const OverlayVerdict& overlay) {
  std::optional<IpAddress> overlay_address;
  std::optional<Problem> first_problem;
  auto note = [&](SkipReason reason, std::string detail) {
    if (!first_problem) first_problem = Problem{reason, std::move(detail)};
  };
  // --address-annotation: the first valid value of the family wins over the
  // lists, wherever it leads; invalid ones only skip the node when no other
  // key has a valid one.
  for (const auto& entry : node.annotated) {
    const std::string type = "annotation " + *entry.key;
    if (!entry.address) {
      if (guess_family(*entry.text) == family)
        note(SkipReason::invalid_address, type + " value " + entry.error);
      continue;
    }
    const IpAddress& address = *entry.address;
    if (address.family() != family) continue;
    if (auto kind = bad_address_kind(address)) {
      note(SkipReason::invalid_address,
           type + " value " + address.to_string() + " is a " + *kind + " address, not a node address");
      continue;
    }
    if (own_addresses.contains(address))
      return Problem{SkipReason::own_address, type + " value " + address.to_string() +
                                                  " is an address of this host (duplicate node address or wrong "
                                                  "--node-name?)"};
    if (const ConnectedNetwork* network = network_reaching(connected, address)) return AddressChoice{address, network};
    if (!overlay) return AddressChoice{address, nullptr};
    return Problem{SkipReason::unreachable_address,
                   type + " value " + address.to_string() + " is not on a directly connected network; " + *overlay};
  }
  if (first_problem) return *first_problem;
  auto try_list = [&](const std::vector<ParsedAddress>& parsed, std::string_view type) -> std::optional<AddressChoice> {
    for (const auto& entry : parsed) {
      const auto& address = entry.address;
      if (!address) {
        if (guess_family(*entry.text) == family)
          note(SkipReason::invalid_address, std::string(type) + " " + entry.error);
        continue;
      }
      if (address->family() != family) continue;
      if (auto kind = bad_address_kind(*address)) {
        note(SkipReason::invalid_address,
             std::string(type) + " " + address->to_string() + " is a " + *kind + " address, not a node address");
        continue;
      }
      if (own_addresses.contains(*address)) {
        note(SkipReason::own_address, std::string(type) + " " + address->to_string() +
                                          " is an address of this host (duplicate node address or wrong --node-name?)");
        continue;
      }
      const ConnectedNetwork* network = network_reaching(connected, *address);
      if (!network) {
        if (!overlay) {
          if (!overlay_address) overlay_address = *address;
          continue;
        }
        note(SkipReason::unreachable_address,
             std::string(type) + " " + address->to_string() + " is not on a directly connected network; " + *overlay);
        continue;
      }
      return AddressChoice{*address, network};
    }
    return std::nullopt;
  };
  if (auto choice = try_list(node.internal, "InternalIP")) return *choice;
  if (address_types == AddressTypes::internal_then_external) {
    if (auto choice = try_list(node.external, "ExternalIP")) return *choice;
  }
  if (overlay_address) return AddressChoice{*overlay_address, nullptr};
  if (first_problem) return *first_problem;
  return Problem{SkipReason::no_address,
                 std::string("node has no ") +
                     (address_types == AddressTypes::internal_only ? "InternalIP" : "InternalIP or ExternalIP") +
                     " of family " + std::string(routing::to_string(family))};
}

std::optional<Problem> check_prefix(const IpPrefix& cidr, const std::vector<IpPrefix>& own_cidrs,
                                    const std::vector<ConnectedNetwork>& connected,
                                    const std::vector<IpPrefix>& cluster_cidrs) {
  // The text only for a problem: this runs for every podCIDR of every node.
  const auto text = [&cidr] {
    std::string text = "podCIDR ";
    text += cidr.to_string();
    return text;
  };
  if (cidr.is_default()) return Problem{SkipReason::default_route, text() + " is a default route"};
  if (!cluster_cidrs.empty()) {
    bool inside = false;
    bool family_given = false;
    for (const auto& cluster : cluster_cidrs) {
      if (cluster.family() != cidr.family()) continue;
      family_given = true;
      if (cluster.contains(cidr)) inside = true;
    }
    if (!inside) {
      if (!family_given)
        return Problem{SkipReason::outside_cluster_cidr, text() + " is " +
                                                             std::string(routing::to_string(cidr.family())) +
                                                             " but no --cluster-cidr of that family is given"};
      std::string list;
      for (const auto& cluster : cluster_cidrs)
        if (cluster.family() == cidr.family()) list += (list.empty() ? "" : ", ") + cluster.to_string();
      return Problem{SkipReason::outside_cluster_cidr, text() + " is outside --cluster-cidr " + list};
    }
  }
  for (const auto& own : own_cidrs) {
    if (own.overlaps(cidr))
      return Problem{SkipReason::overlaps_own_pod_cidr,
                     text() + " overlaps this node's podCIDR " + own.to_string()};
  }
  for (const auto& network : connected) {
    if (network.prefix.overlaps(cidr))
      return Problem{SkipReason::overlaps_connected_network,
                     text() + " overlaps connected network " + network.prefix.to_string() + " on " +
                         (network.link_name.empty() ? "link #" + std::to_string(network.oif) : network.link_name)};
  }
  return std::nullopt;
}

// The gateways of the installed routes, by destination.
using InstalledGateways = std::multimap<IpPrefix, IpAddress>;

// True if a route to `cidr` via one of the node's addresses is installed: the
// node already has this podCIDR routed (it was accepted before). An overlay
// route (via the VTEP address, the first address of the podCIDR, which no
// direct gateway can be) counts for every node claiming exactly that prefix.
bool holds(const ParsedAddresses& node, const IpPrefix& cidr, const InstalledGateways& installed) {
  auto [begin, end] = installed.equal_range(cidr);
  for (auto it = begin; it != end; ++it) {
    if (it->second == routing::vtep_address(cidr)) return true;
    for (const auto* list : {&node.internal, &node.external, &node.annotated}) {
      for (const auto& entry : *list) {
        if (entry.address && *entry.address == it->second) return true;
      }
    }
  }
  return false;
}

// One podCIDR of a candidate, for the overlap check.
struct OverlapEntry {
  IpPrefix prefix;
  std::size_t candidate;
  bool holder;  // its route is installed already
};

// Identical prefixes of the overlap check, and where they sit among the others.
struct OverlapGroup {
  std::size_t first = 0, last = 0;  // entries [first, last)
  std::size_t holders = 0;
  bool has_ancestor = false;
  std::size_t ancestor_holders = 0;
  std::optional<std::size_t> nearest_ancestor;  // group index
  std::optional<std::size_t> first_descendant;  // group index
  std::size_t descendant_holders = 0;
};

// The podCIDRs of `family`, sorted by (address, length, candidate).
std::vector<OverlapEntry> overlap_entries(const std::vector<Candidate>& candidates, Family family,
                                          const InstalledGateways& installed) {
  std::vector<OverlapEntry> entries;
  entries.reserve(candidates.size());  // one podCIDR per node and family, usually
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].family != family) continue;
    for (const auto& cidr : candidates[i].cidrs) {
      if (!cidr.is_default()) entries.push_back({cidr, i, holds(*candidates[i].addresses, cidr, installed)});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const OverlapEntry& a, const OverlapEntry& b) {
    if (a.prefix.address() != b.prefix.address()) return a.prefix.address() < b.prefix.address();
    if (a.prefix.length() != b.prefix.length()) return a.prefix.length() < b.prefix.length();
    return a.candidate < b.candidate;
  });
  return entries;
}

// Prefixes are either nested or disjoint. Identical prefixes are grouped;
// after sorting by (address, length) the groups containing a group are
// exactly the chain of enclosing groups on a stack (at most 129 deep).
std::vector<OverlapGroup> overlap_groups(const std::vector<OverlapEntry>& entries) {
  // At most one group per entry: reserved, as growing it would double a
  // 5000-node pass's ~0.5 MB (every podCIDR is a group of its own when none overlap).
  std::vector<OverlapGroup> groups;
  groups.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size();) {
    OverlapGroup group;
    group.first = group.last = i;
    while (group.last < entries.size() && entries[group.last].prefix == entries[i].prefix) {
      if (entries[group.last].holder) ++group.holders;
      ++group.last;
    }
    i = group.last;
    groups.push_back(group);
  }
  std::vector<std::size_t> stack;  // enclosing groups, outermost first
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const IpPrefix& prefix = entries[groups[g].first].prefix;
    while (!stack.empty() && !entries[groups[stack.back()].first].prefix.contains(prefix)) stack.pop_back();
    for (std::size_t a : stack) {
      groups[g].has_ancestor = true;
      groups[g].ancestor_holders += groups[a].holders;
      groups[a].descendant_holders += groups[g].holders;
      if (!groups[a].first_descendant) groups[a].first_descendant = g;
    }
    if (!stack.empty()) groups[g].nearest_ancestor = stack.back();
    stack.push_back(g);
  }
  return groups;
}

// The problem of entry `e` of `group`, if its podCIDR overlaps another node's
// and it is not the only holder of the overlap.
std::optional<Problem> overlap_problem(const std::vector<OverlapEntry>& entries,
                                       const std::vector<OverlapGroup>& groups, const OverlapGroup& group,
                                       std::size_t e, const std::vector<Candidate>& candidates) {
  const OverlapEntry& entry = entries[e];
  const std::size_t holders_elsewhere =
      group.holders - (entry.holder ? 1 : 0) + group.ancestor_holders + group.descendant_holders;
  const bool conflict = group.last - group.first > 1 || group.has_ancestor || group.first_descendant;
  if (!conflict || (entry.holder && holders_elsewhere == 0)) return std::nullopt;
  // Name one other node of the overlap, preferring a holder.
  const OverlapEntry* other = nullptr;
  for (std::size_t k = group.first; k < group.last; ++k)
    if (k != e && (!other || (entries[k].holder && !other->holder))) other = &entries[k];
  if (!other && group.nearest_ancestor) other = &entries[groups[*group.nearest_ancestor].first];
  if (!other && group.first_descendant) other = &entries[groups[*group.first_descendant].first];
  if (!other) return std::nullopt;
  std::string detail = "podCIDR " + entry.prefix.to_string() + " overlaps podCIDR " + other->prefix.to_string() +
                       " of node " + candidates[other->candidate].node->name;
  if (holders_elsewhere > 0) detail += ", which is routed already";
  return Problem{SkipReason::overlaps_other_node, std::move(detail)};
}

// Marks the candidates whose podCIDR overlaps another node's podCIDR. A node
// whose route is already installed (the holder) keeps it against newcomers;
// otherwise every node of an overlap is skipped.
void mark_overlapping_nodes(std::vector<Candidate>& candidates, const std::vector<Route>& installed_routes) {
  InstalledGateways installed;
  for (const auto& route : installed_routes)
    if (route.gateway) installed.emplace(route.destination, *route.gateway);
  for (Family family : kFamilies) {
    const std::vector<OverlapEntry> entries = overlap_entries(candidates, family, installed);
    if (entries.size() < 2) continue;
    const std::vector<OverlapGroup> groups = overlap_groups(entries);
    std::map<std::size_t, Problem> found;
    for (const auto& group : groups) {
      for (std::size_t e = group.first; e < group.last; ++e) {
        if (auto problem = overlap_problem(entries, groups, group, e, candidates))
          found.try_emplace(entries[e].candidate, std::move(*problem));
      }
    }
    for (auto& [index, problem] : found) {
      if (!candidates[index].problem) candidates[index].problem = std::move(problem);
    }
  }
}

// The candidates of one node (one per family with podCIDRs), each checked on
// its own; a whole-node skip (this node, no podCIDR) goes to `skipped`.
void node_candidates(const k8s::NodeInfo& node, const ParsedAddresses& addresses, const LocalFacts& facts,
                     const DesiredRoutesOptions& options, std::vector<Candidate>& out,
                     std::vector<SkippedNode>& skipped) {
  if (node.name == facts.self) {
    skipped.push_back({node.name, std::nullopt, SkipReason::self, "this is the node kube-hostgw runs on"});
    return;
  }
  if (node.pod_cidrs.empty()) {
    skipped.push_back(
        {node.name, std::nullopt, SkipReason::no_pod_cidr, "node has no spec.podCIDRs (not allocated yet?)"});
    return;
  }
  std::vector<std::optional<IpPrefix>> cidrs;
  std::vector<std::string> errors(node.pod_cidrs.size());
  cidrs.reserve(node.pod_cidrs.size());
  for (std::size_t c = 0; c < node.pod_cidrs.size(); ++c)
    cidrs.push_back(IpPrefix::try_parse(node.pod_cidrs[c], &errors[c]));
  for (Family family : kFamilies) {
    Candidate candidate{&node, &addresses, family, {}, std::nullopt};
    bool any = false;
    for (std::size_t c = 0; c < cidrs.size(); ++c) {
      const auto& cidr = cidrs[c];
      if (!cidr) {
        if (guess_family(node.pod_cidrs[c]) != family) continue;
        any = true;
        if (!candidate.problem) candidate.problem = Problem{SkipReason::invalid_pod_cidr, "podCIDR " + errors[c]};
        continue;
      }
      if (cidr->family() != family) continue;
      any = true;
      if (std::find(candidate.cidrs.begin(), candidate.cidrs.end(), *cidr) == candidate.cidrs.end())
        candidate.cidrs.push_back(*cidr);
    }
    if (!any) continue;
    for (const auto& cidr : candidate.cidrs) {
      if (candidate.problem) break;
      candidate.problem = check_prefix(cidr, facts.own_cidrs, facts.connected, options.cluster_cidrs);
    }
    out.push_back(std::move(candidate));
  }
}

OverlayVerdict overlay_verdict(Family family, const LocalFacts& facts, const DesiredRoutesOptions& options) {
  if (options.cross_subnet == CrossSubnet::skip)
    return std::string("host-gw needs the nodes on one layer-2 network (--cross-subnet=skip)");
  if (!facts.overlay_self) return "no VXLAN route either: " + facts.no_overlay_reason;
  if (family == Family::v6 && !facts.overlay_self->pod_cidr6)
    return "no VXLAN route either: " + facts.no_overlay6_reason;
  return std::nullopt;
}

// The IPv4 address that carries a peer's IPv6 pods through the overlay: the
// one its IPv4 podCIDRs use (on a connected network, else the first usable).
std::optional<IpAddress> ipv4_underlay(const Candidate& candidate, const LocalFacts& facts,
                                       const DesiredRoutesOptions& options) {
  auto chosen = choose_address(*candidate.addresses, Family::v4, facts.connected, facts.own_addresses,
                               options.address_types, std::nullopt);
  if (const auto* choice = std::get_if<AddressChoice>(&chosen)) return choice->address;
  return std::nullopt;
}

Route make_route(const IpPrefix& cidr, const IpAddress& gateway, const DesiredRoutesOptions& options) {
  Route route;
  route.destination = cidr;
  route.gateway = gateway;
  route.table = options.table;
  route.protocol = options.protocol;
  return route;
}

// The last per-node rules for one candidate (its address), into `out`: its
// routes (direct, or through the overlay) or why it is skipped.
void route_candidate(Candidate& candidate, const LocalFacts& facts, const DesiredRoutesOptions& options,
                     DesiredRoutes& out) {
  std::optional<AddressChoice> choice;
  if (!candidate.problem) {
    auto chosen = choose_address(*candidate.addresses, candidate.family, facts.connected, facts.own_addresses,
                                 options.address_types, overlay_verdict(candidate.family, facts, options));
    if (auto* problem = std::get_if<Problem>(&chosen)) {
      candidate.problem = std::move(*problem);
    } else {
      choice = std::get<AddressChoice>(chosen);
    }
  }
  const k8s::NodeName& name = candidate.node->name;
  if (candidate.problem) {
    out.skipped.push_back({name, candidate.family, candidate.problem->reason, std::move(candidate.problem->detail)});
    return;
  }
  const std::uint32_t metric = candidate.family == Family::v6 ? kIpv6DefaultMetric : 0;
  if (!choice->network) {
    // An overlay peer: every podCIDR via the VTEP address of its first one,
    // carried by its IPv4 address (IPv6 pods too: the inner frame does not care).
    std::optional<IpAddress> underlay = choice->address;
    if (candidate.family == Family::v6) underlay = ipv4_underlay(candidate, facts, options);
    if (!underlay) {
      out.skipped.push_back({name, candidate.family, SkipReason::unreachable_address,
                             "address " + choice->address.to_string() +
                                 " is not on a directly connected network, and the node has no usable IPv4 "
                                 "address to carry IPv6 through hostgw.vxlan (IPv6 underlays are not supported)"});
      return;
    }
    const IpAddress vtep = routing::vtep_address(candidate.cidrs.front());
    out.overlay_peers.push_back({name, *underlay, vtep});
    for (const auto& cidr : candidate.cidrs) {
      Route route = make_route(cidr, vtep, options);
      route.onlink = true;
      route.metric = metric;
      out.routes.push_back({std::move(route), name, RoutePath::overlay});
    }
    return;
  }
  for (const auto& cidr : candidate.cidrs) {
    Route route = make_route(cidr, choice->address, options);
    route.oif = choice->network->oif;
    route.metric = metric;
    out.routes.push_back({std::move(route), name, RoutePath::direct});
  }
}

void sort_result(DesiredRoutes& result) {
  std::sort(result.routes.begin(), result.routes.end(),
            [](const NodeRoute& a, const NodeRoute& b) { return key_of(a.route) < key_of(b.route); });
  std::stable_sort(result.skipped.begin(), result.skipped.end(), [](const SkippedNode& a, const SkippedNode& b) {
    if (a.node != b.node) return a.node < b.node;
    return a.family < b.family;
  });
}

// This node's underlay for the overlay: its first IPv4 address, in the order
// its peers try them, on a connected network.
std::optional<AddressChoice> overlay_underlay(const k8s::NodeInfo& own, const std::vector<ConnectedNetwork>& connected,
                                              const DesiredRoutesOptions& options) {
  for (const std::string* text : address_texts(own, options)) {
    auto address = IpAddress::try_parse(*text);
    if (!address || !address->is_v4()) continue;
    if (const ConnectedNetwork* network = network_reaching(connected, *address)) return AddressChoice{*address, network};
  }
  return std::nullopt;
}

// Whether a node has an address of `family` its peers can route by (parsed,
// not loopback etc.).
bool has_usable_address(const k8s::NodeInfo& node, Family family, const DesiredRoutesOptions& options) {
  for (const std::string* text : address_texts(node, options)) {
    auto address = IpAddress::try_parse(*text);
    if (address && address->family() == family && !bad_address_kind(*address)) return true;
  }
  return false;
}

void find_overlay_self(const k8s::NodeInfo* own, const DesiredRoutesOptions& options, LocalFacts& facts) {
  if (options.cross_subnet != CrossSubnet::vxlan) return;
  std::optional<IpPrefix> own_v4;
  std::optional<IpPrefix> own_v6;
  for (const auto& cidr : facts.own_cidrs) {
    if (cidr.family() == Family::v4 && !own_v4) own_v4 = cidr;
    if (cidr.family() == Family::v6 && !own_v6) own_v6 = cidr;
  }
  std::optional<AddressChoice> underlay;
  if (own) underlay = overlay_underlay(*own, facts.connected, options);
  if (!own) {
    facts.no_overlay_reason = "this node is not in the node list (check --node-name)";
  } else if (!own_v4) {
    facts.no_overlay_reason = "this node has no IPv4 podCIDR for its VXLAN address";
  } else if (!underlay) {
    facts.no_overlay_reason =
        "this node has no IPv4 InternalIP on a connected network for the VXLAN device (its underlay is IPv4 only)";
  } else {
    facts.overlay_self = OverlaySelf{underlay->address, underlay->network->oif, underlay->network->mtu, *own_v4, {}};
    if (!own_v6) {
      facts.no_overlay6_reason = "this node has no IPv6 podCIDR for its IPv6 VTEP address";
    } else if (!has_usable_address(*own, Family::v6, options)) {
      facts.no_overlay6_reason =
          "this node has no IPv6 InternalIP, so its peers do not route IPv6 to it (both ends must agree)";
    } else {
      facts.overlay_self->pod_cidr6 = own_v6;
    }
  }
}

}  // namespace

std::vector<const std::string*> address_texts(const k8s::NodeInfo& node, const DesiredRoutesOptions& options) {
  std::vector<const std::string*> texts;
  for_each_annotated(node, options.address_annotations,
                     [&](const std::string&, const std::string& value) { texts.push_back(&value); });
  for (const auto& text : node.internal_ips) texts.push_back(&text);
  if (options.address_types == AddressTypes::internal_then_external)
    for (const auto& text : node.external_ips) texts.push_back(&text);
  return texts;
}

LocalFacts local_facts(std::string_view self, const k8s::NodeInfo* self_node, std::vector<ConnectedNetwork> connected,
                       const DesiredRoutesOptions& options) {
  LocalFacts facts;
  facts.self = self_node != nullptr ? self_node->name : k8s::NodeName(self);
  facts.connected = std::move(connected);
  for (const auto& network : facts.connected) facts.own_addresses.insert(network.local_address);
  if (self_node) {
    for (const auto& text : self_node->pod_cidrs) {
      if (auto cidr = IpPrefix::try_parse(text); cidr && !cidr->is_default()) facts.own_cidrs.push_back(*cidr);
    }
    for (const auto* list : {&self_node->internal_ips, &self_node->external_ips}) {
      for (const auto& text : *list) {
        if (auto address = IpAddress::try_parse(text)) facts.own_addresses.insert(*address);
      }
    }
    for_each_annotated(*self_node, options.address_annotations, [&](const std::string&, const std::string& value) {
      if (auto address = IpAddress::try_parse(value)) facts.own_addresses.insert(*address);
    });
  }
  find_overlay_self(self_node, options, facts);
  return facts;
}

NodeDesired desired_for_node(const k8s::NodeInfo& node, const LocalFacts& facts, const DesiredRoutesOptions& options) {
  const ParsedAddresses addresses = parse_node_addresses(node, options.address_annotations);
  std::vector<Candidate> candidates;
  DesiredRoutes result;
  node_candidates(node, addresses, facts, options, candidates, result.skipped);
  for (auto& candidate : candidates) route_candidate(candidate, facts, options, result);
  sort_result(result);
  NodeDesired out;
  out.routes = std::move(result.routes);
  out.skipped = std::move(result.skipped);
  out.overlay_peers = std::move(result.overlay_peers);
  return out;
}

DesiredRoutes desired_routes(const std::vector<const k8s::NodeInfo*>& nodes, const LocalFacts& facts,
                             const DesiredRoutesOptions& options, const std::vector<Route>& installed) {
  DesiredRoutes result;
  result.overlay_self = facts.overlay_self;
  std::vector<const k8s::NodeInfo*> sorted(nodes.begin(), nodes.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->name < b->name; });

  // One candidate per node and family: a single-stack cluster fills the
  // reservation without a copy (growing it doubled a 5000-node pass's ~0.5 MB).
  std::vector<Candidate> candidates;
  candidates.reserve(sorted.size());
  std::vector<ParsedAddresses> parsed_addresses;  // one per node; stable (reserved)
  parsed_addresses.reserve(sorted.size());
  for (const auto* node : sorted) {
    parsed_addresses.push_back(parse_node_addresses(*node, options.address_annotations));
    node_candidates(*node, parsed_addresses.back(), facts, options, candidates, result.skipped);
  }
  mark_overlapping_nodes(candidates, installed);
  // At most one route each, and room for the own-podCIDR routes desired_state
  // may insert (one more element would double the vector: ~0.5 MB at 5000 nodes).
  result.routes.reserve(candidates.size() + facts.own_cidrs.size());
  for (auto& candidate : candidates) route_candidate(candidate, facts, options, result);
  sort_result(result);
  return result;
}

DesiredRoutes desired_routes(const std::vector<const k8s::NodeInfo*>& nodes, std::string_view self,
                             const std::vector<ConnectedNetwork>& connected, const DesiredRoutesOptions& options,
                             const std::vector<Route>& installed) {
  const k8s::NodeInfo* self_node = nullptr;
  for (const auto* node : nodes)
    if (node->name == self) self_node = node;
  return desired_routes(nodes, local_facts(self, self_node, connected, options), options, installed);
}

std::vector<Route> routes_of(const std::vector<NodeRoute>& routes) {
  std::vector<Route> out;
  out.reserve(routes.size());
  for (const auto& entry : routes) out.push_back(entry.route);
  return out;
}

}  // namespace hostgw::controller
