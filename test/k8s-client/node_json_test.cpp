#include "k8s-client/node_json.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace hostgw::k8s {
namespace {

// A trimmed but realistic Node, with the parts the parser must skip.
const char* kNode = R"({
  "kind": "Node", "apiVersion": "v1",
  "metadata": {
    "name": "node-b", "uid": "0c5c", "resourceVersion": "4711",
    "labels": {"kubernetes.io/hostname": "node-b", "name": "decoy"},
    "annotations": {"node.alpha.kubernetes.io/ttl": "0", "podCIDRs": "decoy"},
    "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:metadata": {"f:name": {}, "f:spec": {"f:podCIDRs": {}}}}}]
  },
  "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24", "2001:db8:2::/64"], "providerID": "x"},
  "status": {
    "addresses": [
      {"type": "Hostname", "address": "node-b"},
      {"type": "InternalIP", "address": "198.51.100.12"},
      {"type": "ExternalIP", "address": "203.0.113.12"},
      {"type": "InternalIP", "address": "2001:db8::12"}
    ],
    "conditions": [{"type": "Ready", "status": "True", "addresses": 5}],
    "images": [{"names": ["registry/x@sha256:abc", "registry/x:1"], "sizeBytes": 123}]
  }
})";

TEST(NodeJsonTest, ParsesTheFieldsAndSkipsTheRest) {
  NodeParseResult result = parse_node(kNode);
  ASSERT_TRUE(result.ok()) << result.error;
  const NodeInfo& node = *result.node;
  EXPECT_EQ(node.name, "node-b");
  EXPECT_EQ(node.resource_version, "4711");
  EXPECT_EQ(node.pod_cidrs, (std::vector<std::string>{"10.244.2.0/24", "2001:db8:2::/64"}));
  EXPECT_EQ(node.internal_ips, (std::vector<std::string>{"198.51.100.12", "2001:db8::12"}));
  EXPECT_EQ(node.external_ips, (std::vector<std::string>{"203.0.113.12"}));
  EXPECT_FALSE(node.deleting);
}

TEST(NodeJsonTest, KeepsOnlyTheAnnotationsAskedFor) {
  // Without keys: none kept.
  NodeParseResult plain = parse_node(kNode);
  ASSERT_TRUE(plain.ok()) << plain.error;
  EXPECT_TRUE(plain.node->annotations.empty());

  NodeJsonLimits limits;
  limits.annotation_keys = {"flannel.alpha.coreos.com/public-ip-overwrite", "flannel.alpha.coreos.com/public-ip"};
  limits.max_annotation_value_bytes = 16;
  const char* json = R"({"metadata": {"name": "n", "annotations": {
      "flannel.alpha.coreos.com/public-ip": "198.51.100.112",
      "flannel.alpha.coreos.com/backend-data": "{\"VNI\":1}",
      "node.alpha.kubernetes.io/ttl": "0",
      "flannel.alpha.coreos.com/public-ip-overwrite": 7,
      "labels": {"flannel.alpha.coreos.com/public-ip": "decoy"}},
    "labels": {"flannel.alpha.coreos.com/public-ip": "decoy"}}})";
  NodeParseResult result = parse_node(json, limits);
  ASSERT_TRUE(result.ok()) << result.error;
  // The non-string value is left out; the node stays usable.
  EXPECT_EQ(result.node->annotations,
            (std::vector<std::pair<std::string, std::string>>{{"flannel.alpha.coreos.com/public-ip", "198.51.100.112"}}));

  // A repeated key keeps one entry (the last value); a long value is cut to the limit.
  const char* twice = R"({"metadata": {"name": "n", "annotations": {
      "flannel.alpha.coreos.com/public-ip": "198.51.100.1",
      "flannel.alpha.coreos.com/public-ip": "198.51.100.2",
      "flannel.alpha.coreos.com/public-ip-overwrite": "0123456789abcdefghijklmnop"}}})";
  result = parse_node(twice, limits);
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.node->annotations,
            (std::vector<std::pair<std::string, std::string>>{
                {"flannel.alpha.coreos.com/public-ip", "198.51.100.2"},
                {"flannel.alpha.coreos.com/public-ip-overwrite", "0123456789abcdef"}}));

  // annotations of the wrong kind: the node is refused with the path, as for every field.
  result = parse_node(R"({"metadata": {"name": "n", "annotations": ["x"]}})", limits);
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("metadata.annotations is an array, expected an object"), std::string::npos)
      << result.error;
}

TEST(NodeJsonTest, FallsBackToPodCidrAndSeesDeletion) {
  NodeParseResult result = parse_node(
      R"({"metadata":{"name":"n","deletionTimestamp":"2026-01-01T00:00:00Z"},"spec":{"podCIDR":"10.244.3.0/24"}})");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.node->pod_cidrs, std::vector<std::string>{"10.244.3.0/24"});
  EXPECT_TRUE(result.node->deleting);
}

TEST(NodeJsonTest, NullsAreAbsentFields) {
  NodeParseResult result = parse_node(
      R"({"metadata":{"name":"n","deletionTimestamp":null},"spec":{"podCIDR":null,"podCIDRs":null},"status":{"addresses":null}})");
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_TRUE(result.node->pod_cidrs.empty());
  EXPECT_TRUE(result.node->internal_ips.empty());
}

struct BadNode {
  const char* json;
  const char* error;
};

class NodeJsonErrorTest : public ::testing::TestWithParam<BadNode> {};

TEST_P(NodeJsonErrorTest, NamesTheNodeAndTheField) {
  NodeParseResult result = parse_node(GetParam().json);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, NodeJsonErrorTest,
    ::testing::Values(
        BadNode{R"({"metadata":{"name":"x"},"status":{"addresses":[{"type":"Hostname","address":"x"},{"type":"InternalIP","address":"a"},{"type":"InternalIP","address":7}]}})",
                R"(node "x": status.addresses[2].address is a number, expected a string)"},
        // the name comes after the problem: still named
        BadNode{R"({"spec":{"podCIDRs":"10.244.1.0/24"},"metadata":{"name":"y"}})",
                R"(node "y": spec.podCIDRs is a string, expected an array)"},
        BadNode{R"({"spec":{"podCIDRs":["10.244.1.0/24",{"a":1}]},"metadata":{"name":"y"}})",
                R"(node "y": spec.podCIDRs[1] is an object, expected a string)"},
        BadNode{R"({"metadata":{"name":5}})", R"(node: metadata.name is a number, expected a string)"},
        BadNode{R"({"metadata":{}})", R"(node: metadata.name is missing)"},
        BadNode{R"({"metadata":{"name":"z"},"spec":[]})", R"(node "z": spec is an array, expected an object)"},
        BadNode{R"({"metadata":{"name":"z"},"status":{"addresses":[{"type":"InternalIP"}]}})",
                R"(node "z": status.addresses[0].address is missing)"},
        BadNode{R"({"metadata":{"name":"z"},"status":{"addresses":["198.51.100.1"]}})",
                R"(node "z": status.addresses[0] is a string, expected an object)"},
        BadNode{R"({"metadata":{"name":"z","deletionTimestamp":true}})",
                R"(node "z": metadata.deletionTimestamp is a boolean, expected a string)"},
        BadNode{R"({"metadata":{"name":"z"},"spec":{"podCIDRs":["a","b","c","d","e","f","g","h","i"]}})",
                R"(node "z": spec.podCIDRs has more than 8 entries)"},
        BadNode{R"({"metadata":{"name":"z"})", R"(node "z": invalid JSON at byte 24: Missing a comma or '}' after an object member.)"},
        BadNode{R"([1,2])", R"(node: expected a JSON object, found an array)"},
        BadNode{R"("str")", R"(node: expected a JSON object, found a string)"},
        BadNode{"", R"(node: invalid JSON at byte 0: The document is empty.)"}));

TEST(NodeJsonTest, DeepNestingIsRefused) {
  std::string deep = R"({"metadata":{"name":"deep"},"x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  NodeParseResult result = parse_node(deep);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error, R"(node "deep": nesting is deeper than 64 levels)");
  // Very deep nesting does not exhaust the stack (iterative parser).
  std::string very_deep = R"({"metadata":{"name":"d"},"x":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
  EXPECT_FALSE(parse_node(very_deep).ok());
}

TEST(NodeJsonTest, OversizedObjectIsRefused) {
  NodeJsonLimits limits;
  limits.max_object_bytes = 100;
  std::string big = R"({"metadata":{"name":"big"},"pad":")" + std::string(200, 'x') + R"("})";
  NodeParseResult result = parse_node(big, limits);
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("bytes, more than the limit of 100"), std::string::npos) << result.error;
}

TEST(NodeJsonTest, OverlongNameIsRefusedAndTruncatedInTheMessage) {
  std::string name(300, 'n');
  NodeParseResult result = parse_node(R"({"metadata":{"name":")" + name + R"("}})");
  EXPECT_FALSE(result.ok());
  EXPECT_NE(result.error.find("metadata.name is 300 characters, more than 253"), std::string::npos);
  EXPECT_LT(result.error.size(), 200u);
}

TEST(WatchEventTest, ParsesEachType) {
  auto added = parse_watch_event(std::string(R"({"type":"ADDED","object":)") + kNode + "}");
  ASSERT_TRUE(added.ok()) << added.error;
  EXPECT_EQ(added.event->type, WatchEvent::Type::added);
  EXPECT_EQ(added.event->node.name, "node-b");
  EXPECT_EQ(added.event->node.internal_ips.size(), 2u);

  // type after object
  auto deleted = parse_watch_event(R"({"object":{"metadata":{"name":"n","resourceVersion":"9"}},"type":"DELETED"})");
  ASSERT_TRUE(deleted.ok()) << deleted.error;
  EXPECT_EQ(deleted.event->type, WatchEvent::Type::deleted);
  EXPECT_EQ(deleted.event->node.resource_version, "9");

  auto bookmark = parse_watch_event(
      R"({"type":"BOOKMARK","object":{"kind":"Node","apiVersion":"v1","metadata":{"resourceVersion":"12345","creationTimestamp":null}}})");
  ASSERT_TRUE(bookmark.ok()) << bookmark.error;
  EXPECT_EQ(bookmark.event->type, WatchEvent::Type::bookmark);
  EXPECT_EQ(bookmark.event->node.resource_version, "12345");

  auto error = parse_watch_event(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j");
  ASSERT_TRUE(error.ok()) << error.error;
  EXPECT_EQ(error.event->type, WatchEvent::Type::error);
  EXPECT_EQ(error.event->status.code, 410);
  EXPECT_EQ(error.event->status.reason, "Expired");
  EXPECT_EQ(error.event->status.message, "too old resource version: 1 (5)");
}

TEST(WatchEventTest, MalformedEventsAreDescribed) {
  auto bad = parse_watch_event(R"({"type":"MODIFIED","object":{"metadata":{"name":"m"},"spec":{"podCIDR":3}}})");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.node_name, "m");
  EXPECT_EQ(bad.error, R"(node "m": spec.podCIDR is a number, expected a string)");

  EXPECT_EQ(parse_watch_event(R"({"type":"RENAMED","object":{}})").error,
            R"(watch event RENAMED: type "RENAMED" is not ADDED, MODIFIED, DELETED, BOOKMARK or ERROR)");
  EXPECT_EQ(parse_watch_event(R"({"object":{}})").error, "watch event: type is missing");
  EXPECT_EQ(parse_watch_event(R"({"type":"ADDED"})").error, "watch event ADDED: object is missing");
  EXPECT_EQ(parse_watch_event(R"({"type":7,"object":{}})").error, "watch event: type is a number, expected a string");
  EXPECT_EQ(parse_watch_event(R"({"type":"BOOKMARK","object":{"metadata":{}}})").error,
            "watch event BOOKMARK: object.metadata.resourceVersion is missing");
}

TEST(NodeListTest, ParsesPageAndKeepsGoodItemsAroundBadOnes) {
  std::string json = R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"77","continue":"tok%2F1"},"items":[)";
  json += kNode;
  json += R"(,{"metadata":{"name":"bad"},"status":{"addresses":{"type":"InternalIP"}}},)";
  json += R"(17,{"metadata":{"name":"c"},"spec":{"podCIDRs":["10.244.9.0/24"]}}]})";
  NodeListPage page;
  std::string error;
  ASSERT_TRUE(parse_node_list(json, page, error)) << error;
  EXPECT_EQ(page.resource_version, "77");
  EXPECT_EQ(page.continue_token, "tok%2F1");
  ASSERT_EQ(page.nodes.size(), 2u);
  EXPECT_EQ(page.nodes[0].name, "node-b");
  EXPECT_EQ(page.nodes[1].name, "c");
  ASSERT_EQ(page.malformed.size(), 2u);
  EXPECT_EQ(page.malformed[0], R"(node "bad": status.addresses is an object, expected an array)");
  EXPECT_EQ(page.malformed[1], "items[2] is a number, expected an object");
}

TEST(NodeListTest, OversizedAndDeepItemsAreSkippedNotFatal) {
  NodeJsonLimits limits;
  limits.max_object_bytes = 300;
  std::string json = R"({"metadata":{"resourceVersion":"1"},"items":[)";
  json += R"({"metadata":{"name":"big"},"pad":")" + std::string(400, 'x') + R"("},)";
  json += R"({"metadata":{"name":"deep"},"x":)" + std::string(80, '[') + std::string(80, ']') + "},";
  json += R"({"metadata":{"name":"ok"}}]})";
  NodeListPage page;
  std::string error;
  ASSERT_TRUE(parse_node_list(json, page, error, limits)) << error;
  ASSERT_EQ(page.nodes.size(), 1u);
  EXPECT_EQ(page.nodes[0].name, "ok");
  ASSERT_EQ(page.malformed.size(), 2u);
  EXPECT_NE(page.malformed[0].find(R"(node "big": object is )"), std::string::npos) << page.malformed[0];
  EXPECT_EQ(page.malformed[1], R"(node "deep": nesting is deeper than 64 levels)");
}

TEST(NodeListTest, UnusableDocumentsFail) {
  NodeListPage page;
  std::string error;
  EXPECT_FALSE(parse_node_list(R"({"items":{}})", page, error));
  EXPECT_EQ(error, "node list: items is an object, expected an array");
  EXPECT_FALSE(parse_node_list(R"({"metadata":{"resourceVersion":5}})", page, error));
  EXPECT_EQ(error, "node list: metadata.resourceVersion is a number, expected a string");
  EXPECT_FALSE(parse_node_list(R"({"items":[)", page, error));
  EXPECT_NE(error.find("invalid JSON"), std::string::npos);
}

TEST(StatusTest, ReadsAStatusBody) {
  ApiStatus status = parse_status(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The provided continue parameter is too old","reason":"Expired","code":410})");
  EXPECT_EQ(status.code, 410);
  EXPECT_EQ(status.reason, "Expired");
  EXPECT_EQ(parse_status("not json").code, 0);
}

}  // namespace
}  // namespace hostgw::k8s

namespace hostgw::k8s {
namespace {

TEST(NodeListTest, InPlaceParseGivesTheSameResultIncludingEscapes) {
  std::string json = R"({"metadata":{"resourceVersion":"9","continue":"a\/b"},"items":[)";
  json += kNode;
  json += R"(,{"metadata":{"name":"esc\u0061ped","annotations":{"q":"\"}{\\"}},"spec":{"podCIDRs":["10.244.\u0031.0/24"]}},)";
  json += R"({"metadata":{"name":"bad"},"spec":{"podCIDR":1}}]})";
  NodeListPage copy, in_place;
  std::string error;
  ASSERT_TRUE(parse_node_list(json, copy, error)) << error;
  std::string buffer = json;
  ASSERT_TRUE(parse_node_list_in_place(buffer, in_place, error)) << error;
  EXPECT_EQ(in_place.resource_version, "9");
  EXPECT_EQ(in_place.continue_token, "a/b");
  ASSERT_EQ(in_place.nodes.size(), 2u);
  EXPECT_EQ(in_place.nodes[1].name, "escaped");
  EXPECT_EQ(in_place.nodes[1].pod_cidrs, std::vector<std::string>{"10.244.1.0/24"});
  EXPECT_EQ(in_place.nodes, copy.nodes);
  EXPECT_EQ(in_place.malformed, copy.malformed);
  EXPECT_EQ(in_place.malformed, std::vector<std::string>{R"(node "bad": spec.podCIDR is a number, expected a string)"});

  std::string broken = R"({"items":[{"metadata":{"name":"x"}})";
  EXPECT_FALSE(parse_node_list_in_place(broken, in_place, error));
  EXPECT_NE(error.find("invalid JSON"), std::string::npos) << error;
}

// --- parse_watch_event (in place over a copy) and parse_watch_event_in_place vs parse_watch_event_copying ---

// Empty when both parses give the same result, else what differs.
std::string compare(const WatchEventParseResult& fast, const WatchEventParseResult& reference);

// Both fast parses (over a private copy, and in place over the caller's
// buffer, as NodeWatcher runs it on the framer's) against the copying one.
std::string disagreement(std::string_view json, const NodeJsonLimits& limits = {}) {
  const WatchEventParseResult reference = parse_watch_event_copying(json, limits);
  if (std::string differs = compare(parse_watch_event(json, limits), reference); !differs.empty()) return differs;
  std::string buffer(json);
  if (std::string differs = compare(parse_watch_event_in_place(buffer, limits), reference); !differs.empty())
    return "in place: " + differs;
  // The one-pass parse of the event at the start of a watch read, with the
  // next event after it: it takes a well-formed event whole, with the same
  // result; what it takes is always parsed as those bytes alone would be.
  std::string stream = std::string(json).append("\n{\"type\":\"ADDED\"}");
  WatchEventParseResult leading;
  const std::size_t taken =
      parse_leading_watch_event_in_place(stream.data(), stream.data() + stream.size(), leading, limits);
  std::string_view trimmed = json;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.remove_suffix(1);
  if (reference.ok() && taken != trimmed.size())
    return "leading: took " + std::to_string(taken) + " of " + std::to_string(trimmed.size()) + " bytes";
  if (taken > 0) {
    if (taken > trimmed.size()) return "leading: took " + std::to_string(taken) + " bytes, past the event";
    if (std::string differs = compare(leading, parse_watch_event_copying(trimmed.substr(0, taken), limits));
        !differs.empty())
      return "leading: " + differs;
  }
  return {};
}

std::string compare(const WatchEventParseResult& fast, const WatchEventParseResult& reference) {
  if (fast.error != reference.error) return "error \"" + fast.error + "\" vs \"" + reference.error + "\"";
  if (fast.node_name != reference.node_name) return "node_name " + fast.node_name + " vs " + reference.node_name;
  if (fast.ok() != reference.ok()) return "ok differs";
  if (!fast.ok()) return {};
  const WatchEvent& a = *fast.event;
  const WatchEvent& b = *reference.event;
  if (a.type != b.type) return "type differs";
  if (!(a.node == b.node)) return "node differs";
  if (a.status.code != b.status.code || a.status.reason != b.status.reason || a.status.message != b.status.message)
    return "status differs";
  return {};
}

std::vector<std::string> differential_inputs() {
  std::vector<std::string> inputs;
  const std::string node = kNode;
  for (const char* type : {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR", "BOGUS"})
    inputs.push_back(std::string(R"({"type":")") + type + R"(","object":)" + node + "}");
  inputs.push_back(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old \"rv\""}})");
  inputs.push_back(R"({"type":"MODIFIED","object":{"metadata":{"name":"n\u00e9\ud83d\ude00","resourceVersion":"7"},)"
                   R"("spec":{"podCIDRs":["10.244.1.0/24"]},"status":{"addresses":[{"type":"InternalIP","address":"1.2.3.4"}]}}})");
  for (const auto& entry : std::filesystem::directory_iterator(KHG_NODE_JSON_CORPUS)) {
    std::ifstream file(entry.path(), std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    inputs.push_back(text.str());
  }
  return inputs;
}

TEST(WatchEventInPlaceTest, AgreesWithTheCopyingParseOnValidAndBrokenInput) {
  const auto inputs = differential_inputs();
  ASSERT_GE(inputs.size(), 15u);
  std::size_t checked = 0;
  for (const auto& input : inputs) {
    EXPECT_EQ(disagreement(input), "") << input;
    // Every prefix (truncated streams), and damaged bytes: NUL, quote, brace, backslash.
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      EXPECT_EQ(disagreement(std::string_view(input).substr(0, cut)), "") << input.substr(0, cut);
      ++checked;
    }
    for (std::size_t at = 0; at < input.size(); at += 3) {
      for (char bad : {'\0', '"', '}', '\\', '\x01'}) {
        std::string damaged = input;
        damaged[at] = bad;
        EXPECT_EQ(disagreement(damaged), "") << damaged;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 5000u);
}

TEST(WatchEventInPlaceTest, AgreesUnderTightLimitsAndOnOversizedObjects) {
  NodeJsonLimits limits;
  limits.max_object_bytes = 600;
  limits.max_depth = 4;
  limits.max_pod_cidrs = 1;
  for (const auto& input : differential_inputs()) EXPECT_EQ(disagreement(input, limits), "") << input;
  // Bigger than the kept buffer, then small again: still the same results.
  std::string big = std::string(R"({"type":"MODIFIED","object":{"metadata":{"name":"big","resourceVersion":"1","x":")") +
                    std::string(200000, 'a') + R"("},"spec":{"podCIDRs":["10.244.1.0/24"]}}})";
  EXPECT_EQ(disagreement(big), "");
  EXPECT_TRUE(parse_watch_event(big).ok());
  EXPECT_EQ(disagreement(differential_inputs()[1]), "");
}

// The validating skipper (json_skipper.hpp) crosses the members the parse
// never reads on the in-place paths only: malformed JSON, depth and odd
// strings inside such members must give what the copying parse gives.
std::string heartbeat_with(const std::string& skipped_member) {
  return R"({"type":"MODIFIED","object":{"kind":"Node","metadata":{"name":"n1","resourceVersion":"9",)"
         R"("managedFields":)" + skipped_member + R"(},"spec":{"podCIDRs":["10.244.1.0/24"]},)"
         R"("status":{"addresses":[{"type":"InternalIP","address":"198.51.100.7"}],"images":[]}}})";
}

TEST(WatchEventInPlaceTest, MalformedJsonInsideASkippedMemberIsStillRefused) {
  for (const char* bad : {R"([{"a":1,}])", R"([1 2])", R"({"a" 1})", R"(["\x"])", R"(["\uD800"])", "[tru]",
                          "[1e]", "[01]", "{\"a\":1]", "[\"tab\tin string\"]", "[1].5", "\"s\"x", "truex"}) {
    const std::string json = heartbeat_with(bad);
    WatchEventParseResult fast = parse_watch_event(json);
    EXPECT_FALSE(fast.ok()) << json;
    EXPECT_NE(fast.error.find("invalid JSON at byte"), std::string::npos) << fast.error;
    EXPECT_EQ(disagreement(json), "") << json;
  }
}

TEST(WatchEventInPlaceTest, DepthLimitHoldsInsideSkippedMembers) {
  NodeJsonLimits limits;
  limits.max_depth = 8;
  // The object is 2 deep (event, node) and metadata 3: 5 more levels fit, 6 do not.
  const std::string fits = heartbeat_with("[[[[{}]]]]");
  const std::string too_deep = heartbeat_with("[[[[[{}]]]]]");
  EXPECT_TRUE(parse_watch_event(fits, limits).ok()) << parse_watch_event(fits, limits).error;
  WatchEventParseResult deep = parse_watch_event(too_deep, limits);
  EXPECT_FALSE(deep.ok());
  EXPECT_EQ(deep.error, R"(node "n1": nesting is deeper than 8 levels)");
  for (std::size_t depth = 0; depth <= 12; ++depth) {
    const std::string json = heartbeat_with(std::string(depth, '[') + "1" + std::string(depth, ']'));
    EXPECT_EQ(disagreement(json, limits), "") << json;
  }
  // Deeper than the skipper ever goes: RapidJSON's own parse decides.
  NodeJsonLimits loose;
  loose.max_depth = 1000;
  const std::string very_deep = heartbeat_with(std::string(400, '[') + std::string(400, ']'));
  EXPECT_TRUE(parse_watch_event(very_deep, loose).ok());
  EXPECT_EQ(disagreement(very_deep, loose), "");
}

TEST(WatchEventInPlaceTest, SkippedMembersMayHoldEscapesAndUnicode) {
  const std::string json = heartbeat_with(
      R"([{"manager":"kube\"let\\","note":"\u00e9\uD83D\uDE00 Grüße 😀 \/\b\f\n\r\t","n":-1.25,"ok":[true,false,null]}])");
  WatchEventParseResult fast = parse_watch_event(json);
  ASSERT_TRUE(fast.ok()) << fast.error;
  EXPECT_EQ(fast.event->node.name, "n1");
  EXPECT_EQ(fast.event->node.pod_cidrs, std::vector<std::string>{"10.244.1.0/24"});
  EXPECT_EQ(fast.event->node.internal_ips, std::vector<std::string>{"198.51.100.7"});
  EXPECT_EQ(disagreement(json), "");
}

TEST(NodeListInPlaceTest, AgreesWithTheCopyingParse) {
  std::size_t checked = 0;
  const std::string list = std::string(R"({"kind":"NodeList","metadata":{"resourceVersion":"5","continue":"c"},"items":[)") +
                           kNode + "," + kNode + R"(,{"metadata":{"name":"bad","managedFields":[1,]}}]})";
  auto same = [&](const std::string& json) {
    NodeListPage copied, in_place;
    std::string copied_error, in_place_error;
    std::string buffer = json;
    const bool copied_ok = parse_node_list(json, copied, copied_error);
    const bool in_place_ok = parse_node_list_in_place(buffer, in_place, in_place_error);
    ++checked;
    return copied_ok == in_place_ok && copied_error == in_place_error && copied.nodes == in_place.nodes &&
           copied.malformed == in_place.malformed && copied.resource_version == in_place.resource_version &&
           copied.continue_token == in_place.continue_token;
  };
  EXPECT_TRUE(same(list));
  for (std::size_t cut = 0; cut <= list.size(); cut += 7) EXPECT_TRUE(same(list.substr(0, cut))) << list.substr(0, cut);
  for (std::size_t at = 0; at < list.size(); at += 5) {
    for (char bad : {'\0', '"', ']', '\\'}) {
      std::string damaged = list;
      damaged[at] = bad;
      EXPECT_TRUE(same(damaged)) << damaged;
    }
  }
  EXPECT_GT(checked, 1000u);
}

}  // namespace
}  // namespace hostgw::k8s
