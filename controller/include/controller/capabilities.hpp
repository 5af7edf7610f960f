#pragma once

// The one capability kube-hostgw needs, CAP_NET_ADMIN, made effective at start.
//
// The image gives the binary a *permitted-only* file capability
// (`setcap cap_net_admin+p`): exec'ing it never fails, whatever the caller's
// bounding set holds (an effective-bit file capability makes the kernel refuse
// the exec when the capability cannot be granted, e.g. `docker run image --help`).
// A non-root process that received NET_ADMIN that way still has to raise it
// into its effective set itself: that is raise_net_admin(). uid 0 normally
// has it effective already. Nothing here ever adds a capability the process
// was not permitted.

#include <string>

namespace hostgw::controller {

enum class NetAdminState {
  effective,      // already effective (uid 0 with NET_ADMIN in the bounding set)
  raised,         // was permitted only; now effective
  not_permitted,  // not even permitted: route changes will fail with EPERM
  unknown,        // capget/capset failed (message says why)
};

struct NetAdminResult {
  NetAdminState state = NetAdminState::unknown;
  std::string message;  // for not_permitted / unknown: what to do
};

// Makes CAP_NET_ADMIN effective if it is permitted. Touches no other capability.
NetAdminResult raise_net_admin();

std::string_view to_string(NetAdminState state);

}  // namespace hostgw::controller
