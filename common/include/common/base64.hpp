#pragma once

// Base64 (RFC 4648, standard alphabet, padded): kubeconfig *-data fields,
// exec credentials, the fake API server's continue tokens. Pure functions.

#include <optional>
#include <string>
#include <string_view>

namespace hostgw::common {

// Padded encoding of `data`.
std::string base64_encode(std::string_view data);

// Strict decoding: whitespace (as in YAML block scalars) is skipped; a length
// that is not a multiple of 4, a character outside the alphabet or padding
// anywhere but the last one or two places gives nullopt.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace hostgw::common
