#include "controller/capabilities.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hostgw::controller {

namespace {

// libcap is not worth a dependency for one bit: the raw syscalls, version 3
// (two 32-bit words per set; CAP_NET_ADMIN = 12 lives in the first).
struct CapabilitySets {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
};

constexpr std::uint32_t kNetAdminBit = 1u << CAP_NET_ADMIN;

}  // namespace

std::string_view to_string(NetAdminState state) {
  switch (state) {
    case NetAdminState::effective:
      return "effective";
    case NetAdminState::raised:
      return "raised";
    case NetAdminState::not_permitted:
      return "not_permitted";
    case NetAdminState::unknown:
      return "unknown";
  }
  return "unknown";
}

NetAdminResult raise_net_admin() {
  CapabilitySets caps;
  if (syscall(SYS_capget, &caps.header, caps.data) != 0) {
    return {NetAdminState::unknown, std::string("capget failed: ") + std::strerror(errno)};
  }
  if (caps.data[0].effective & kNetAdminBit) return {NetAdminState::effective, {}};
  if (!(caps.data[0].permitted & kNetAdminBit)) {
    return {NetAdminState::not_permitted,
            "CAP_NET_ADMIN is not permitted: run as uid 0 with capabilities.add [NET_ADMIN], or as non-root "
            "with the image's file capability and allowPrivilegeEscalation: true (docs/deploying.md)"};
  }
  caps.data[0].effective |= kNetAdminBit;
  if (syscall(SYS_capset, &caps.header, caps.data) != 0) {
    return {NetAdminState::unknown, std::string("capset CAP_NET_ADMIN failed: ") + std::strerror(errno)};
  }
  return {NetAdminState::raised, {}};
}

}  // namespace hostgw::controller
