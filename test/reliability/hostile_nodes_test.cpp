// Hostile Node objects through the real pipeline: watch-stream bytes ->
// JsonObjectFramer -> parse_watch_event -> ClusterView -> desired_routes, the
// path every Node takes in the daemon (NodeWatcher does the first two).
//
// Each case adds one hostile node to a healthy cluster whose routes are
// installed already, and checks that the hostile node gets no route, is
// refused with a reason (a parse error, or a SkippedNode with its reason), and
// that nothing else changes: the healthy nodes' routes stay exactly as they were.

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "controller/cluster_view.hpp"
#include "controller/desired_routes.hpp"
#include "controller/options.hpp"
#include "k8s-client/json_framer.hpp"
#include "k8s-client/node_json.hpp"

namespace hostgw::controller {
namespace {

using routing::ConnectedNetwork;
using routing::IpAddress;
using routing::IpPrefix;

// This host (node-a): 198.51.100.11/24 and 2001:db8:ffff::11/64 on eth0. The
// API server, 203.0.113.50, is NOT on a connected network (reached through
// the default gateway, as with a load balancer in front of the control plane).
const std::vector<ConnectedNetwork> kConnected = {
    {IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500},
    {IpPrefix::parse("2001:db8:ffff::/64"), IpAddress::parse("2001:db8:ffff::11"), 2, "eth0", 1500},
};

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) out += (out.size() > 1 ? "," : "") + ("\"" + item + "\"");
  return out + "]";
}

// Node JSON as the API server sends it.
std::string node_json(const std::string& name, const std::vector<std::string>& cidrs,
                      const std::vector<std::string>& internal_ips) {
  std::string addresses = "[";
  for (const auto& ip : internal_ips)
    addresses += std::string(addresses.size() > 1 ? "," : "") + R"({"type":"InternalIP","address":")" + ip + "\"}";
  addresses += "]";
  return R"({"kind":"Node","apiVersion":"v1","metadata":{"name":")" + name + R"(","resourceVersion":"1"},)" +
         R"("spec":{"podCIDRs":)" + quoted_list(cidrs) + R"(},"status":{"addresses":)" + addresses + "}}";
}

std::string added_event(const std::string& object) { return R"({"type":"ADDED","object":)" + object + "}"; }

// The healthy cluster: this node and three others, dual-stack.
std::vector<std::string> healthy_nodes() {
  return {node_json("node-a", {"10.244.1.0/24", "2001:db8:1::/64"}, {"198.51.100.11", "2001:db8:ffff::11"}),
          node_json("node-b", {"10.244.2.0/24", "2001:db8:2::/64"}, {"198.51.100.12", "2001:db8:ffff::12"}),
          node_json("node-c", {"10.244.3.0/24"}, {"198.51.100.13"}),
          node_json("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})};
}

// What happened to a stream of watch events, the way NodeWatcher + Reconciler see it.
struct Outcome {
  ClusterView view;
  std::vector<std::string> parse_errors;  // malformed events, dropped with this message
  std::size_t too_large = 0;              // objects over the size limit, dropped unread
  bool framing_failed = false;
};

void feed(Outcome& out, const std::string& stream, std::size_t max_object_bytes) {
  k8s::JsonObjectFramer framer(max_object_bytes);
  k8s::NodeJsonLimits limits;
  limits.max_object_bytes = max_object_bytes;
  // 4 KiB reads, as a TLS stream delivers them.
  for (std::size_t offset = 0; offset < stream.size(); offset += 4096) {
    bool ok = framer.feed(std::string_view(stream).substr(offset, 4096), [&](const k8s::JsonObjectFramer::Frame& frame) {
      if (frame.too_large) {
        ++out.too_large;
        return;
      }
      auto parsed = k8s::parse_watch_event(frame.object, limits);
      if (!parsed.ok()) {
        out.parse_errors.push_back(parsed.error);
        return;
      }
      k8s::NodeEvent event;
      event.type = k8s::NodeEvent::Type::added;
      event.node = parsed.event->node;
      out.view.apply(event);
    });
    if (!ok) {
      out.framing_failed = true;
      return;
    }
  }
}

DesiredRoutes compute(const ClusterView& view, const DesiredRoutesOptions& options,
                      const std::vector<routing::Route>& installed) {
  return desired_routes(view.nodes(), "node-a", kConnected, options, installed);
}

struct HostileCase {
  const char* title;
  std::string object;  // the hostile Node JSON (one watch event carries it)
  // Exactly one of these: a parse error containing this text, or a skip reason.
  const char* parse_error = nullptr;
  std::optional<SkipReason> reason;
  std::vector<std::string> cluster_cidrs = {};
};

class HostileNodeTest : public ::testing::TestWithParam<HostileCase> {};

TEST_P(HostileNodeTest, IsRefusedWithAReasonAndNothingElseChanges) {
  const HostileCase& c = GetParam();
  DesiredRoutesOptions options;
  for (const auto& cidr : c.cluster_cidrs) options.cluster_cidrs.push_back(IpPrefix::parse(cidr));

  std::string stream;
  for (const auto& node : healthy_nodes()) stream += added_event(node) + "\n";
  Outcome healthy;
  feed(healthy, stream, k8s::JsonObjectFramer::kDefaultMaxObjectBytes);
  ASSERT_TRUE(healthy.parse_errors.empty());
  DesiredRoutes before = compute(healthy.view, options, {});
  ASSERT_EQ(before.routes.size(), 4u) << "healthy cluster: b (v4+v6), c, d";

  Outcome hostile;
  feed(hostile, stream + added_event(c.object) + "\n", k8s::JsonObjectFramer::kDefaultMaxObjectBytes);
  EXPECT_FALSE(hostile.framing_failed) << c.title << ": one bad object must not end the stream";
  DesiredRoutes after = compute(hostile.view, options, routes_of(before.routes));

  // Nothing else changes: the healthy routes, exactly.
  EXPECT_EQ(after.routes, before.routes) << c.title;
  for (const auto& skip : after.skipped)
    if (skip.node != "hostile" && skip.node != "node-a") ADD_FAILURE() << c.title << ": " << skip.node << " skipped too";

  // For docs/RELIABILITY.md (scripts/reliability-report.sh reads the gtest XML).
  RecordProperty("input", std::string("hostile Node: ") + c.title);
  std::string outcome;
  if (!hostile.parse_errors.empty()) outcome = "refused by the parser: " + hostile.parse_errors[0];
  for (const auto& skip : after.skipped)
    if (skip.node == "hostile") outcome += (outcome.empty() ? "" : "; ") + std::string("skipped, reason ") +
                                           std::string(to_string(skip.reason)) + ": " + skip.detail;
  RecordProperty("outcome", outcome + "; routes of the other nodes unchanged");

  if (c.parse_error) {
    ASSERT_EQ(hostile.parse_errors.size(), 1u) << c.title;
    EXPECT_NE(hostile.parse_errors[0].find(c.parse_error), std::string::npos) << c.title << ": " << hostile.parse_errors[0];
    EXPECT_EQ(hostile.view.find("hostile"), nullptr) << c.title;
  } else {
    ASSERT_TRUE(c.reason.has_value());
    EXPECT_TRUE(hostile.parse_errors.empty()) << c.title << ": " << hostile.parse_errors[0];
    bool found = false;
    for (const auto& skip : after.skipped) {
      if (skip.node != "hostile") continue;
      found = true;
      EXPECT_EQ(skip.reason, *c.reason) << c.title << ": " << to_string(skip.reason) << ": " << skip.detail;
      EXPECT_FALSE(skip.detail.empty()) << c.title;
    }
    EXPECT_TRUE(found) << c.title << ": hostile node neither routed nor skipped";
  }
}

std::string hostile(const std::vector<std::string>& cidrs, const std::vector<std::string>& ips) {
  return node_json("hostile", cidrs, ips);
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostileNodeTest,
    ::testing::Values(
        HostileCase{"podCIDR 0.0.0.0/0", hostile({"0.0.0.0/0"}, {"198.51.100.66"}), nullptr, SkipReason::default_route},
        HostileCase{"podCIDR ::/0", hostile({"::/0"}, {"2001:db8:ffff::66"}), nullptr, SkipReason::default_route},
        HostileCase{"podCIDR 0.0.0.0/1 covers our own podCIDR", hostile({"0.0.0.0/1"}, {"198.51.100.66"}), nullptr,
                    SkipReason::overlaps_own_pod_cidr},
        HostileCase{"podCIDR 128.0.0.0/1 covers the node network", hostile({"128.0.0.0/1"}, {"198.51.100.66"}),
                    nullptr, SkipReason::overlaps_connected_network},
        HostileCase{"podCIDR ::/1 covers the IPv6 node network", hostile({"::/1"}, {"2001:db8:ffff::66"}), nullptr,
                    SkipReason::overlaps_own_pod_cidr},
        HostileCase{"podCIDR covers the node network", hostile({"198.51.0.0/16"}, {"198.51.100.66"}), nullptr,
                    SkipReason::overlaps_connected_network},
        HostileCase{"podCIDR inside the node network", hostile({"198.51.100.64/26"}, {"198.51.100.66"}), nullptr,
                    SkipReason::overlaps_connected_network},
        HostileCase{"podCIDR covers the off-link API server, --cluster-cidr given",
                    hostile({"203.0.113.0/24"}, {"198.51.100.66"}), nullptr, SkipReason::outside_cluster_cidr,
                    {"10.244.0.0/16", "2001:db8::/32"}},
        HostileCase{"podCIDR is another node's podCIDR", hostile({"10.244.2.0/24"}, {"198.51.100.66"}), nullptr,
                    SkipReason::overlaps_other_node},
        HostileCase{"podCIDR covers two other nodes' podCIDRs", hostile({"10.244.2.0/23"}, {"198.51.100.66"}),
                    nullptr, SkipReason::overlaps_other_node},
        HostileCase{"podCIDR inside another node's podCIDR", hostile({"10.244.3.128/25"}, {"198.51.100.66"}), nullptr,
                    SkipReason::overlaps_other_node},
        HostileCase{"podCIDR equals ours", hostile({"10.244.1.0/24"}, {"198.51.100.66"}), nullptr,
                    SkipReason::overlaps_own_pod_cidr},
        HostileCase{"podCIDR with host bits", hostile({"10.244.9.1/24"}, {"198.51.100.66"}), nullptr,
                    SkipReason::invalid_pod_cidr},
        HostileCase{"podCIDR not an address", hostile({"10.244.9.0/24; rm -rf /"}, {"198.51.100.66"}), nullptr,
                    SkipReason::invalid_pod_cidr},
        HostileCase{"podCIDR outside --cluster-cidr", hostile({"10.245.0.0/24"}, {"198.51.100.66"}), nullptr,
                    SkipReason::outside_cluster_cidr, {"10.244.0.0/16", "2001:db8::/32"}},
        HostileCase{"InternalIP loopback", hostile({"10.244.9.0/24"}, {"127.0.0.1"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP IPv6 loopback", hostile({"2001:db8:9::/64"}, {"::1"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP multicast", hostile({"10.244.9.0/24"}, {"224.0.0.1"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP IPv6 multicast", hostile({"2001:db8:9::/64"}, {"ff02::1"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP link-local", hostile({"10.244.9.0/24"}, {"169.254.169.254"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP IPv6 link-local", hostile({"2001:db8:9::/64"}, {"fe80::1"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP unspecified", hostile({"10.244.9.0/24"}, {"0.0.0.0"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP broadcast-like garbage", hostile({"10.244.9.0/24"}, {"255.255.255.256"}), nullptr,
                    SkipReason::invalid_address},
        HostileCase{"InternalIP is this node's own", hostile({"10.244.9.0/24"}, {"198.51.100.11"}), nullptr,
                    SkipReason::own_address},
        HostileCase{"InternalIP is the off-link API server", hostile({"10.244.9.0/24"}, {"203.0.113.50"}), nullptr,
                    SkipReason::unreachable_address},
        HostileCase{"nine podCIDRs", hostile({"10.244.9.0/24", "10.244.10.0/24", "10.244.11.0/24", "10.244.12.0/24",
                                              "10.244.13.0/24", "10.244.14.0/24", "10.244.15.0/24", "10.244.16.0/24",
                                              "10.244.17.0/24"},
                                             {"198.51.100.66"}),
                    "more than 8 entries", std::nullopt},
        HostileCase{"deeply nested JSON",
                    R"({"metadata":{"name":"hostile"},"spec":{"x":)" + std::string(5000, '[') +
                        std::string(5000, ']') + "}}",
                    "nesting is deeper than 64 levels", std::nullopt},
        HostileCase{"name of 300 characters", node_json(std::string(300, 'h'), {"10.244.9.0/24"}, {"198.51.100.66"}),
                    "more than 253", std::nullopt}),
    [](const auto& info) {
      std::string name = info.param.title;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

// A node claiming another node's InternalIP cannot be told from a legitimate
// one by looking at one object: it gets a route for its own podCIDR only, and
// the other node's route does not move.
TEST(HostileNodeTest, DuplicateAddressOfAnotherNodeGetsItsOwnRouteOnly) {
  Outcome out;
  std::string stream;
  for (const auto& node : healthy_nodes()) stream += added_event(node);
  stream += added_event(node_json("hostile", {"10.244.9.0/24"}, {"198.51.100.12"}));
  feed(out, stream, k8s::JsonObjectFramer::kDefaultMaxObjectBytes);
  DesiredRoutes result = compute(out.view, {}, {});
  ASSERT_EQ(result.routes.size(), 5u);
  // The hostile route only ever carries its own podCIDR; node-b's stays node-b's.
  for (std::size_t i = 0; i < result.routes.size(); ++i) {
    if (result.routes[i].node == "hostile") {
      EXPECT_EQ(result.routes[i].route.destination, IpPrefix::parse("10.244.9.0/24"));
    }
  }
  RecordProperty("input", "InternalIP that is another node's address");
  RecordProperty("outcome", "routed for its own podCIDR only; the other node's route unchanged");
}

// A podCIDR covering an off-link destination (here the API server): only
// --cluster-cidr ties podCIDRs to the cluster, so kube-hostgw does not start
// without it, and with it such a podCIDR is skipped. desired_routes itself still
// accepts any podCIDR when given no cluster CIDR (pinned here, so that a change
// is deliberate); the flag is what closes the gap.
TEST(HostileNodeTest, OffLinkApiServerIsNeverRoutedBecauseClusterCidrIsRequired) {
  Outcome out;
  std::string stream;
  for (const auto& node : healthy_nodes()) stream += added_event(node);
  stream += added_event(node_json("hostile", {"203.0.113.0/24"}, {"198.51.100.66"}));
  feed(out, stream, k8s::JsonObjectFramer::kDefaultMaxObjectBytes);
  auto routes_api_server = [](const DesiredRoutes& desired) {
    return std::any_of(desired.routes.begin(), desired.routes.end(), [](const NodeRoute& entry) {
      return entry.route.destination.contains(IpAddress::parse("203.0.113.50"));
    });
  };

  std::string refusal;
  const char* argv[] = {"kube-hostgw", "--kubeconfig=/k", "--node-name=node-a"};
  try {
    parse_options(3, argv, Environment{std::nullopt, "host"});
  } catch (const OptionsError& error) {
    refusal = error.what();
  }
  EXPECT_EQ(refusal.rfind("--cluster-cidr: required", 0), 0u) << refusal;

  EXPECT_TRUE(routes_api_server(compute(out.view, {}, {})))
      << "desired_routes learned about the API server address without a cluster CIDR: update this test";
  DesiredRoutesOptions options;
  options.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8::/32")};
  DesiredRoutes with = compute(out.view, options, {});
  const bool routed = routes_api_server(with);
  EXPECT_FALSE(routed);
  RecordProperty("input", "podCIDR covering the off-link API server address");
  RecordProperty("outcome", (routed ? std::string("ROUTED to the claiming node") : std::string("not routed")) +
                                ": kube-hostgw does not start without --cluster-cidr (" +
                                refusal.substr(0, refusal.find(": the pod network")) +
                                "), and with it the podCIDR is outside the cluster CIDR");
}

// A 10 MB Node (e.g. megabytes of annotations) in the middle of a watch
// stream: dropped as too large without being buffered whole, and the nodes
// after it still arrive.
TEST(HostileNodeTest, TenMegabyteNodeIsDroppedWithBoundedMemory) {
  const std::string object = R"({"metadata":{"name":"hostile","annotations":{"a":")" +
                             std::string(10 * 1024 * 1024, 'x') + R"("}},"spec":{"podCIDRs":["10.244.9.0/24"]}})";
  const std::string big = added_event(object);
  std::string stream = added_event(healthy_nodes()[1]) + big + added_event(healthy_nodes()[2]);

  const std::size_t limit = k8s::JsonObjectFramer::kDefaultMaxObjectBytes;
  k8s::JsonObjectFramer framer(limit);
  std::size_t frames = 0, too_large = 0;
#if !defined(__SANITIZE_ADDRESS__)
  const std::size_t heap_before = mallinfo2().uordblks;
  std::size_t heap_peak = heap_before;
#endif
  for (std::size_t offset = 0; offset < stream.size(); offset += 16384) {
    ASSERT_TRUE(framer.feed(std::string_view(stream).substr(offset, 16384), [&](const auto& frame) {
      ++frames;
      if (frame.too_large) {
        ++too_large;
        EXPECT_GT(frame.size, 10u * 1024 * 1024);
      }
    }));
#if !defined(__SANITIZE_ADDRESS__)
    heap_peak = std::max(heap_peak, mallinfo2().uordblks);
#endif
  }
  EXPECT_EQ(frames, 3u);
  EXPECT_EQ(too_large, 1u);
  RecordProperty("input", "10 MB Node object in a watch stream");
#if !defined(__SANITIZE_ADDRESS__)
  RecordProperty("outcome", "dropped as too large without being buffered (heap grew " +
                                std::to_string((heap_peak - heap_before) / 1024) +
                                " KiB at most); the nodes after it still arrive");
#else
  RecordProperty("outcome", "dropped as too large; the nodes after it still arrive");
#endif
#if !defined(__SANITIZE_ADDRESS__)
  // The framer holds at most one object up to the limit (string growth can
  // double it); never the 10 MB.
  EXPECT_LT(heap_peak - heap_before, 2 * limit + 64 * 1024) << "framer buffered the oversized object";
#endif

  // And through the parser directly (a LIST item is parsed without the framer).
  k8s::NodeParseResult parsed = k8s::parse_node(object);
  EXPECT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error.find("more than the limit"), std::string::npos) << parsed.error;
}

}  // namespace
}  // namespace hostgw::controller
