#include "controller/forwarding_check.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hostgw::controller {

std::optional<bool> parse_sysctl_flag(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  long value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value != 0;
}

namespace {

std::optional<bool> read_flag(const std::filesystem::path& file, bool absent_is_error, std::string& error) {
  std::ifstream in(file);
  if (!in) {
    const int code = errno;
    if (code == ENOENT && !absent_is_error) return std::nullopt;
    if (error.empty()) error = "cannot read " + file.string() + ": " + std::strerror(code ? code : EIO);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto flag = parse_sysctl_flag(text.str());
  if (!flag && error.empty()) error = file.string() + " holds \"" + text.str() + "\", not a number";
  return flag;
}

}  // namespace

ForwardingState read_forwarding(const std::filesystem::path& net_root) {
  ForwardingState state;
  state.ipv4 = read_flag(net_root / kIpv4ForwardingFile, true, state.error);
  // A kernel booted with ipv6.disable=1 has no such file: no IPv6 to forward.
  state.ipv6 = read_flag(net_root / kIpv6ForwardingFile, false, state.error);
  return state;
}

int forwarding_gauge(std::optional<bool> flag) {
  if (!flag) return -1;
  return *flag ? 1 : 0;
}

std::vector<std::string> ForwardingCheck::update(const ForwardingState& state, bool need_ipv4, bool need_ipv6) {
  std::vector<std::string> lines;
  auto check = [&](Reported& reported, std::optional<bool> flag, bool needed, const char* sysctl, const char* family) {
    const bool problem = needed && flag != true;
    if (problem && reported == Reported::nothing) {
      if (!flag) {
        lines.push_back(std::string("warning: cannot tell whether ") + family + " forwarding is on (" + sysctl +
                        (state.error.empty() ? "" : ": " + state.error) + "); if it is off, " + family +
                        " pod traffic between nodes is dropped");
      } else {
        lines.push_back(std::string("error: ") + sysctl + " is 0: this host does not forward " + family +
                        " packets, so " + family +
                        " pod traffic to and from other nodes is dropped; kube-hostgw does not change sysctls: "
                        "set " +
                        sysctl + "=1 (e.g. in /etc/sysctl.d/)");
      }
      reported = Reported::problem;
    } else if (!problem && reported == Reported::problem) {
      lines.push_back(std::string("info: ") + sysctl + (needed ? " is 1 again: " : " no longer needed: ") + family +
                      " forwarding problem resolved");
      reported = Reported::nothing;
    }
  };
  check(ipv4_, state.ipv4, need_ipv4, "net.ipv4.ip_forward", "IPv4");
  check(ipv6_, state.ipv6, need_ipv6, "net.ipv6.conf.all.forwarding", "IPv6");
  return lines;
}

}  // namespace hostgw::controller
