#pragma once

// Lists of IP values from text, for tests: prefixes({"10.244.0.0/16", ...}).

#include <initializer_list>
#include <vector>

#include "routing/ip.hpp"

namespace hostgw::test_support {

inline std::vector<routing::IpPrefix> prefixes(std::initializer_list<const char*> texts) {
  std::vector<routing::IpPrefix> out;
  for (const char* text : texts) out.push_back(routing::IpPrefix::parse(text));
  return out;
}

inline std::vector<routing::IpAddress> addresses(std::initializer_list<const char*> texts) {
  std::vector<routing::IpAddress> out;
  for (const char* text : texts) out.push_back(routing::IpAddress::parse(text));
  return out;
}

}  // namespace hostgw::test_support
