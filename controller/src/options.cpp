#include "controller/options.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "flags.hpp"
#include "migration_flags.hpp"

namespace hostgw::controller {

namespace po = boost::program_options;

std::string BindAddress::to_string() const {
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(port);
  return address.to_string() + ":" + std::to_string(port);
}

Environment current_environment() {
  Environment environment;
  if (const char* value = std::getenv("NODE_NAME"); value && *value) environment.node_name = value;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) environment.hostname = host;
  return environment;
}

namespace {

constexpr std::string_view kDurationUnits = "ns, us, ms, s, m, h";

// Nanoseconds per unit of Go's time.ParseDuration; 0 if `unit` is not one.
std::int64_t nanoseconds_per(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") return 1000;  // us, µs (micro sign), μs (mu)
  if (unit == "ms") return 1000 * 1000;
  if (unit == "s") return 1000 * 1000 * 1000;
  if (unit == "m") return 60LL * 1000 * 1000 * 1000;
  if (unit == "h") return 3600LL * 1000 * 1000 * 1000;
  return 0;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<std::chrono::nanoseconds> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  const std::string quoted_text = "\"" + std::string(text) + "\"";
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return std::chrono::nanoseconds(0);  // the one number Go takes without a unit
  if (rest.empty()) return fail(quoted_text + " is not a duration (e.g. 60s, 5m, 1m30s)");
  // Exact integer arithmetic like Go's; __int128 cannot overflow on the way to the int64 check.
  __int128 total = 0;
  constexpr __int128 kMax = std::numeric_limits<std::int64_t>::max();
  while (!rest.empty()) {
    __int128 whole = 0;
    __int128 fraction = 0;
    __int128 fraction_scale = 1;
    std::size_t i = 0;
    bool digits = false;
    for (; i < rest.size() && is_digit(rest[i]); ++i) {
      digits = true;
      whole = whole * 10 + (rest[i] - '0');
      if (whole > kMax) return fail(quoted_text + " is too large");
    }
    if (i < rest.size() && rest[i] == '.') {
      for (++i; i < rest.size() && is_digit(rest[i]); ++i) {
        digits = true;
        // Digits beyond nanoseconds cannot change the result.
        if (fraction_scale < 1'000'000'000'000'000'000LL) {
          fraction = fraction * 10 + (rest[i] - '0');
          fraction_scale *= 10;
        }
      }
    }
    if (!digits) return fail(quoted_text + " is not a duration (e.g. 60s, 5m, 1m30s)");
    std::size_t unit_end = i;
    while (unit_end < rest.size() && !is_digit(rest[unit_end]) && rest[unit_end] != '.') ++unit_end;
    std::string_view unit = rest.substr(i, unit_end - i);
    if (unit.empty()) {
      std::string number(rest.substr(0, i));
      return fail(quoted_text + " has no unit: write " + number +
                  "s for seconds (units: " + std::string(kDurationUnits) + "; only 0 may go without one)");
    }
    std::int64_t scale = nanoseconds_per(unit);
    if (scale == 0)
      return fail(quoted_text + ": unknown unit \"" + std::string(unit) + "\" (units: " + std::string(kDurationUnits) +
                  ")");
    total += whole * scale + fraction * scale / fraction_scale;
    if (total > kMax) return fail(quoted_text + " is too large");
    rest.remove_prefix(unit_end);
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(negative ? -total : total));
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text, std::string* error) {
  std::string go_error;
  auto duration = parse_go_duration(text, &go_error);
  auto fail = [&](std::string message) -> std::optional<std::chrono::milliseconds> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  if (!duration) return fail(go_error);
  const std::string quoted_text = "\"" + std::string(text) + "\"";
  if (duration->count() <= 0) return fail(quoted_text + " is not a positive duration (e.g. 60s, 5m, 1m30s)");
  if (*duration < std::chrono::milliseconds(1)) return fail(quoted_text + " is shorter than 1ms");
  return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
}

std::optional<BindAddress> parse_bind_address(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<BindAddress> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  std::string_view host, port;
  if (text.starts_with("[")) {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return fail("expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("expected ADDRESS:PORT (e.g. 0.0.0.0:2401)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return fail("put an IPv6 address in brackets: [::]:2401");
  }
  BindAddress bind;
  if (!host.empty()) {
    std::string parse_error;
    auto address = routing::IpAddress::try_parse(host, &parse_error);
    if (!address) return fail("address " + parse_error);
    bind.address = *address;
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535)
    return fail("port \"" + std::string(port) + "\" is not a number from 0 to 65535");
  bind.port = static_cast<std::uint16_t>(value);
  return bind;
}

namespace {

po::options_description describe() {
  // Boost's own formatter is not used for --help (it breaks words); help_text() wraps.
  po::options_description flags("Flags");
  // Defaults are written into the text (not po::default_value) so that --help shows them in one style.
  flags.add_options()("help,h", "Print this help and exit.")("version", "Print the version and exit.")(
      "kubeconfig", po::value<std::string>()->value_name("FILE"),
      "Path to a kubeconfig file. Default: in a pod, its service account ($KUBERNETES_SERVICE_HOST, "
      "/var/run/secrets/kubernetes.io/serviceaccount); else the files in $KUBECONFIG, else ~/.kube/config.")(
      "context", po::value<std::string>()->value_name("NAME"),
      "Context of the kubeconfig to use. Default: its current-context.")(
      "node-name", po::value<std::string>()->value_name("NAME"),
      "Name of the Node object of this host. Default: $NODE_NAME, else the host name.")(
      "cluster-cidr", po::value<std::vector<std::string>>()->composing()->value_name("CIDR"),
      "Required. Pod network of the cluster, e.g. 10.244.0.0/16 (repeatable or comma-separated; IPv4 and/or "
      "IPv6): a node's podCIDR outside it is never routed. The first of each family is written to "
      "--subnet-file.")(
      "resync-period", po::value<std::string>()->value_name("DURATION"),
      "Full reconcile at least this often, even without events. Durations take a unit (Go syntax: 500ms, 30s, "
      "5m, 1m30s; a bare number is refused). Default: 60s.")(
      "api-backoff-max", po::value<std::string>()->value_name("DURATION"),
      "Longest wait between attempts to reach the API server after failures (delays start at 0.8 s, double "
      "per failure up to this, each drawn from [d, 2d]). Default: 30s.")(
      "route-protocol", po::value<std::string>()->value_name("N"),
      "rtm_protocol number marking the routes kube-hostgw owns (5-255); only routes with it are ever "
      "deleted. Default: 44.")(
      "nexthop-objects", po::value<std::string>()->value_name("MODE"),
      "Routes to other nodes through kernel nexthop objects (one per route, protocol --route-protocol; "
      "Linux >= 5.3): \"on\" (the start fails without them), \"off\" (plain gateway routes; nexthops of ours "
      "are converted back), \"auto\" (on when the kernel has them). Default: auto.")(
      "route-table", po::value<std::string>()->value_name("ID"),
      "Routing table for the routes (1-4294967295 except 255, or \"main\"). Default: 254 (main).")(
      "address-type", po::value<std::string>()->value_name("TYPES"),
      "Node addresses to route via: \"InternalIP\", or \"InternalIP,ExternalIP\" to fall back to the "
      "ExternalIP. Default: InternalIP.")(
      "cross-subnet", po::value<std::string>()->value_name("MODE"),
      "Peers whose address is not on a directly connected network: \"vxlan\" routes their pods (IPv4 and, "
      "dual stack, IPv6) through the VXLAN device hostgw.vxlan over IPv4 (same-subnet peers keep direct "
      "routes), \"skip\" skips them as plain host-gw does. Default: vxlan.")(
      "vxlan-vni", po::value<std::string>()->value_name("N"),
      "VXLAN network identifier of hostgw.vxlan (1-16777215); the same on every node. Default: 4244 "
      "(flannel uses 1, Calico 4096).")(
      "vxlan-port", po::value<std::string>()->value_name("PORT"),
      "UDP port of the VXLAN traffic between nodes (1-65535); the same on every node, open it in the "
      "firewall. Default: 4789 (IANA; flannel and Cilium use 8472).")(
      "healthz-bind-address", po::value<std::string>()->value_name("ADDR:PORT"),
      "Where to serve /healthz, /readyz and /metrics over plain HTTP; empty disables. Default: 0.0.0.0:2401.")(
      "subnet-file", po::value<std::string>()->value_name("FILE"),
      "Write a flannel-compatible subnet.env here (e.g. /run/flannel/subnet.env) for the flannel CNI "
      "plugin. Default: none (not written).")(
      "cni-conf-dir", po::value<std::string>()->value_name("DIR"),
      "Write this node's CNI config DIR/10-kube-hostgw.conflist (bridge cni0, host-local IPAM with this node's "
      "podCIDRs, portmap) once the node has a podCIDR, and keep it so; other files in DIR are never touched. "
      "Default: none (no conflist).")(
      "cni-ipam-data-dir", po::value<std::string>()->value_name("DIR"),
      "host-local's lease folder written into the conflist (needs --cni-conf-dir). Default: the plugin's own, "
      "/var/lib/cni/networks.")(
      "mtu", po::value<std::string>()->value_name("N"),
      "MTU of the pods' interfaces and cni0 (576-65535) in the conflist and subnet.env. Default: the MTU of the "
      "link carrying this node's address, minus 50 with --cross-subnet=vxlan.")(
      "masquerade", po::bool_switch(),
      "Masquerade pod traffic leaving the cluster (source in the pod network, destination neither a pod, nor "
      "a node's address, nor --no-masquerade-cidr, nor multicast) with the nftables table inet kube-hostgw. "
      "Without it, a table left by an earlier run is deleted. Default: off.")(
      "no-masquerade-cidr", po::value<std::vector<std::string>>()->composing()->value_name("CIDR"),
      "Destinations pods reach with their own address (repeatable or comma-separated; needs --masquerade). "
      "Default: none.")(
      "no-own-pod-cidr-route", po::bool_switch(),
      "Do not install the unreachable route for this node's own podCIDRs (protocol --route-protocol, metric "
      "4278198272), which refuses traffic for pods that do not exist instead of sending it to the default "
      "gateway. Default: installed.")(
      "set-node-network-available", po::bool_switch(),
      "After the first sync, set this node's NetworkUnavailable condition to False (reason KubeHostgwReady); "
      "needs RBAC to patch nodes/status. Default: off.")(
      "dry-run", po::bool_switch(), "Log the route changes that would be made; change nothing. Default: off.")(
      "v,v", po::value<std::string>()->value_name("LEVEL"),
      "Log verbosity (0-10); 1 logs every pass and kernel event, 2 every watch event. Default: 0.");
  describe_migration_flags(flags);
  return flags;
}


}  // namespace

std::size_t help_width(std::optional<unsigned> terminal_columns, std::optional<std::string_view> columns_variable) {
  std::size_t width = kDefaultHelpWidth;
  if (terminal_columns && *terminal_columns > 0) {
    width = *terminal_columns;
  } else if (columns_variable) {
    if (auto columns = parse_number<unsigned>(*columns_variable); columns && *columns > 0) width = *columns;
  }
  return std::max(width, kMinimumHelpWidth);
}

std::size_t current_help_width() {
  std::optional<unsigned> terminal;
  winsize size{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) terminal = size.ws_col;
  std::optional<std::string_view> columns;
  if (const char* value = std::getenv("COLUMNS")) columns = value;
  return help_width(terminal, columns);
}

std::string wrap_words(std::string_view text, std::size_t width, std::size_t indent, std::size_t first_column) {
  std::string out;
  std::size_t column = first_column;
  bool line_has_word = false;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    i = end;
    // A word never breaks: one longer than a line gets a line of its own.
    if (line_has_word && column + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      column = indent;
      line_has_word = false;
    }
    if (line_has_word) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    line_has_word = true;
  }
  return out;
}

std::string help_text(std::size_t width) {
  width = std::max(width, kMinimumHelpWidth);
  std::string out = wrap_words("Usage: kube-hostgw --cluster-cidr CIDR [flags]", width, 2, 0) + "\n";
  out += wrap_words(
      "Routes every other Kubernetes node's podCIDR via that node's address on a shared layer-2 network (like "
      "flannel's host-gw backend), and nodes on other subnets through VXLAN (--cross-subnet), watching Node objects "
      "on the API server. With --cni-conf-dir and --masquerade it is the whole pod network: this node's CNI "
      "config and egress masquerade (nftables) too.",
      width, 0, 0);
  out += "\n\n";
  out += wrap_words(
      "Exits at once with status 2 on a bad flag, and with status 1 when the configuration can never work: the "
      "kubeconfig given, or found through $KUBECONFIG or ~/.kube/config, is missing, unreadable or invalid, or "
      "there is none and this is not a pod. Retries with backoff what can heal: the API server unreachable or "
      "failing, and inside a pod a service account token or CA file not there yet.",
      width, 0, 0);
  out += "\n\nFlags:\n";

  const po::options_description description = describe();
  struct Entry {
    std::string name;
    std::string text;
  };
  std::vector<Entry> entries;
  std::size_t widest = 0;
  for (const auto& option : description.options()) {
    std::string name;
    std::string short_name = option->canonical_display_name(po::command_line_style::allow_dash_for_short);
    if (short_name.size() == 2 && short_name[0] == '-') name = short_name + ", ";
    name += "--" + option->long_name();
    if (std::string parameter = option->format_parameter(); !parameter.empty()) name += " " + parameter;
    widest = std::max(widest, name.size());
    entries.push_back({std::move(name), option->description()});
  }
  constexpr std::size_t kIndent = 2;
  constexpr std::size_t kGap = 2;
  constexpr std::size_t kMinimumDescription = 40;
  // Descriptions in a column after the names; below them, indented, when the
  // line is too narrow for that column.
  std::size_t column = kIndent + widest + kGap;
  const bool side_by_side = column + kMinimumDescription <= width;
  if (!side_by_side) column = kIndent + 4;
  for (const Entry& entry : entries) {
    out.append(kIndent, ' ');
    out += entry.name;
    std::size_t at = kIndent + entry.name.size();
    if (!side_by_side || at + 1 > column) {  // (a name wider than the column cannot happen side by side)
      out += '\n';
      at = 0;
    }
    out.append(column - at, ' ');
    out += wrap_words(entry.text, width, column, column);
    out += '\n';
  }
  return out;
}

namespace {

// klog style "-v=2" means "--v=2"; Boost would read "=2" as the value of -v.
// "--flag=" (an empty value, e.g. --healthz-bind-address= to disable): Boost refuses it glued.
std::vector<std::string> normalized_arguments(int argc, const char* const* argv) {
  std::vector<std::string> arguments;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument.starts_with("-v=")) argument = "-" + argument;
    if (argument.starts_with("--") && argument.size() > 3 && argument.back() == '=' &&
        argument.find('=') == argument.size() - 1) {
      arguments.push_back(argument.substr(0, argument.size() - 1));
      arguments.emplace_back();
      continue;
    }
    arguments.push_back(std::move(argument));
  }
  return arguments;
}

// Boost's parse, with its exceptions turned into OptionsError messages.
po::variables_map parse_command_line(const std::vector<std::string>& arguments) {
  po::variables_map values;
  // parsed_options keeps a pointer to the description: it must outlive store().
  const po::options_description description = describe();
  try {
    auto parsed = po::command_line_parser(arguments)
                      .options(description)
                      .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
                      .run();
    for (const auto& option : parsed.options) {
      if (option.position_key >= 0) throw OptionsError("unexpected argument " + quoted(option.value.front()));
    }
    po::store(parsed, values);
    po::notify(values);
  } catch (const po::unknown_option& error) {
    throw OptionsError("unknown flag " + error.get_option_name() + " (see --help)");
  } catch (const po::multiple_occurrences& error) {
    throw OptionsError(error.get_option_name() + ": given more than once");
  } catch (const po::error& error) {
    throw OptionsError(error.what());
  }
  return values;
}

// Where the API server is and who this node is.
void read_cluster_flags(const Flags& flags, const Environment& environment, Options& options) {
  if (auto value = flags.non_empty("kubeconfig", "path")) options.kubeconfig = *value;
  if (auto value = flags.non_empty("context", "name")) {
    if (options.kubeconfig.empty()) throw OptionsError("--context: needs --kubeconfig");
    options.context = *value;
  }
  if (auto value = flags.non_empty("node-name", "name")) {
    options.node_name = *value;
  } else if (environment.node_name) {
    options.node_name = *environment.node_name;
  } else {
    options.node_name = environment.hostname;
  }
  if (options.node_name.empty())
    throw OptionsError("--node-name: not given, $NODE_NAME is not set and the host name is empty");

  // Required: without it any podCIDR would be routed, also one covering an off-link
  // destination (the API server, a resolver) that a Node object claims.
  if (!flags.given("cluster-cidr"))
    throw OptionsError(
        "--cluster-cidr: required: the pod network of the cluster, e.g. --cluster-cidr=10.244.0.0/16 "
        "(what kube-controller-manager --cluster-cidr / kubeadm --pod-network-cidr says; dual stack: "
        "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56); podCIDRs outside it are never routed");
  options.cluster_cidrs = flags.prefixes("cluster-cidr");
  flags.duration("resync-period", options.resync_period);
  flags.duration("api-backoff-max", options.api_backoff_max);
}

// Which routes are ours, where they go, which node address they use.
void read_route_flags(const Flags& flags, Options& options) {
  if (auto value = flags.text("route-protocol")) {
    auto number = parse_number<unsigned>(*value);
    if (!number || *number > 255)
      throw OptionsError("--route-protocol: " + quoted(*value) + " is not a number from 5 to 255");
    if (*number < 5)
      throw OptionsError("--route-protocol: " + *value +
                         " is reserved for the kernel's own routes (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); "
                         "use 5-255 (default 44)");
    options.route_protocol = static_cast<std::uint8_t>(*number);
  }
  if (auto value = flags.text("route-table")) {
    if (*value == "main") {
      options.route_table = 254;
    } else {
      auto number = parse_number<std::uint32_t>(*value);
      if (!number || *number == 0)
        throw OptionsError("--route-table: " + quoted(*value) +
                           " is not a table number from 1 to 4294967295 or \"main\"");
      if (*number == 255) throw OptionsError("--route-table: 255 is the kernel's local table; use another");
      options.route_table = *number;
    }
  }
  if (auto value = flags.text("address-type")) {
    if (*value == "InternalIP") {
      options.address_types = AddressTypes::internal_only;
    } else if (*value == "InternalIP,ExternalIP") {
      options.address_types = AddressTypes::internal_then_external;
    } else {
      throw OptionsError("--address-type: " + quoted(*value) + " is not \"InternalIP\" or \"InternalIP,ExternalIP\"");
    }
  }
  options.own_pod_cidr_routes = !flags.on("no-own-pod-cidr-route");
  if (auto value = flags.text("nexthop-objects")) {
    if (*value == "auto") {
      options.nexthop_objects = NexthopObjects::automatic;
    } else if (*value == "on") {
      options.nexthop_objects = NexthopObjects::on;
    } else if (*value == "off") {
      options.nexthop_objects = NexthopObjects::off;
    } else {
      throw OptionsError("--nexthop-objects: " + quoted(*value) + " is not \"auto\", \"on\" or \"off\"");
    }
  }
}

// Peers on other subnets.
void read_overlay_flags(const Flags& flags, Options& options) {
  if (auto value = flags.text("cross-subnet")) {
    if (*value == "vxlan") {
      options.cross_subnet = CrossSubnet::vxlan;
    } else if (*value == "skip") {
      options.cross_subnet = CrossSubnet::skip;
    } else {
      throw OptionsError("--cross-subnet: " + quoted(*value) + " is not \"vxlan\" or \"skip\"");
    }
  }
  if (auto vni = flags.number<std::uint32_t>("vxlan-vni", 1, 0xFFFFFF, "a VNI from 1 to 16777215"))
    options.vxlan_vni = *vni;
  if (auto port = flags.number<unsigned>("vxlan-port", 1, 65535, "a UDP port from 1 to 65535"))
    options.vxlan_port = static_cast<std::uint16_t>(*port);
}

// The rest of the pod network: subnet.env, the CNI config, masquerade.
void read_pod_network_flags(const Flags& flags, Options& options) {
  if (auto value = flags.non_empty("subnet-file", "path")) {
    if (value->back() == '/') throw OptionsError("--subnet-file: " + quoted(*value) + " is a folder, not a file");
    options.subnet_file = *value;
  }
  if (auto value = flags.non_empty("cni-conf-dir", "path")) options.cni_conf_dir = *value;
  if (auto value = flags.non_empty("cni-ipam-data-dir", "path")) {
    if (options.cni_conf_dir.empty()) throw OptionsError("--cni-ipam-data-dir: needs --cni-conf-dir");
    options.cni_ipam_data_dir = *value;
  }
  if (auto mtu = flags.number<std::uint32_t>("mtu", 576, 65535, "an MTU from 576 to 65535")) options.mtu = *mtu;
  options.masquerade = flags.on("masquerade");
  options.no_masquerade_cidrs = flags.prefixes("no-masquerade-cidr");
  if (!options.no_masquerade_cidrs.empty() && !options.masquerade)
    throw OptionsError("--no-masquerade-cidr: needs --masquerade");
}

// How the daemon itself behaves: health endpoint, node condition, dry run, logging.
void read_daemon_flags(const Flags& flags, Options& options) {
  std::string bind_text = flags.text("healthz-bind-address").value_or("0.0.0.0:2401");
  if (!bind_text.empty()) {
    std::string error;
    auto bind = parse_bind_address(bind_text, &error);
    if (!bind) throw OptionsError("--healthz-bind-address: " + quoted(bind_text) + ": " + error);
    options.healthz = *bind;
  }
  options.set_node_network_available = flags.on("set-node-network-available");
  options.dry_run = flags.on("dry-run");
  if (auto level = flags.number<int>("v", 0, 10, "a level from 0 to 10")) options.verbosity = *level;
}

}  // namespace

Options parse_options(int argc, const char* const* argv, const Environment& environment) {
  const po::variables_map values = parse_command_line(normalized_arguments(argc, argv));
  Options options;
  options.show_help = values.count("help") > 0;
  options.show_version = values.count("version") > 0;
  if (options.show_help || options.show_version) return options;

  const Flags flags(values);
  read_cluster_flags(flags, environment, options);
  read_route_flags(flags, options);
  read_overlay_flags(flags, options);
  read_pod_network_flags(flags, options);
  read_daemon_flags(flags, options);
  read_migration_flags(flags, options);
  return options;
}

std::string nexthop_objects_problem(NexthopObjects mode, std::error_code probe) {
  if (mode != NexthopObjects::on || !probe) return {};
  return "--nexthop-objects=on: this kernel has no nexthop objects (RTM_GETNEXTHOP: " + probe.message() +
         "); they need Linux >= 5.3: use --nexthop-objects=auto or off";
}

}  // namespace hostgw::controller
