#include "migration_flags.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "routing/route_adoption.hpp"

namespace hostgw::controller {

namespace po = boost::program_options;

namespace {

// iproute2 keeps its names in /etc/iproute2 (older) or /usr/share/iproute2 (6.x).
std::string rt_protos_text() {
  std::string text;
  for (const char* path : {"/etc/iproute2/rt_protos", "/usr/share/iproute2/rt_protos"}) {
    std::ifstream in(path);
    if (!in) continue;
    std::stringstream content;
    content << in.rdbuf();
    text += content.str() + "\n";
  }
  return text;
}

// A Kubernetes annotation key: [prefix/]name, the name 1-63 characters of
// [A-Za-z0-9._-] starting and ending alphanumeric, the prefix a DNS subdomain.
bool valid_annotation_key(std::string_view key) {
  auto slash = key.find('/');
  std::string_view name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  std::string_view prefix = slash == std::string_view::npos ? std::string_view{} : key.substr(0, slash);
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (name.empty() || name.size() > 63 || !alnum(name.front()) || !alnum(name.back())) return false;
  if (!std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; }))
    return false;
  if (slash == std::string_view::npos) return true;
  if (prefix.empty() || prefix.size() > 253) return false;
  return std::all_of(prefix.begin(), prefix.end(), [&](char c) {
    return (alnum(c) && !std::isupper(static_cast<unsigned char>(c))) || c == '-' || c == '.';
  });
}

}  // namespace

void describe_migration_flags(po::options_description& flags) {
  flags.add_options()(
      "adopt-protocol", po::value<std::vector<std::string>>()->composing()->value_name("PROTO"),
      "Take over the routes of this protocol (a name from /etc/iproute2/rt_protos such as boot, or a number; "
      "repeatable) that flannel host-gw or kindnet left: in --route-table, with a gateway, inside a "
      "--cluster-cidr. One matching a node is rewritten in place to --route-protocol (no moment without a route), "
      "one no node backs is deleted; nothing else is ever touched. See docs/migrating.md. Default: none.")(
      "address-annotation", po::value<std::vector<std::string>>()->composing()->value_name("KEY"),
      "Node annotation holding the address to route via, e.g. flannel.alpha.coreos.com/public-ip-overwrite "
      "(repeatable, tried in order per family). The first valid value wins over --address-type; an invalid one "
      "skips the node (reason invalid_address) unless a later key has a valid one. Default: none.");
}

void read_migration_flags(const Flags& flags, Options& options) {
  const std::string protos = flags.given("adopt-protocol") ? rt_protos_text() : std::string();
  for (const auto& text : flags.items("adopt-protocol")) {
    std::string error;
    auto protocol = routing::parse_route_protocol(text, protos, &error);
    if (!protocol) throw OptionsError("--adopt-protocol: " + error);
    const std::string named = quoted(text) + " (protocol " + std::to_string(*protocol) + ")";
    if (*protocol <= 2)
      throw OptionsError("--adopt-protocol: " + named +
                         " is never adopted: unspec, redirect and kernel routes are the kernel's own (the "
                         "connected routes); flannel and kindnet leave boot (3)");
    if (*protocol == options.route_protocol)
      throw OptionsError("--adopt-protocol: " + named + " is --route-protocol itself");
    if (std::find(options.adopt_protocols.begin(), options.adopt_protocols.end(), *protocol) ==
        options.adopt_protocols.end())
      options.adopt_protocols.push_back(*protocol);
  }
  if (!options.adopt_protocols.empty() && options.cluster_cidrs.empty())
    throw OptionsError("--adopt-protocol: needs --cluster-cidr (only routes inside it are adopted)");
  for (auto& key : flags.items("address-annotation")) {
    if (!valid_annotation_key(key))
      throw OptionsError("--address-annotation: " + quoted(key) +
                         " is not an annotation key ([prefix/]name, e.g. "
                         "flannel.alpha.coreos.com/public-ip-overwrite)");
    if (std::find(options.address_annotations.begin(), options.address_annotations.end(), key) ==
        options.address_annotations.end())
      options.address_annotations.push_back(std::move(key));
  }
}

}  // namespace hostgw::controller
