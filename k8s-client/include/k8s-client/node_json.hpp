#pragma once

// Node JSON → NodeInfo, pure and cheap.
//
// A streaming (SAX) parse over the API server's bytes that copies out only the
// fields NodeInfo holds and skips everything else (managedFields, images,
// conditions...) without building a document, so a 5000-node LIST costs the
// bytes on the wire and the NodeInfos, not a DOM. On the in-place paths
// (parse_watch_event, parse_node_list_in_place) a member the parse never
// reads is crossed by a validating skipper (src/json_skipper.hpp) instead of
// being tokenised; whatever the skipper does not accept is parsed by RapidJSON
// as before, so errors, offsets and limits are those of the copying parses.
//
// A node with a field of the wrong shape is reported with a precise message
// and skipped, never thrown:
//   node "x": status.addresses[2].address is a number, expected a string
// Limits guard against hostile objects: nesting depth, bytes per object,
// entries per list field.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "k8s-client/node_info.hpp"

namespace hostgw::k8s {

struct NodeJsonLimits {
  std::size_t max_depth = 64;                      // nesting levels in one object
  std::size_t max_object_bytes = 4 * 1024 * 1024;  // one Node (or one watch event)
  std::size_t max_pod_cidrs = 8;
  std::size_t max_addresses = 64;
  std::size_t max_name_length = 253;  // DNS subdomain, as Kubernetes enforces
  // metadata.annotations kept in NodeInfo::annotations (--address-annotation);
  // every other annotation is skipped unread. Empty: none kept.
  std::vector<std::string> annotation_keys;
  std::size_t max_annotation_value_bytes = 256;  // a longer value is kept cut to this
};

// A v1 Status object (error bodies, watch ERROR events). code 0 if absent.
struct ApiStatus {
  int code = 0;
  std::string reason;   // e.g. "Expired", "Gone", "Unauthorized"
  std::string message;  // human-readable, from the server
};

struct NodeParseResult {
  std::optional<NodeInfo> node;  // set on success
  std::string name;              // metadata.name when it could be read, even on failure
  std::string error;             // set on failure: full message naming the node and field
  bool ok() const { return node.has_value(); }
};

// One Node object.
NodeParseResult parse_node(std::string_view json, const NodeJsonLimits& limits = {});

struct WatchEvent {
  enum class Type { added, modified, deleted, bookmark, error };
  Type type = Type::added;
  NodeInfo node;      // added/modified/deleted; bookmark: only resource_version is set
  ApiStatus status;   // error
};

struct WatchEventParseResult {
  std::optional<WatchEvent> event;
  std::string node_name;  // when known, also on failure
  std::string error;
  bool ok() const { return event.has_value(); }
};

// One watch event: {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
// It parses a private copy in place (no per-string copies); results, limits
// and messages are exactly those of parse_watch_event_copying().
WatchEventParseResult parse_watch_event(std::string_view json, const NodeJsonLimits& limits = {});
// The same parse in place over the caller's buffer (no copy at all): `json`
// is overwritten (unescaped strings, skipped members) and must not be used
// afterwards. What NodeWatcher runs on the watch framer's buffer.
WatchEventParseResult parse_watch_event_in_place(std::string& json, const NodeJsonLimits& limits = {});
// One pass over a watch stream's bytes: the event that starts at `begin`
// ('{'), parsed in place when it lies whole and well-formed in [begin, end)
// (`*end` must be a NUL). Returns its size (up to its closing '}') and sets
// `result` to exactly what parse_watch_event_in_place() gives over those bytes
// alone; the event's bytes are overwritten, the ones after it are neither
// written nor looked at. Returns 0 and leaves `result` alone when the event is
// cut short by `end`, is not well-formed JSON, or is larger than
// limits.max_object_bytes; then any of [begin, end) may have been overwritten,
// and the caller frames and parses the original bytes as usual.
std::size_t parse_leading_watch_event_in_place(char* begin, char* end, WatchEventParseResult& result,
                                              const NodeJsonLimits& limits = {});
// The same parse over the caller's bytes, copying every string: the reference
// the fast path is tested against (differential test, fuzz target).
WatchEventParseResult parse_watch_event_copying(std::string_view json, const NodeJsonLimits& limits = {});

struct NodeListPage {
  std::string resource_version;  // metadata.resourceVersion of the list
  std::string continue_token;    // metadata.continue; empty on the last page
  std::vector<NodeInfo> nodes;   // the well-formed items
  std::vector<std::string> malformed;  // one message per skipped item
};

// A NodeList (one page). Malformed items go to `malformed`; false (and
// `error`) only when the document itself is unusable (not JSON, not a list).
bool parse_node_list(std::string_view json, NodeListPage& page, std::string& error,
                     const NodeJsonLimits& limits = {});

// The same, parsing in place: faster (no string copies), but `json` is
// overwritten (unescaped strings) and must not be used afterwards.
bool parse_node_list_in_place(std::string& json, NodeListPage& page, std::string& error,
                              const NodeJsonLimits& limits = {});

// Best effort: the Status in an error response body (code 0 when it is not one).
ApiStatus parse_status(std::string_view json);

std::string_view to_string(WatchEvent::Type type);

}  // namespace hostgw::k8s
