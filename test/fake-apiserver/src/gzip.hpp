#pragma once

// gzip (RFC 1952) with zlib, for Content-Encoding: gzip.

#include <string>
#include <string_view>

namespace hostgw::testing {

// Throws std::runtime_error if zlib fails.
std::string gzip_compress(std::string_view data, int level = 1);
// Throws std::runtime_error for data that is not a complete gzip stream.
std::string gzip_decompress(std::string_view data);

}  // namespace hostgw::testing
