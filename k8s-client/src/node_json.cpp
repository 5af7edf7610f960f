#include "k8s-client/node_json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stream.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "json_skipper.hpp"
#include "node_list_parts.hpp"

namespace hostgw::k8s {

namespace {

enum class Mode { node, event, list, status };

// What a container is, for the fields kube-hostgw reads.
enum class Ctx : std::uint8_t {
  doc,  // the event or list envelope
  list_meta,
  list_items,
  node,
  node_meta,
  node_spec,
  node_status,
  pod_cidrs,
  addresses,
  address,
  annotations,  // metadata.annotations: only NodeJsonLimits::annotation_keys are kept
};

// Which value the parser is about to see (from the key, or from the array it is in).
enum class Field : std::uint8_t {
  skip,
  event_type,
  event_object,
  list_meta,
  list_items,
  list_rv,
  list_continue,
  metadata,
  spec,
  status,
  name,
  resource_version,
  deletion_timestamp,
  pod_cidr,
  pod_cidrs,
  addresses,
  addr_type,
  addr_address,
  status_code,
  status_reason,
  status_message,
  item,
  pod_cidr_elem,
  address_elem,
  annotations,
  annotation_value,  // the value of a wanted key (Handler::pending_annotation_)
};

const char* field_name(Field field) {
  switch (field) {
    case Field::event_type: return "type";
    case Field::event_object: return "object";
    case Field::list_meta: return "metadata";
    case Field::list_items: return "items";
    case Field::list_rv: return "metadata.resourceVersion";
    case Field::list_continue: return "metadata.continue";
    case Field::metadata: return "metadata";
    case Field::spec: return "spec";
    case Field::status: return "status";
    case Field::name: return "name";
    case Field::resource_version: return "resourceVersion";
    case Field::deletion_timestamp: return "deletionTimestamp";
    case Field::pod_cidr: return "podCIDR";
    case Field::pod_cidrs: return "podCIDRs";
    case Field::addresses: return "addresses";
    case Field::addr_type: return "type";
    case Field::addr_address: return "address";
    case Field::status_code: return "code";
    case Field::status_reason: return "reason";
    case Field::status_message: return "message";
    case Field::annotations: return "annotations";
    default: return "";
  }
}

enum class Kind { string, number, boolean, null, object, array };

const char* kind_phrase(Kind kind) {
  switch (kind) {
    case Kind::string: return "a string";
    case Kind::number: return "a number";
    case Kind::boolean: return "a boolean";
    case Kind::null: return "null";
    case Kind::object: return "an object";
    case Kind::array: return "an array";
  }
  return "a value";
}

struct Frame {
  Ctx ctx;
  bool is_array;
  Field entered_by;
  std::size_t index = 0;  // arrays: index of the element being parsed
};

struct NodeState {
  NodeInfo info;
  std::string pod_cidr;  // spec.podCIDR
  std::string error;     // first problem, "path is X, expected Y"
  std::size_t start_offset = 0;
  std::string addr_type;
  std::string addr_address;
  bool addr_has_address = false;
  bool has_metadata_name = false;
};

std::string quoted_name(std::string_view name) {
  constexpr std::size_t kShown = 80;
  if (name.empty()) return "node";
  std::string out = "node \"";
  if (name.size() > kShown) {
    out.append(name.substr(0, kShown));
    out += "...";
  } else {
    out.append(name);
  }
  out += '"';
  return out;
}

// An in-situ stream that knows where its bytes end: RapidJSON's string scan
// (below) may then take 8 bytes at a time without reading past them.
struct BoundedInsituStream : rapidjson::InsituStringStream {
  BoundedInsituStream(char* begin, const char* end) : rapidjson::InsituStringStream(begin), end_(end) {}
  const char* end_;  // the NUL after the last byte
};

}  // namespace
}  // namespace hostgw::k8s

// RapidJSON's hook for scanning the plain run of a string ("optional
// optimisation"; a no-op for streams it does not know). For our bounded
// in-situ stream: 8 bytes per step up to the first special byte, moving the
// bytes down when an earlier escape made the output lag behind the input.
// Stops at the same byte the per-character loop would, so results, error
// offsets and messages are unchanged (the differential test checks this).
template <>
template <>
inline void rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator>::
    ScanCopyUnescapedString<hostgw::k8s::BoundedInsituStream, hostgw::k8s::BoundedInsituStream>(
        hostgw::k8s::BoundedInsituStream& is, hostgw::k8s::BoundedInsituStream& os) {
  (void)os;  // the same stream: in situ
  char* p = is.src_;
  char* q = is.dst_;
  const char* const end = is.end_;
#if defined(__SSE2__)
  if (q == p) {
    // Nothing unescaped yet (the usual case): 16 bytes per step, nothing moved.
    while (end - p >= 16) {
      const unsigned mask = hostgw::k8s::detail::json_string_special_mask16(p);
      if (mask != 0) {
        p += std::countr_zero(mask);
        is.src_ = p;
        is.dst_ = p;
        return;
      }
      p += 16;
    }
    q = p;
  }
#endif
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (hostgw::k8s::detail::has_json_string_special(word)) break;
    if (q != p) std::memmove(q, p, sizeof word);
    p += 8;
    q += 8;
  }
  while (p < end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20) break;
    *q++ = *p++;
  }
  is.src_ = p;
  is.dst_ = q;
}

namespace hostgw::k8s {
namespace {

// Where the parser is in its input (bytes consumed), whatever the stream type,
// and, for the in-place streams, a way to skip the value of the member whose
// key was just read (skip_member_value below); null for the other streams.
struct Position {
  void* stream;
  std::size_t (*tell)(void*);
  bool (*skip_member_value)(void*, std::size_t max_depth) = nullptr;
  std::size_t operator()() const { return tell(stream); }
};

// Right after a key: if the member's value is one the validating skipper
// accepts (detail::skip_json_value), moves the stream to its end and leaves a
// stand-in for RapidJSON there: the value's last two bytes become ":0", so
// the reader sees the ':' it expects and one number token instead of the
// value's thousands. The bytes skipped are never handed out (they lie after
// everything RapidJSON has read). Offsets after the value are unchanged.
// False (nothing moved) when the skipper refuses: RapidJSON then parses the
// value itself and reports any error exactly as the copying parse does.
bool skip_member_value(BoundedInsituStream& stream, std::size_t max_depth) {
  const char* colon = detail::skip_json_space(stream.src_);
  if (*colon != ':') return false;
  const char* value = detail::skip_json_space(colon + 1);
  const char* after = detail::skip_json_value(value, stream.end_, max_depth);
  if (after == nullptr || after - value < 2) return false;
  // What follows must end a "0" token as it ends the real value ("0.5" would not).
  const char next = *after;
  if (next != ',' && next != '}' && next != ']' && !detail::is_json_space(next)) return false;
  char* stand_in = stream.src_ + (after - stream.src_) - 2;
  stand_in[0] = ':';
  stand_in[1] = '0';
  stream.src_ = stand_in;
  return true;
}

template <typename Stream>
Position position_of(Stream& stream) {
  Position position{&stream, [](void* p) -> std::size_t { return static_cast<Stream*>(p)->Tell(); }};
  if constexpr (std::is_same_v<Stream, BoundedInsituStream>) {
    position.skip_member_value = [](void* p, std::size_t max_depth) {
      return skip_member_value(*static_cast<BoundedInsituStream*>(p), max_depth);
    };
  }
  return position;
}

class Handler {
 public:
  Handler(Mode mode, const NodeJsonLimits& limits, Position stream)
      : mode_(mode), limits_(limits), stream_(stream) {}

  // --- rapidjson SAX interface ---
  bool Null() { return scalar(Kind::null, {}, 0); }
  bool Bool(bool) { return scalar(Kind::boolean, {}, 0); }
  bool Int(int v) { return scalar(Kind::number, {}, v); }
  bool Uint(unsigned v) { return scalar(Kind::number, {}, static_cast<std::int64_t>(v)); }
  bool Int64(std::int64_t v) { return scalar(Kind::number, {}, v); }
  bool Uint64(std::uint64_t v) { return scalar(Kind::number, {}, static_cast<std::int64_t>(v > INT64_MAX ? 0 : v)); }
  bool Double(double) { return scalar(Kind::number, {}, 0); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(Kind::number, {}, 0); }
  bool String(const char* s, rapidjson::SizeType n, bool) { return scalar(Kind::string, {s, n}, 0); }
  bool StartObject() { return start(false); }
  bool StartArray() { return start(true); }
  bool EndObject(rapidjson::SizeType) { return end(); }
  bool EndArray(rapidjson::SizeType) { return end(); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (skip_depth_ > 0) return true;
    if (stack_.back().ctx == Ctx::annotations) {
      pending_ = wanted_annotation(std::string_view(s, n)) ? Field::annotation_value : Field::skip;
      return true;
    }
    pending_ = key_field(stack_.back().ctx, std::string_view(s, n));
    if (pending_ == Field::skip && stream_.skip_member_value != nullptr) {
      // Containers inside the value may nest this much deeper before
      // depth_check() would complain; the skipper refuses anything deeper.
      const std::size_t depth_left = limits_.max_depth > stack_.size() ? limits_.max_depth - stack_.size() : 0;
      stream_.skip_member_value(stream_.stream, depth_left);
    }
    return true;
  }

  // --- starting inside a NodeList (NodeListStreamParser parses its parts apart) ---
  // The parse that follows is the value of the root object's member `key`.
  void enter_list_member(std::string_view key) {
    push(Ctx::doc, false, Field::skip);
    pending_ = key_field(Ctx::doc, key);
  }
  // The parse that follows is element `index` of the root object's "items".
  void enter_list_item(std::size_t index) {
    push(Ctx::doc, false, Field::skip);
    push(Ctx::list_items, true, Field::list_items);
    stack_.back().index = index;
  }
  // The node begun by the last parse (one that stopped early: a cut item).
  const NodeState& partial_node() const { return node_; }

  // --- results ---
  std::string fatal_;  // document-level problem
  // event
  std::string event_type_;
  bool has_event_type_ = false;
  bool has_object_ = false;
  NodeState object_;
  bool object_done_ = false;
  ApiStatus status_;
  // list
  NodeListPage* page_ = nullptr;
  // node mode
  NodeState node_;
  bool node_done_ = false;

 private:
  Field key_field(Ctx ctx, std::string_view key) const {
    switch (ctx) {
      case Ctx::doc:
        if (mode_ == Mode::event) {
          if (key == "type") return Field::event_type;
          if (key == "object") return Field::event_object;
        } else if (mode_ == Mode::list) {
          if (key == "metadata") return Field::list_meta;
          if (key == "items") return Field::list_items;
        }
        return Field::skip;
      case Ctx::list_meta:
        if (key == "resourceVersion") return Field::list_rv;
        if (key == "continue") return Field::list_continue;
        return Field::skip;
      case Ctx::node:
        if (key == "metadata") return Field::metadata;
        if (key == "spec") return Field::spec;
        if (key == "status") return Field::status;
        if (mode_ == Mode::event || mode_ == Mode::status) {
          if (key == "code") return Field::status_code;
          if (key == "reason") return Field::status_reason;
          if (key == "message") return Field::status_message;
        }
        return Field::skip;
      case Ctx::node_meta:
        if (key == "name") return Field::name;
        if (key == "resourceVersion") return Field::resource_version;
        if (key == "deletionTimestamp") return Field::deletion_timestamp;
        if (key == "annotations" && !limits_.annotation_keys.empty()) return Field::annotations;
        return Field::skip;
      case Ctx::node_spec:
        if (key == "podCIDR") return Field::pod_cidr;
        if (key == "podCIDRs") return Field::pod_cidrs;
        return Field::skip;
      case Ctx::node_status:
        if (key == "addresses" && mode_ != Mode::status) return Field::addresses;
        return Field::skip;
      case Ctx::address:
        if (key == "type") return Field::addr_type;
        if (key == "address") return Field::addr_address;
        return Field::skip;
      default:
        return Field::skip;
    }
  }

  // Whether `key` is one of NodeJsonLimits::annotation_keys; remembers it for the value.
  bool wanted_annotation(std::string_view key) {
    for (const auto& wanted : limits_.annotation_keys) {
      if (wanted == key) {
        pending_annotation_ = &wanted;
        return true;
      }
    }
    return false;
  }

  Field current_slot() const {
    const Frame& top = stack_.back();
    if (!top.is_array) return pending_;
    switch (top.ctx) {
      case Ctx::list_items: return Field::item;
      case Ctx::pod_cidrs: return Field::pod_cidr_elem;
      case Ctx::addresses: return Field::address_elem;
      default: return Field::skip;
    }
  }

  NodeState* node_state() {
    if (mode_ == Mode::event) return &object_;
    return &node_;
  }

  // Path of the value about to be parsed, relative to the node object.
  std::string value_path(Field slot) const {
    std::string path;
    for (std::size_t i = node_frame_ + 1; i < stack_.size(); ++i) {
      const Frame& parent = stack_[i - 1];
      if (parent.is_array) {
        path += '[' + std::to_string(parent.index) + ']';
      } else {
        if (!path.empty()) path += '.';
        path += field_name(stack_[i].entered_by);
      }
    }
    if (stack_.back().is_array) {
      path += '[' + std::to_string(stack_.back().index) + ']';
    } else {
      if (!path.empty()) path += '.';
      path += field_name(slot);
    }
    return path;
  }

  void node_error(std::string message) {
    NodeState* node = node_state();
    if (node->error.empty()) node->error = std::move(message);
  }

  void type_error(Field slot, Kind got, const char* expected) {
    if (!in_node()) return;
    node_error(value_path(slot) + " is " + kind_phrase(got) + ", expected " + expected);
  }

  bool in_node() const { return node_frame_ != kNoNode; }

  void begin_node() {
    NodeState* node = node_state();
    *node = NodeState{};
    node->start_offset = stream_() - 1;
    node_frame_ = stack_.size() - 1;
  }

  void end_node() {
    NodeState* node = node_state();
    std::size_t size = stream_() - node->start_offset;
    if (size > limits_.max_object_bytes && node->error.empty())
      node->error = "object is " + std::to_string(size) + " bytes, more than the limit of " +
                    std::to_string(limits_.max_object_bytes);
    if (node->error.empty() && node->info.name.empty()) node->error = "metadata.name is missing";
    if (node->info.pod_cidrs.empty() && !node->pod_cidr.empty()) node->info.pod_cidrs.push_back(node->pod_cidr);
    node_frame_ = kNoNode;
    if (mode_ == Mode::list) {
      if (node->error.empty()) {
        page_->nodes.push_back(std::move(node->info));
      } else {
        page_->malformed.push_back(quoted_name(node->info.name) + ": " + node->error);
      }
    } else if (mode_ == Mode::event) {
      object_done_ = true;
    } else {
      node_done_ = true;
    }
  }

  bool depth_check() {
    if (stack_.size() + skip_depth_ > limits_.max_depth) {
      if (in_node()) {
        node_error("nesting is deeper than " + std::to_string(limits_.max_depth) + " levels");
      } else if (mode_ != Mode::list) {
        fatal_ = "nesting is deeper than " + std::to_string(limits_.max_depth) + " levels";
        return false;
      }
    }
    return true;
  }

  void value_done() {
    if (!stack_.empty() && stack_.back().is_array) ++stack_.back().index;
  }

  void push(Ctx ctx, bool is_array, Field entered_by) { stack_.push_back(Frame{ctx, is_array, entered_by, 0}); }

  // An object or array opening one of the node's own fields: entered, or
  // skipped with a type error when it has the wrong kind.
  void start_node_field(Field slot, bool is_array) {
    const Kind kind = is_array ? Kind::array : Kind::object;
    auto expect = [&](bool want_array, Ctx ctx) {
      if (is_array == want_array) {
        push(ctx, is_array, slot);
      } else {
        type_error(slot, kind, want_array ? "an array" : "an object");
        skip_depth_ = 1;
      }
    };
    switch (slot) {
      case Field::metadata:
        expect(false, Ctx::node_meta);
        break;
      case Field::spec:
        expect(false, Ctx::node_spec);
        break;
      case Field::status:
        expect(false, Ctx::node_status);
        break;
      case Field::pod_cidrs:
        expect(true, Ctx::pod_cidrs);
        if (is_array) node_state()->info.pod_cidrs.clear();
        break;
      case Field::addresses:
        expect(true, Ctx::addresses);
        if (is_array) {
          node_state()->info.internal_ips.clear();
          node_state()->info.external_ips.clear();
        }
        break;
      case Field::annotations:
        expect(false, Ctx::annotations);
        if (!is_array) node_state()->info.annotations.clear();
        break;
      case Field::address_elem:
        expect(false, Ctx::address);
        if (!is_array) {
          NodeState* node = node_state();
          node->addr_type.clear();
          node->addr_address.clear();
          node->addr_has_address = false;
        }
        break;
      default:
        break;
    }
  }

  bool start(bool is_array) {
    Kind kind = is_array ? Kind::array : Kind::object;
    if (skip_depth_ > 0) {
      ++skip_depth_;
      return depth_check();
    }
    if (stack_.empty()) {
      if (is_array) {
        fatal_ = "expected a JSON object, found an array";
        return false;
      }
      if (mode_ == Mode::event || mode_ == Mode::list) {
        push(Ctx::doc, false, Field::skip);
      } else {
        push(Ctx::node, false, Field::skip);
        begin_node();
      }
      return true;
    }
    if (!depth_check()) return false;
    Field slot = current_slot();
    switch (slot) {
      case Field::event_object:
        if (is_array) {
          fatal_ = "object is an array, expected an object";
          return false;
        }
        has_object_ = true;
        push(Ctx::node, false, slot);
        begin_node();
        return true;
      case Field::list_meta:
        if (is_array) {
          fatal_ = "metadata is an array, expected an object";
          return false;
        }
        push(Ctx::list_meta, false, slot);
        return true;
      case Field::list_items:
        if (!is_array) {
          fatal_ = "items is an object, expected an array";
          return false;
        }
        push(Ctx::list_items, true, slot);
        return true;
      case Field::item:
        if (is_array) {
          page_->malformed.push_back("items[" + std::to_string(stack_.back().index) +
                                     "] is an array, expected an object");
          skip_depth_ = 1;
          return true;
        }
        push(Ctx::node, false, slot);
        begin_node();
        return true;
      case Field::metadata:
      case Field::spec:
      case Field::status:
      case Field::pod_cidrs:
      case Field::addresses:
      case Field::address_elem:
      case Field::annotations:
        start_node_field(slot, is_array);
        return true;
      case Field::skip:
        skip_depth_ = 1;
        return true;
      case Field::event_type:
        fatal_ = std::string("type is ") + kind_phrase(kind) + ", expected a string";
        return false;
      case Field::list_rv:
      case Field::list_continue:
        fatal_ = std::string(field_name(slot)) + " is " + kind_phrase(kind) + ", expected a string";
        return false;
      default:
        type_error(slot, kind, slot == Field::status_code ? "a number" : "a string");
        skip_depth_ = 1;
        return true;
    }
  }

  bool end() {
    if (skip_depth_ > 0) {
      if (--skip_depth_ == 0) value_done();
      return true;
    }
    Frame frame = stack_.back();
    switch (frame.ctx) {
      case Ctx::node:
        end_node();
        break;
      case Ctx::address:
        end_address();
        break;
      default:
        break;
    }
    stack_.pop_back();
    value_done();
    return true;
  }

  void end_address() {
    NodeState* node = node_state();
    bool internal = node->addr_type == "InternalIP";
    bool external = node->addr_type == "ExternalIP";
    if (!internal && !external) return;
    std::size_t index = stack_[stack_.size() - 2].index;
    if (!node->addr_has_address) {
      node_error("status.addresses[" + std::to_string(index) + "].address is missing");
      return;
    }
    if (node->info.internal_ips.size() + node->info.external_ips.size() >= limits_.max_addresses) {
      node_error("status.addresses has more than " + std::to_string(limits_.max_addresses) + " InternalIP/ExternalIP entries");
      return;
    }
    (internal ? node->info.internal_ips : node->info.external_ips).push_back(std::move(node->addr_address));
  }

  // A scalar in one of the node's own fields.
  void node_scalar(Field slot, Kind kind, std::string_view text, NodeState& node) {
    const bool is_string = kind == Kind::string;
    const bool is_null = kind == Kind::null;
    switch (slot) {
      case Field::name:
        if (is_string) {
          if (text.size() > limits_.max_name_length) {
            node.info.name = NodeName(text.substr(0, limits_.max_name_length));
            node_error("metadata.name is " + std::to_string(text.size()) + " characters, more than " +
                       std::to_string(limits_.max_name_length));
          } else {
            node.info.name = NodeName(text);
          }
        } else if (!is_null) {
          type_error(slot, kind, "a string");
        }
        break;
      case Field::resource_version:
        if (is_string)
          node.info.resource_version.assign(text);
        else if (!is_null)
          type_error(slot, kind, "a string");
        break;
      case Field::deletion_timestamp:
        if (is_string)
          node.info.deleting = !text.empty();
        else if (is_null)
          node.info.deleting = false;
        else
          type_error(slot, kind, "a string");
        break;
      case Field::pod_cidr:
        if (is_string)
          node.pod_cidr.assign(text);
        else if (!is_null)
          type_error(slot, kind, "a string");
        break;
      case Field::pod_cidr_elem:
        if (!is_string) {
          type_error(slot, kind, "a string");
        } else if (node.info.pod_cidrs.size() >= limits_.max_pod_cidrs) {
          node_error("spec.podCIDRs has more than " + std::to_string(limits_.max_pod_cidrs) + " entries");
        } else {
          node.info.pod_cidrs.emplace_back(text);
        }
        break;
      case Field::address_elem:
        type_error(slot, kind, "an object");
        break;
      case Field::addr_type:
        if (is_string)
          node.addr_type.assign(text);
        else
          type_error(slot, kind, "a string");
        break;
      case Field::addr_address:
        if (is_string) {
          node.addr_address.assign(text);
          node.addr_has_address = true;
        } else {
          type_error(slot, kind, "a string");
        }
        break;
      case Field::annotation_value:
        // The API server only sends strings; anything else is left out (the
        // controller then falls back to the next key or --address-type).
        // A value over the limit is kept cut short: it cannot parse as an
        // address, so the controller says the node's value is invalid.
        // A repeated key overwrites (the last one wins, as for the API server),
        // so at most one entry per wanted key is kept.
        if (is_string) {
          std::string_view value = text.substr(0, limits_.max_annotation_value_bytes);
          auto& kept = node.info.annotations;
          auto same = std::find_if(kept.begin(), kept.end(), [&](const auto& entry) { return entry.first == *pending_annotation_; });
          if (same != kept.end())
            same->second.assign(value);
          else
            kept.emplace_back(*pending_annotation_, std::string(value));
        }
        break;
      default:
        break;
    }
  }

  bool scalar(Kind kind, std::string_view text, std::int64_t number) {
    if (skip_depth_ > 0) return true;
    if (stack_.empty()) {
      fatal_ = std::string("expected a JSON object, found ") + kind_phrase(kind);
      return false;
    }
    Field slot = current_slot();
    bool is_string = kind == Kind::string;
    bool is_null = kind == Kind::null;
    NodeState* node = in_node() ? node_state() : nullptr;
    switch (slot) {
      case Field::skip:
        break;
      case Field::event_type:
        if (!is_string) {
          fatal_ = std::string("type is ") + kind_phrase(kind) + ", expected a string";
          return false;
        }
        event_type_.assign(text);
        has_event_type_ = true;
        break;
      case Field::event_object:
        if (!is_null) {
          fatal_ = std::string("object is ") + kind_phrase(kind) + ", expected an object";
          return false;
        }
        break;
      case Field::list_meta:
      case Field::list_items:
        if (!is_null) {
          fatal_ = std::string(field_name(slot)) + " is " + kind_phrase(kind) + ", expected " +
                   (slot == Field::list_items ? "an array" : "an object");
          return false;
        }
        break;
      case Field::list_rv:
      case Field::list_continue:
        if (is_string) {
          (slot == Field::list_rv ? page_->resource_version : page_->continue_token).assign(text);
        } else if (!is_null) {
          fatal_ = std::string(field_name(slot)) + " is " + kind_phrase(kind) + ", expected a string";
          return false;
        }
        break;
      case Field::item:
        page_->malformed.push_back("items[" + std::to_string(stack_.back().index) + "] is " + kind_phrase(kind) +
                                   ", expected an object");
        break;
      case Field::metadata:
      case Field::spec:
      case Field::status:
        if (!is_null) type_error(slot, kind, "an object");
        break;
      case Field::pod_cidrs:
      case Field::addresses:
        if (!is_null) type_error(slot, kind, "an array");
        break;
      case Field::annotations:
        if (!is_null) type_error(slot, kind, "an object");
        break;
      case Field::name:
      case Field::resource_version:
      case Field::deletion_timestamp:
      case Field::pod_cidr:
      case Field::pod_cidr_elem:
      case Field::address_elem:
      case Field::addr_type:
      case Field::addr_address:
      case Field::annotation_value:
        node_scalar(slot, kind, text, *node);
        break;
      case Field::status_code:
        if (kind == Kind::number && number >= 0 && number < 1000) status_.code = static_cast<int>(number);
        break;
      case Field::status_reason:
        if (is_string) status_.reason.assign(text);
        break;
      case Field::status_message:
        if (is_string) status_.message.assign(text.substr(0, 1024));
        break;
    }
    value_done();
    return true;
  }

  static constexpr std::size_t kNoNode = static_cast<std::size_t>(-1);

  Mode mode_;
  const NodeJsonLimits& limits_;
  Position stream_;
  std::vector<Frame> stack_;
  std::size_t skip_depth_ = 0;
  std::size_t node_frame_ = kNoNode;
  Field pending_ = Field::skip;
  const std::string* pending_annotation_ = nullptr;  // the wanted key of an annotation_value
};

// Runs the parse; returns "" or a message for a document-level problem.
// `base_offset`: where the parsed bytes start in the whole document (error offsets).
// `completed` (when given) tells whether the parse reached the end of the root
// value without any error (then the stream stands right after it).
template <unsigned kFlags, typename Stream>
std::string run(Handler& handler, Stream& stream, std::size_t base_offset = 0, bool* completed = nullptr) {
  rapidjson::Reader reader;
  rapidjson::ParseResult result = reader.Parse<kFlags | rapidjson::kParseIterativeFlag>(stream, handler);
  if (completed) *completed = !result.IsError() && handler.fatal_.empty();
  if (!handler.fatal_.empty()) return handler.fatal_;
  if (result.IsError()) {
    std::string message = "invalid JSON at byte ";
    message += std::to_string(base_offset + result.Offset());
    message += ": ";
    message += rapidjson::GetParseError_En(result.Code());
    return message;
  }
  return {};
}

std::string run(Handler& handler, rapidjson::MemoryStream& stream) {
  return run<rapidjson::kParseNoFlags>(handler, stream);
}

// parse_watch_event() keeps its copy buffer up to this size between calls.
constexpr std::size_t kKeptParseBufferBytes = 64 * 1024;

std::string too_large(std::size_t size, std::size_t limit) {
  return "object is " + std::to_string(size) + " bytes, more than the limit of " + std::to_string(limit);
}

}  // namespace

std::string_view to_string(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::added: return "ADDED";
    case WatchEvent::Type::modified: return "MODIFIED";
    case WatchEvent::Type::deleted: return "DELETED";
    case WatchEvent::Type::bookmark: return "BOOKMARK";
    case WatchEvent::Type::error: return "ERROR";
  }
  return "UNKNOWN";
}

NodeParseResult parse_node(std::string_view json, const NodeJsonLimits& limits) {
  NodeParseResult result;
  if (json.size() > limits.max_object_bytes) {
    result.error = "node: " + too_large(json.size(), limits.max_object_bytes);
    return result;
  }
  rapidjson::MemoryStream stream(json.data(), json.size());
  Handler handler(Mode::node, limits, position_of(stream));
  std::string fatal = run(handler, stream);
  result.name = handler.node_.info.name;
  if (!fatal.empty()) {
    result.error = quoted_name(result.name) + ": " + fatal;
    return result;
  }
  if (!handler.node_done_) {
    result.error = "node: expected a JSON object";
    return result;
  }
  if (!handler.node_.error.empty()) {
    result.error = quoted_name(result.name) + ": " + handler.node_.error;
    return result;
  }
  result.node = std::move(handler.node_.info);
  return result;
}

namespace {

// The watch event parse over either stream: MemoryStream (strings copied) or
// InsituStringStream (strings unescaped in place, nothing copied).
template <unsigned kFlags, typename Stream>
WatchEventParseResult parse_watch_event_from(Stream& stream, const NodeJsonLimits& limits, bool* completed = nullptr) {
  WatchEventParseResult result;
  Handler handler(Mode::event, limits, position_of(stream));
  std::string fatal = run<kFlags>(handler, stream, 0, completed);
  result.node_name = handler.object_.info.name;
  auto fail = [&](const std::string& what) {
    std::string where = "watch event";
    if (handler.has_event_type_) where += " " + handler.event_type_;
    if (!result.node_name.empty()) where += " for " + quoted_name(result.node_name);
    result.error = where + ": " + what;
    return result;
  };
  if (!fatal.empty()) return fail(fatal);
  if (!handler.has_event_type_) return fail("type is missing");
  if (!handler.has_object_ || !handler.object_done_) return fail("object is missing");
  WatchEvent event;
  const std::string& type = handler.event_type_;
  if (type == "ADDED")
    event.type = WatchEvent::Type::added;
  else if (type == "MODIFIED")
    event.type = WatchEvent::Type::modified;
  else if (type == "DELETED")
    event.type = WatchEvent::Type::deleted;
  else if (type == "BOOKMARK")
    event.type = WatchEvent::Type::bookmark;
  else if (type == "ERROR")
    event.type = WatchEvent::Type::error;
  else
    return fail("type \"" + type.substr(0, 40) + "\" is not ADDED, MODIFIED, DELETED, BOOKMARK or ERROR");
  switch (event.type) {
    case WatchEvent::Type::bookmark:
      if (handler.object_.info.resource_version.empty()) return fail("object.metadata.resourceVersion is missing");
      event.node.resource_version = std::move(handler.object_.info.resource_version);
      break;
    case WatchEvent::Type::error:
      event.status = std::move(handler.status_);
      break;
    default:
      if (!handler.object_.error.empty()) {
        result.error = quoted_name(result.node_name) + ": " + handler.object_.error;
        if (result.node_name.empty()) result.error = "watch event " + type + ": " + handler.object_.error;
        return result;
      }
      event.node = std::move(handler.object_.info);
      break;
  }
  result.event = std::move(event);
  return result;
}

}  // namespace

WatchEventParseResult parse_watch_event(std::string_view json, const NodeJsonLimits& limits) {
  if (json.size() > limits.max_object_bytes) {
    WatchEventParseResult result;
    result.error = "watch event: " + too_large(json.size(), limits.max_object_bytes);
    return result;
  }
  // In situ over a private copy: RapidJSON then hands out strings where they
  // lie instead of copying every one (most of a heartbeat's bytes are strings
  // nobody reads). The copy ends with a NUL, where MemoryStream reports its end
  // as NUL too, so offsets and messages are the same as parse_watch_event_copying().
  // One thread (one io_context) per process: the buffer is reused.
  thread_local std::string buffer;
  buffer.assign(json);
  WatchEventParseResult result = parse_watch_event_in_place(buffer, limits);
  if (buffer.capacity() > kKeptParseBufferBytes) std::string().swap(buffer);  // a rare big object: give it back
  return result;
}

WatchEventParseResult parse_watch_event_in_place(std::string& json, const NodeJsonLimits& limits) {
  if (json.size() > limits.max_object_bytes) {
    WatchEventParseResult result;
    result.error = "watch event: " + too_large(json.size(), limits.max_object_bytes);
    return result;
  }
  // std::string keeps a NUL after its last byte, which ends the stream as
  // MemoryStream's end does for the copying parse.
  BoundedInsituStream stream(json.data(), json.data() + json.size());
  return parse_watch_event_from<rapidjson::kParseInsituFlag>(stream, limits);
}

std::size_t parse_leading_watch_event_in_place(char* begin, char* end, WatchEventParseResult& result,
                                              const NodeJsonLimits& limits) {
  if (begin == end || *begin != '{') return 0;
  // Stops right after the root object: the bytes after it (the next events)
  // are never looked at. When the parse completes, the bytes it read form one
  // well-formed JSON object, which is exactly the frame the watch framer
  // would cut there, and nothing after that object influenced the parse (the
  // skipper's wide loads past a closing quote are masked off): the result is
  // the one parse_watch_event_in_place() gives over that frame alone.
  BoundedInsituStream stream(begin, end);
  bool completed = false;
  WatchEventParseResult parsed =
      parse_watch_event_from<rapidjson::kParseInsituFlag | rapidjson::kParseStopWhenDoneFlag>(stream, limits, &completed);
  const std::size_t size = stream.Tell();
  // Cut short, malformed, or stopped by the handler: the end is unknown.
  // Over the limit: the framer reports it (and never buffers it).
  if (!completed || size > limits.max_object_bytes) return 0;
  result = std::move(parsed);
  return size;
}

WatchEventParseResult parse_watch_event_copying(std::string_view json, const NodeJsonLimits& limits) {
  if (json.size() > limits.max_object_bytes) {
    WatchEventParseResult result;
    result.error = "watch event: " + too_large(json.size(), limits.max_object_bytes);
    return result;
  }
  rapidjson::MemoryStream stream(json.data(), json.size());
  return parse_watch_event_from<rapidjson::kParseNoFlags>(stream, limits);
}

bool parse_node_list(std::string_view json, NodeListPage& page, std::string& error, const NodeJsonLimits& limits) {
  rapidjson::MemoryStream stream(json.data(), json.size());
  Handler handler(Mode::list, limits, position_of(stream));
  handler.page_ = &page;
  std::string fatal = run(handler, stream);
  if (!fatal.empty()) {
    error = "node list: " + fatal;
    return false;
  }
  return true;
}

namespace {

// A NodeList, or a part of one, parsed in place into `page`: `enter` puts the
// handler where the part lies in the document (nothing for the whole list).
// In situ: strings are unescaped inside `json` itself, nothing is copied;
// std::string keeps a NUL after its last byte, which ends the stream.
template <typename Enter>
std::string parse_list_in_place(std::string& json, NodeListPage& page, const NodeJsonLimits& limits,
                                std::size_t base_offset, Enter&& enter) {
  BoundedInsituStream stream(json.data(), json.data() + json.size());
  Handler handler(Mode::list, limits, position_of(stream));
  handler.page_ = &page;
  enter(handler);
  return run<rapidjson::kParseInsituFlag>(handler, stream, base_offset);
}

}  // namespace

bool parse_node_list_in_place(std::string& json, NodeListPage& page, std::string& error, const NodeJsonLimits& limits) {
  std::string fatal = parse_list_in_place(json, page, limits, 0, [](Handler&) {});
  if (!fatal.empty()) {
    error = "node list: " + fatal;
    return false;
  }
  return true;
}

namespace detail {

std::string parse_node_list_member_in_place(std::string& value, std::string_view key, NodeListPage& page,
                                            const NodeJsonLimits& limits, std::size_t base_offset) {
  return parse_list_in_place(value, page, limits, base_offset, [&](Handler& handler) { handler.enter_list_member(key); });
}

std::string parse_node_list_item_in_place(std::string& value, std::size_t index, NodeListPage& page,
                                          const NodeJsonLimits& limits, std::size_t base_offset) {
  return parse_list_in_place(value, page, limits, base_offset, [&](Handler& handler) { handler.enter_list_item(index); });
}

std::string oversized_node_list_item(std::string& head, std::size_t size, const NodeJsonLimits& limits) {
  BoundedInsituStream stream(head.data(), head.data() + head.size());
  Handler handler(Mode::list, limits, position_of(stream));
  NodeListPage ignored;
  handler.page_ = &ignored;
  handler.enter_list_item(0);
  // The head ends inside the object: RapidJSON stops there with an error, which
  // is not the item's (its bytes go on); what was read before it counts.
  (void)run<rapidjson::kParseInsituFlag>(handler, stream);
  const NodeState& node = handler.partial_node();
  return quoted_name(node.info.name) + ": " +
         (node.error.empty() ? too_large(size, limits.max_object_bytes) : node.error);
}

}  // namespace detail

ApiStatus parse_status(std::string_view json) {
  NodeJsonLimits limits;
  rapidjson::MemoryStream stream(json.data(), json.size());
  Handler handler(Mode::status, limits, position_of(stream));
  if (!run(handler, stream).empty()) return {};
  return handler.status_;
}

}  // namespace hostgw::k8s
