#include "routing/nexthop.hpp"

#include <algorithm>

namespace hostgw::routing {

std::string Nexthop::to_string() const {
  std::string out = "id " + std::to_string(id) + " via " + gateway.to_string();
  if (oif != 0) out += " dev #" + std::to_string(oif);
  out += " proto " + std::to_string(protocol);
  if (onlink) out += " onlink";
  return out;
}

std::uint32_t free_nexthop_id(const std::vector<std::uint32_t>& used, std::uint32_t from) {
  std::uint32_t id = std::max(from, kNexthopIdFirst);
  auto it = std::lower_bound(used.begin(), used.end(), id);
  for (; id <= kNexthopIdLast; ++id, ++it) {
    if (it == used.end() || *it != id) return id;
  }
  return 0;
}

}  // namespace hostgw::routing
