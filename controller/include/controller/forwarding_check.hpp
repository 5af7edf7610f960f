#pragma once

// Is this host forwarding IP packets? host-gw needs net.ipv4.ip_forward (and
// net.ipv6.conf.all.forwarding for an IPv6 podCIDR); with it off the kernel
// silently drops pod traffic between nodes. kube-hostgw only reads these
// sysctls (never writes them), exports them as a metric and logs once when
// one it needs is off.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hostgw::controller {

// The sysctl files, relative to a /proc/sys/net root (tests pass a folder of their own).
inline constexpr std::string_view kIpv4ForwardingFile = "ipv4/ip_forward";
inline constexpr std::string_view kIpv6ForwardingFile = "ipv6/conf/all/forwarding";

// A sysctl's text ("1\n") as a flag: nullopt when it is not a number.
// Any non-zero number is on (ip_forward holds 0 or 1; forwarding 0, 1 or 2 on
// old kernels).
std::optional<bool> parse_sysctl_flag(std::string_view text);

struct ForwardingState {
  std::optional<bool> ipv4;  // nullopt: could not be read (error says why)
  std::optional<bool> ipv6;  // nullopt also when the host has no IPv6 (no such file)
  std::string error;         // first read failure, naming the file; empty if none

  friend bool operator==(const ForwardingState&, const ForwardingState&) = default;
};

// Reads both files under `net_root` (default /proc/sys/net). Never throws.
ForwardingState read_forwarding(const std::filesystem::path& net_root = "/proc/sys/net");

// The gauge kube_hostgw_ip_forwarding{family=...}: 1 on, 0 off, -1 unknown.
int forwarding_gauge(std::optional<bool> flag);

// Turns successive readings into log lines: one clear line when a family this
// node needs (it has a podCIDR of that family) is off or unreadable, and one
// when it is back on; nothing while nothing changes. Owns only that memory.
class ForwardingCheck {
 public:
  std::vector<std::string> update(const ForwardingState& state, bool need_ipv4, bool need_ipv6);

 private:
  enum class Reported { nothing, problem };
  Reported ipv4_ = Reported::nothing;
  Reported ipv6_ = Reported::nothing;
};

}  // namespace hostgw::controller
