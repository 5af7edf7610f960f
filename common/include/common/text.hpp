#pragma once

// Small text helpers for messages.

#include <string>
#include <string_view>

namespace hostgw::common {

// "\"text\"": a value quoted in an error message. Built by appending:
// `"\"" + std::string(text)` trips GCC 12's false -Werror=restrict report at
// -O3 in some inlining contexts (GCC bug 105329).
inline std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

}  // namespace hostgw::common
