#pragma once

// The daemon's flags: parsing (Boost.Program_options), validation and --help.
// Parsing is pure: the environment ($NODE_NAME, the host name) is passed in.

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
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

// --nexthop-objects: routes to other nodes through kernel nexthop objects.
enum class NexthopObjects : std::uint8_t {
  automatic,  // when the kernel has them (a nexthop dump succeeds at start)
  on,         // required: the start fails without them
  off,        // plain gateway routes; ours left by an earlier run are converted back
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
  // Taking over from flannel or kindnet (docs/migrating.md).
  std::vector<std::uint8_t> adopt_protocols;     // --adopt-protocol
  std::vector<std::string> address_annotations;  // --address-annotation
  bool dry_run = false;
  NexthopObjects nexthop_objects = NexthopObjects::automatic;
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

// --help wraps to the terminal's width, else $COLUMNS, else this; never below kMinimumHelpWidth.
constexpr std::size_t kDefaultHelpWidth = 100;
constexpr std::size_t kMinimumHelpWidth = 40;

// The --help text: what exits and what retries, every flag with its default.
// Lines are wrapped at spaces to `width` columns; a word is never split (one
// longer than a line stands alone on its line).
std::string help_text(std::size_t width = kDefaultHelpWidth);

// The width for --help: the terminal's columns when stdout is one (0 = unknown),
// else $COLUMNS when it is a positive number, else kDefaultHelpWidth; at least
// kMinimumHelpWidth. current_help_width() asks this process's stdout and environment.
std::size_t help_width(std::optional<unsigned> terminal_columns, std::optional<std::string_view> columns_variable);
std::size_t current_help_width();

// `text`'s words (separated by spaces) filled into lines of at most `width`
// columns: the first line continues a line already `first_column` wide, the
// next ones start with `indent` spaces. No trailing newline.
std::string wrap_words(std::string_view text, std::size_t width, std::size_t indent, std::size_t first_column);

// Go's time.ParseDuration: an optional sign, then decimal numbers each with a
// unit (ns, us or µs, ms, s, m, h): "300ms", "1.5h", "2h45m". "0" is the only
// number allowed without a unit ("5" is refused: seconds or minutes?).
// nullopt and `*error` (one line, quoting the text) when it is not that.
std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text, std::string* error = nullptr);

// The value of a duration flag: Go syntax, positive, at least 1ms (truncated to
// milliseconds). nullopt and `*error` otherwise.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error = nullptr);

// "host:port" with an IPv4 address, "[v6]:port", or ":port" (all IPv4 addresses).
std::optional<BindAddress> parse_bind_address(std::string_view text, std::string* error);

// --nexthop-objects against the kernel's answer to a nexthop dump
// (routing::probe_nexthop_objects(): {} when it has them): the start-up error
// when `on` cannot be honoured, else empty.
std::string nexthop_objects_problem(NexthopObjects mode, std::error_code probe);

// Whether routes go through nexthop objects: the kernel has them and the mode is not off.
inline bool nexthop_objects_used(NexthopObjects mode, bool supported) {
  return supported && mode != NexthopObjects::off;
}

}  // namespace hostgw::controller
