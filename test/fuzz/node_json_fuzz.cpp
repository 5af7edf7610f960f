// Fuzz target: Node JSON -> NodeInfo (k8s-client/node_json.hpp), also as a
// watch event and as a NodeList page.
//
// Properties:
//  - never throws, never crashes, whatever the bytes;
//  - success and error are exclusive; every refusal has a message that names
//    "node" (or "watch event" / "node list");
//  - the limits hold on success: name 1..253 characters, at most 8 podCIDRs,
//    at most 64 addresses;
//  - round trip: a NodeInfo written back as Node JSON parses to the same NodeInfo;
//  - parsing is deterministic (same bytes, same result);
//  - a NodeList parsed as it streams (NodeListStreamParser, fed in chunks cut
//    where the input's hash says) is accepted or refused as the whole-body
//    parse_node_list_in_place() does it, and gives the same page.

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "k8s-client/node_json.hpp"
#include "k8s-client/node_list_stream.hpp"

using namespace hostgw::k8s;

namespace {

bool starts_with(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

void write_string(rapidjson::Writer<rapidjson::StringBuffer>& writer, const std::string& text) {
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// The NodeInfo as the Node JSON an API server would send for it.
std::string to_node_json(const NodeInfo& node) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("metadata");
  writer.StartObject();
  writer.Key("name");
  write_string(writer, node.name);
  writer.Key("resourceVersion");
  write_string(writer, node.resource_version);
  if (node.deleting) {
    writer.Key("deletionTimestamp");
    writer.String("2026-01-01T00:00:00Z");
  }
  writer.EndObject();
  writer.Key("spec");
  writer.StartObject();
  writer.Key("podCIDRs");
  writer.StartArray();
  for (const auto& cidr : node.pod_cidrs) write_string(writer, cidr);
  writer.EndArray();
  writer.EndObject();
  writer.Key("status");
  writer.StartObject();
  writer.Key("addresses");
  writer.StartArray();
  auto address = [&](const char* type, const std::string& value) {
    writer.StartObject();
    writer.Key("type");
    writer.String(type);
    writer.Key("address");
    write_string(writer, value);
    writer.EndObject();
  };
  for (const auto& ip : node.internal_ips) address("InternalIP", ip);
  for (const auto& ip : node.external_ips) address("ExternalIP", ip);
  writer.EndArray();
  writer.EndObject();
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

void check_node(const NodeParseResult& result, const NodeJsonLimits& limits) {
  KHG_FUZZ_CHECK(result.ok() == result.error.empty(), "ok=%d but error=\"%s\"", result.ok(), result.error.c_str());
  if (!result.ok()) {
    KHG_FUZZ_CHECK(starts_with(result.error, "node"), "error does not name the node: \"%s\"", result.error.c_str());
    return;
  }
  const NodeInfo& node = *result.node;
  KHG_FUZZ_CHECK(!node.name.empty() && node.name.size() <= limits.max_name_length, "name of %zu characters accepted",
                 node.name.size());
  KHG_FUZZ_CHECK(result.name == node.name, "result.name \"%s\" differs from node.name", result.name.c_str());
  KHG_FUZZ_CHECK(node.pod_cidrs.size() <= limits.max_pod_cidrs, "%zu podCIDRs accepted", node.pod_cidrs.size());
  KHG_FUZZ_CHECK(node.internal_ips.size() + node.external_ips.size() <= limits.max_addresses,
                 "%zu addresses accepted", node.internal_ips.size() + node.external_ips.size());

  const std::string json = to_node_json(node);
  NodeParseResult again = parse_node(json, limits);
  KHG_FUZZ_CHECK(again.ok(), "re-written node does not parse: %s\n%s", again.error.c_str(), json.c_str());
  KHG_FUZZ_CHECK(*again.node == node, "re-written node parses to another NodeInfo:\n%s", json.c_str());
}

// The streamed list parse against the whole-body one, the input cut into
// chunks of 1..size/2+1 bytes drawn from its own hash (deterministic).
void check_streamed_list(std::string_view json, const NodeJsonLimits& limits) {
  std::string buffer(json);
  NodeListPage reference;
  std::string reference_error;
  const bool reference_ok = parse_node_list_in_place(buffer, reference, reference_error, limits);

  std::uint64_t state = 0x9e3779b97f4a7c15ull ^ json.size();
  for (const char c : json) state = (state ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  auto next = [&state] {  // splitmix64
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  NodeListPage page;
  NodeListStreamParser parser(page, limits);
  bool ok = true;
  for (std::size_t at = 0; at < json.size() && ok;) {
    const std::size_t n = 1 + next() % (json.size() / 2 + 1);
    ok = parser.feed(json.substr(at, n));
    at += n;
  }
  ok = ok && parser.finish();
  KHG_FUZZ_CHECK(ok == parser.error().empty(), "streamed list ok=%d error=\"%s\"", ok, parser.error().c_str());
  KHG_FUZZ_CHECK(ok == reference_ok, "streamed list ok=%d (%s), whole-body ok=%d (%s)", ok, parser.error().c_str(),
                 reference_ok, reference_error.c_str());
  if (!ok) {
    KHG_FUZZ_CHECK(starts_with(parser.error(), "node list: "), "streamed list error \"%s\"", parser.error().c_str());
    return;
  }
  KHG_FUZZ_CHECK(page.resource_version == reference.resource_version && page.continue_token == reference.continue_token,
                 "streamed list metadata differs");
  KHG_FUZZ_CHECK(page.malformed == reference.malformed, "streamed list malformed items differ");
  KHG_FUZZ_CHECK(page.nodes == reference.nodes, "streamed list nodes differ");
}

bool same_event(const WatchEventParseResult& a, const WatchEventParseResult& b) {
  return a.ok() == b.ok() && a.error == b.error && a.node_name == b.node_name &&
         (!a.ok() || (a.event->type == b.event->type && a.event->node == b.event->node &&
                      a.event->status.code == b.event->status.code && a.event->status.reason == b.event->status.reason &&
                      a.event->status.message == b.event->status.message));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  NodeJsonLimits limits;  // the defaults the daemon uses

  NodeParseResult node = parse_node(json, limits);
  check_node(node, limits);
  NodeParseResult node_again = parse_node(json, limits);
  KHG_FUZZ_CHECK(node_again.ok() == node.ok() && node_again.error == node.error &&
                     (!node.ok() || *node_again.node == *node.node),
                 "parse_node is not deterministic");

  WatchEventParseResult event = parse_watch_event(json, limits);
  KHG_FUZZ_CHECK(event.ok() == event.error.empty(), "watch event ok=%d error=\"%s\"", event.ok(), event.error.c_str());
  // The in-place fast path and the copying reference agree exactly.
  WatchEventParseResult reference = parse_watch_event_copying(json, limits);
  KHG_FUZZ_CHECK(reference.error == event.error && reference.node_name == event.node_name,
                 "in-place watch event parse differs: \"%s\" vs \"%s\"", event.error.c_str(), reference.error.c_str());
  KHG_FUZZ_CHECK(!event.ok() || (event.event->type == reference.event->type && event.event->node == reference.event->node &&
                                 event.event->status.code == reference.event->status.code &&
                                 event.event->status.reason == reference.event->status.reason &&
                                 event.event->status.message == reference.event->status.message),
                 "in-place watch event parse gives another event");
  // The one-pass parse of a leading event, on the bytes followed by more
  // stream (the next event, garbage) or cut short: what it takes is exactly
  // what parse_watch_event() gives over the bytes it says the event spans.
  // (watch_framer_fuzz checks those are the framer's frame.)
  for (std::string_view tail : {std::string_view(""), std::string_view("\n{\"type\":\"ADDED\"}"),
                                std::string_view("]}\"x\\")}) {
    for (std::size_t cut : {json.size(), json.size() / 2}) {
      const std::string original = std::string(json.substr(0, cut)).append(tail);
      std::string stream = original;
      WatchEventParseResult leading;
      const std::size_t taken =
          parse_leading_watch_event_in_place(stream.data(), stream.data() + stream.size(), leading, limits);
      if (taken == 0) continue;
      KHG_FUZZ_CHECK(taken <= stream.size() && taken <= limits.max_object_bytes && original[0] == '{',
                     "leading event of %zu bytes taken from %zu", taken, stream.size());
      const WatchEventParseResult framed = parse_watch_event(std::string_view(original).substr(0, taken), limits);
      KHG_FUZZ_CHECK(same_event(leading, framed), "leading event parse differs from the frame's: \"%s\" vs \"%s\"",
                     leading.error.c_str(), framed.error.c_str());
    }
  }
  if (event.ok() && (event.event->type == WatchEvent::Type::added || event.event->type == WatchEvent::Type::modified ||
                     event.event->type == WatchEvent::Type::deleted)) {
    KHG_FUZZ_CHECK(!event.event->node.name.empty(), "watch event with a node without a name");
    KHG_FUZZ_CHECK(event.event->node.pod_cidrs.size() <= limits.max_pod_cidrs, "too many podCIDRs in a watch event");
  }

  NodeListPage page;
  std::string error;
  bool list_ok = parse_node_list(json, page, error, limits);
  if (!list_ok) KHG_FUZZ_CHECK(!error.empty(), "node list refused without a message");
  if (list_ok) {
    for (const NodeInfo& item : page.nodes) {
      KHG_FUZZ_CHECK(!item.name.empty() && item.name.size() <= limits.max_name_length, "list item name of %zu chars",
                     item.name.size());
      KHG_FUZZ_CHECK(item.pod_cidrs.size() <= limits.max_pod_cidrs, "list item with too many podCIDRs");
    }
    for (const std::string& message : page.malformed) KHG_FUZZ_CHECK(!message.empty(), "empty malformed-item message");
  }

  check_streamed_list(json, limits);

  (void)parse_status(json);
  return 0;
}
