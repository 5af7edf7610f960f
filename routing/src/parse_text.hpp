#pragma once

// Text helpers the strict parsers of the routing wire library share (ip.cpp,
// overlay_table.cpp): quoting refused input for an error message, hex digits.

#include <string>
#include <string_view>

namespace hostgw::routing::detail {

// `text` in double quotes, control bytes escaped (\xNN) so a log line stays one line.
inline std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
      out += kHex[static_cast<unsigned char>(c) & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// The value of a hex digit (either case), -1 for anything else.
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace hostgw::routing::detail
