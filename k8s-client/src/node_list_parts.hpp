#pragma once

// The parts of a NodeList, parsed apart: what NodeListStreamParser
// (node_list_stream.cpp) runs on the values it frames, with the very Handler
// parse_node_list_in_place runs over the whole document (node_json.cpp), so
// the validation, limits and messages are the same. Internal to k8s-client.

#include <cstddef>
#include <string>
#include <string_view>

#include "k8s-client/node_json.hpp"

namespace hostgw::k8s::detail {

// The value of the root object's member `key` (its name, unescaped), exactly
// as the whole-document parse takes it there: "metadata" sets the page's
// resourceVersion / continue token, "items" must be an array (only null
// reaches here), anything else is checked and skipped. Parsed in place:
// `value` is overwritten. `base_offset`: where the value starts in the body,
// for error offsets. Returns "" or the document-level error.
std::string parse_node_list_member_in_place(std::string& value, std::string_view key, NodeListPage& page,
                                            const NodeJsonLimits& limits, std::size_t base_offset);

// Element `index` of "items": a node appended to page.nodes, or a message to
// page.malformed. In place. Returns "" or the document-level error (invalid JSON).
std::string parse_node_list_item_in_place(std::string& value, std::size_t index, NodeListPage& page,
                                          const NodeJsonLimits& limits, std::size_t base_offset);

// The malformed-item message for an object of `size` bytes, more than
// max_object_bytes, whose first bytes are `head`: the node's name and first
// problem when they lie in `head`, else "object is N bytes, more than the
// limit of L". In place.
std::string oversized_node_list_item(std::string& head, std::size_t size, const NodeJsonLimits& limits);

}  // namespace hostgw::k8s::detail
