#pragma once

// NodeListStreamParser: one NodeList page (a LIST response body) parsed as its
// bytes arrive, in chunks cut anywhere, with the result
// parse_node_list_in_place() gives for the whole body.
//
// It frames the document's top level itself (the root object's members, and
// each element of "items", tracking only strings and nesting) and parses each
// framed value with the parse parse_node_list_in_place() runs at that place
// (src/node_list_parts.hpp): same validation, limits, malformed-node handling
// and messages. One element is buffered at a time, never the page: memory is
// the largest item (at most NodeJsonLimits::max_object_bytes) plus the nodes.
// metadata.resourceVersion and metadata.continue are taken wherever the
// members come (kube-apiserver sends kind, apiVersion, metadata, items).
//
// Malformed JSON ends the parse with an error naming the byte offset, like the
// whole-body parse (the wording of an error in the framing itself may differ).
// Where it differs from the whole-body parse, on hostile input only:
//  - an item larger than max_object_bytes is not buffered: it is reported as
//    malformed ("object is N bytes, more than the limit of L", with the node's
//    name and first problem when they lie in its first max_object_bytes
//    bytes); its bytes past that are framed, not validated, so invalid JSON
//    there does not refuse the page (the whole-body parse would);
//  - a member of the root object other than "items" larger than
//    max_object_bytes refuses the page (the whole-body parse reads it).
// Pure: no I/O; the caller feeds bytes as they arrive.

#include <cstddef>
#include <string>
#include <string_view>

#include "k8s-client/node_json.hpp"

namespace hostgw::k8s {

class NodeListStreamParser {
 public:
  // Items are appended to page.nodes / page.malformed as each one is parsed;
  // page.resource_version and page.continue_token are set when read (they
  // keep their values otherwise). `page` must outlive the parser.
  explicit NodeListStreamParser(NodeListPage& page, NodeJsonLimits limits = {});

  // Consumes the next bytes of the body. False on an error (see error()); the
  // parser then stays failed and ignores further bytes.
  bool feed(std::string_view data);
  // The body has ended: true if it held one complete NodeList, else false
  // and error() says why (e.g. it was cut short).
  bool finish();

  bool failed() const { return !error_.empty(); }
  // "node list: ...", as parse_node_list_in_place() says it.
  const std::string& error() const { return error_; }
  // Bytes consumed so far.
  std::size_t offset() const { return offset_; }

 private:
  enum class State : unsigned char {
    before_doc,       // whitespace, then '{'
    before_key,       // after '{': a key or '}'
    before_next_key,  // after ',': a key
    in_key,
    before_colon,
    before_value,  // a member's value
    in_value,      // framing a member's value or an item into value_
    items_start,   // after "items": '[': an item or ']'
    items_next,    // after ',': an item
    after_item,    // ',' or ']'
    after_member,  // ',' or '}'
    after_doc,     // whitespace only
    ignoring,      // a NUL after the document: the rest is not read (as RapidJSON stops there)
    failed,
  };
  enum class ValueKind : unsigned char { object, array, string, scalar };

  const char* step(const char* p, const char* end);
  const char* scan_key(const char* p, const char* end);
  const char* scan_value(const char* p, const char* end);
  // A value (a member's, or an item when `item`) starting at `p` (not consumed).
  bool start_value(const char* p, bool item);
  bool finish_key();
  bool finish_value();
  bool fail_at(std::size_t offset, std::string_view what);  // "invalid JSON at byte N: what"
  bool fail(const char* p, std::string_view what);           // the same at `p`
  bool fail_message(std::string message);
  std::size_t offset_of(const char* p) const { return offset_ + static_cast<std::size_t>(p - chunk_); }

  NodeListPage& page_;
  NodeJsonLimits limits_;
  State state_ = State::before_doc;
  std::string error_;
  std::size_t offset_ = 0;       // bytes consumed before the current chunk
  const char* chunk_ = nullptr;  // the current chunk's first byte
  // the member's key (raw between the quotes, then unescaped)
  std::string key_;
  bool key_escaped_ = false;  // has a '\\' or a control byte: RapidJSON unescapes / refuses it
  bool in_items_ = false;     // the value being framed is an item (else a member's value)
  std::size_t item_index_ = 0;
  // the value being framed
  std::string value_;
  ValueKind value_kind_ = ValueKind::scalar;
  char value_first_ = 0;
  std::size_t value_start_ = 0;  // its offset in the body
  std::size_t value_size_ = 0;   // bytes so far (value_ holds at most max_object_bytes of them)
  std::size_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
};

}  // namespace hostgw::k8s
