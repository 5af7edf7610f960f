#pragma once

// The daemon's flags: parsing (Boost.Program_options), validation and --help.
// Parsing is pure: the environment ($NODE_NAME, the host name) is passed in.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/desired_overlay.hpp"
#include "controller/desired_routes.hpp"
#include "routing/ip.hpp"

namespace hostgw::controller {

// A bad flag: the message is one line naming the flag, e.g.
// `--route-protocol: "300" is not a number from 5 to 255`. Exit code 2.
class OptionsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BindAddress {
  routing::IpAddress address;
  std::uint16_t port = 0;
  std::string to_string() const;  // "0.0.0.0:2401", "[::1]:2401"
};

struct Options {
  std::string kubeconfig;  // empty: in-cluster configuration
  std::string context;     // empty: the kubeconfig's current-context
  std::string node_name;
  std::vector<routing::IpPrefix> cluster_cidrs;
  std::chrono::milliseconds resync_period{60000};
  // Longest wait between attempts to reach the API server (client-go's reflector: 30 s).
  std::chrono::milliseconds api_backoff_max{30000};
  std::uint8_t route_protocol = 44;
  std::uint32_t route_table = 254;
  AddressTypes address_types = AddressTypes::internal_only;
  CrossSubnet cross_subnet = CrossSubnet::vxlan;
  std::uint32_t vxlan_vni = kDefaultVxlanVni;
  std::uint16_t vxlan_port = kDefaultVxlanPort;
  std::optional<BindAddress> healthz;  // nullopt: disabled
  std::string subnet_file;             // empty: not written
  // The pod network (docs/operations.md).
  std::string cni_conf_dir;                            // empty: no conflist written
  std::string cni_ipam_data_dir;                       // empty: host-local's default
  std::optional<std::uint32_t> mtu;                    // nullopt: from the node's link
  bool masquerade = false;                             // --masquerade
  std::vector<routing::IpPrefix> no_masquerade_cidrs;  // --no-masquerade-cidr
  bool own_pod_cidr_routes = true;                     // --no-own-pod-cidr-route turns it off
  bool set_node_network_available = false;
  bool dry_run = false;
  int verbosity = 0;

  bool show_help = false;
  bool show_version = false;
};

struct Environment {
  std::optional<std::string> node_name;  // $NODE_NAME
  std::string hostname;
};

// The real environment of this process.
Environment current_environment();

// Parses argv (argv[0] is the program name). Throws OptionsError.
Options parse_options(int argc, const char* const* argv, const Environment& environment);

// The --help text: every flag with its default.
std::string help_text();

// "60s", "1m30s", "500ms", "2h" (Go duration syntax), or a bare number of
// seconds. nullopt if the text is none of these or not positive.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "host:port" with an IPv4 address, "[v6]:port", or ":port" (all IPv4 addresses).
std::optional<BindAddress> parse_bind_address(std::string_view text, std::string* error);

}  // namespace hostgw::controller
