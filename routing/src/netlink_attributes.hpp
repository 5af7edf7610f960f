#pragma once

// The netlink attribute and message-building helpers both wire-format files
// share (netlink_message.cpp: routes, links, addresses, ACKs;
// netlink_overlay_message.cpp: the VXLAN device, neighbours, FDB). Internal
// to the routing wire library: pure functions over bytes, no socket.

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hostgw::routing::netlink::detail {

// Stores `what` in `*error` (if given) and returns nullopt.
template <typename T>
std::optional<T> fail(std::string* error, std::string what) {
  if (error) *error = std::move(what);
  return std::nullopt;
}

// The fixed part after the header, checked for length and copied out (the
// bytes need not be aligned). `what` names the message kind for the error.
template <typename Fixed>
std::optional<Fixed> fixed_part(std::span<const std::uint8_t> message, std::string* error, const char* what) {
  if (message.size() < NLMSG_HDRLEN + sizeof(Fixed)) {
    return fail<Fixed>(error, std::string(what) + " message of " + std::to_string(message.size()) +
                                  " bytes is shorter than its " + std::to_string(NLMSG_HDRLEN + sizeof(Fixed)) +
                                  "-byte fixed part");
  }
  Fixed fixed;
  std::memcpy(&fixed, message.data() + NLMSG_HDRLEN, sizeof fixed);
  return fixed;
}

// The attribute part of a message whose fixed part is `fixed_size` bytes
// (empty if the message ends before it).
inline std::span<const std::uint8_t> attributes_of(std::span<const std::uint8_t> message, std::size_t fixed_size) {
  const std::size_t start = NLMSG_HDRLEN + NLMSG_ALIGN(fixed_size);
  return start >= message.size() ? std::span<const std::uint8_t>() : message.subspan(start);
}

// Walks the attributes in `area` (a message's attribute part, or a nested
// attribute's payload) and calls visit(type, payload). False, with `error`
// set naming `where`, if an attribute's length runs past the area.
template <typename Visit>
bool for_each_attribute(std::span<const std::uint8_t> area, std::string* error, const char* where, Visit&& visit) {
  std::size_t offset = 0;
  while (offset + sizeof(nlattr) <= area.size()) {
    nlattr attr;
    std::memcpy(&attr, area.data() + offset, sizeof attr);
    if (attr.nla_len < sizeof(nlattr) || offset + attr.nla_len > area.size()) {
      if (error) {
        *error = std::string(where) + " attribute type " + std::to_string(attr.nla_type & NLA_TYPE_MASK) +
                 " at offset " + std::to_string(offset) + " has length " + std::to_string(attr.nla_len) +
                 " past the message end (" + std::to_string(area.size() - offset) + " bytes left)";
      }
      return false;
    }
    visit(static_cast<std::uint16_t>(attr.nla_type & NLA_TYPE_MASK),
          area.subspan(offset + sizeof(nlattr), attr.nla_len - sizeof(nlattr)));
    offset += NLMSG_ALIGN(attr.nla_len);
  }
  return true;
}

// A fixed-size attribute value (unaligned copy); nullopt if the payload is shorter.
template <typename Value>
std::optional<Value> read_value(std::span<const std::uint8_t> payload) {
  if (payload.size() < sizeof(Value)) return std::nullopt;
  Value value;
  std::memcpy(&value, payload.data(), sizeof value);
  return value;
}

// A string attribute, up to its first NUL.
inline std::string read_string(std::span<const std::uint8_t> payload) {
  std::string text(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
  return text;
}

// Starts a message at the end of `buffer` (its offset goes to `start`) with
// `room` zeroed bytes for it; end_message() trims the buffer to the message's
// final length.
inline nlmsghdr* begin_message(std::vector<std::uint8_t>& buffer, std::size_t& start, std::size_t room,
                               std::uint16_t type, std::uint16_t flags, std::uint32_t seq) {
  start = buffer.size();
  buffer.resize(start + room);
  std::memset(buffer.data() + start, 0, room);
  nlmsghdr* header = mnl_nlmsg_put_header(buffer.data() + start);
  header->nlmsg_type = type;
  header->nlmsg_flags = flags;
  header->nlmsg_seq = seq;
  return header;
}

// Trims `buffer` to end with the message `header` (begun by begin_message at
// offset `start`); returns the message's length.
inline std::size_t end_message(std::vector<std::uint8_t>& buffer, std::size_t start, const nlmsghdr* header) {
  const std::size_t length = header->nlmsg_len;
  buffer.resize(start + length);
  return length;
}

}  // namespace hostgw::routing::netlink::detail
