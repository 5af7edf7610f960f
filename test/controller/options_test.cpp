#include "controller/options.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace hostgw::controller {
namespace {

using namespace std::chrono_literals;

Environment env(std::optional<std::string> node_name = "node-env", std::string hostname = "host-a") {
  return {std::move(node_name), std::move(hostname)};
}

// Exactly these arguments.
Options parse_exactly(const std::vector<std::string>& args, Environment environment = env()) {
  std::vector<const char*> argv = {"kube-hostgw"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data(), environment);
}

// These arguments plus the required --cluster-cidr when they have none.
Options parse(std::vector<std::string> args, Environment environment = env()) {
  bool has_cluster_cidr =
      std::any_of(args.begin(), args.end(), [](const std::string& arg) { return arg.starts_with("--cluster-cidr"); });
  if (!has_cluster_cidr) args.insert(args.begin(), "--cluster-cidr=10.244.0.0/16");
  return parse_exactly(args, std::move(environment));
}

template <typename Parse>
std::string error_from(Parse&& parse_call) {
  try {
    parse_call();
  } catch (const OptionsError& error) {
    return error.what();
  }
  return "no error";
}

std::string error_of(std::vector<std::string> args, Environment environment = env()) {
  return error_from([&] { parse(std::move(args), std::move(environment)); });
}

TEST(OptionsTest, Defaults) {
  Options options = parse({});
  EXPECT_EQ(options.kubeconfig, "");
  EXPECT_EQ(options.context, "");
  EXPECT_EQ(options.node_name, "node-env");
  ASSERT_EQ(options.cluster_cidrs.size(), 1u);
  EXPECT_EQ(options.cluster_cidrs[0].to_string(), "10.244.0.0/16");
  EXPECT_EQ(options.resync_period, 60s);
  EXPECT_EQ(options.route_protocol, 44);
  EXPECT_EQ(options.route_table, 254u);
  EXPECT_EQ(options.address_types, AddressTypes::internal_only);
  ASSERT_TRUE(options.healthz);
  EXPECT_EQ(options.healthz->to_string(), "0.0.0.0:2401");
  EXPECT_EQ(options.subnet_file, "");
  EXPECT_FALSE(options.set_node_network_available);
  EXPECT_FALSE(options.dry_run);
  EXPECT_EQ(options.verbosity, 0);
  EXPECT_FALSE(options.show_help);
}

TEST(OptionsTest, NodeNameFallsBackToHostName) {
  EXPECT_EQ(parse({}, env(std::nullopt, "host-a")).node_name, "host-a");
  EXPECT_EQ(parse({"--node-name", "flag-node"}).node_name, "flag-node");
  EXPECT_EQ(error_of({}, env(std::nullopt, "")),
            "--node-name: not given, $NODE_NAME is not set and the host name is empty");
}

TEST(OptionsTest, EveryFlag) {
  Options options = parse(
      {"--kubeconfig=/etc/k.conf", "--context", "kind", "--node-name=n1", "--cluster-cidr=10.244.0.0/16,2001:db8::/48",
       "--cluster-cidr", "10.245.0.0/16", "--resync-period=1m30s", "--route-protocol=200", "--route-table=100",
       "--address-type=InternalIP,ExternalIP", "--healthz-bind-address=[::1]:9000",
       "--subnet-file=/run/flannel/subnet.env", "--set-node-network-available", "--dry-run", "--v=3"});
  EXPECT_EQ(options.kubeconfig, "/etc/k.conf");
  EXPECT_EQ(options.context, "kind");
  EXPECT_EQ(options.node_name, "n1");
  ASSERT_EQ(options.cluster_cidrs.size(), 3u);
  EXPECT_EQ(options.cluster_cidrs[1].to_string(), "2001:db8::/48");
  EXPECT_EQ(options.cluster_cidrs[2].to_string(), "10.245.0.0/16");
  EXPECT_EQ(options.resync_period, 90s);
  EXPECT_EQ(options.route_protocol, 200);
  EXPECT_EQ(options.route_table, 100u);
  EXPECT_EQ(options.address_types, AddressTypes::internal_then_external);
  EXPECT_EQ(options.healthz->to_string(), "[::1]:9000");
  EXPECT_EQ(options.subnet_file, "/run/flannel/subnet.env");
  EXPECT_TRUE(options.set_node_network_available);
  EXPECT_TRUE(options.dry_run);
  EXPECT_EQ(options.verbosity, 3);
}

TEST(OptionsTest, MigrationFlags) {
  Options none = parse({});
  EXPECT_TRUE(none.adopt_protocols.empty());
  EXPECT_TRUE(none.address_annotations.empty());
  Options options = parse({"--adopt-protocol=boot", "--adopt-protocol", "static,16,boot", "--address-annotation",
                           "flannel.alpha.coreos.com/public-ip-overwrite",
                           "--address-annotation=flannel.alpha.coreos.com/public-ip"});
  EXPECT_EQ(options.adopt_protocols, (std::vector<std::uint8_t>{3, 4, 16}));
  EXPECT_EQ(options.address_annotations,
            (std::vector<std::string>{"flannel.alpha.coreos.com/public-ip-overwrite", "flannel.alpha.coreos.com/public-ip"}));
}

TEST(OptionsTest, MigrationFlagErrorsNameTheFlag) {
  EXPECT_EQ(error_of({"--adopt-protocol=kernel"}).rfind("--adopt-protocol: \"kernel\" (protocol 2) is never adopted", 0), 0u);
  EXPECT_EQ(error_of({"--adopt-protocol=0"}).rfind("--adopt-protocol: \"0\" (protocol 0) is never adopted", 0), 0u);
  EXPECT_EQ(error_of({"--adopt-protocol=44"}), "--adopt-protocol: \"44\" (protocol 44) is --route-protocol itself");
  EXPECT_EQ(error_of({"--route-protocol=50", "--adopt-protocol=50"}),
            "--adopt-protocol: \"50\" (protocol 50) is --route-protocol itself");
  EXPECT_EQ(error_of({"--adopt-protocol=flanel"}).rfind("--adopt-protocol: \"flanel\" is neither a number", 0), 0u);
  EXPECT_EQ(error_of({"--adopt-protocol=300"}), "--adopt-protocol: \"300\" is not a protocol number from 0 to 255");
  EXPECT_EQ(error_of({"--address-annotation=bad key"}).rfind("--address-annotation: \"bad key\" is not an annotation key", 0), 0u);
  EXPECT_EQ(error_of({"--address-annotation=Example.com/x"}).rfind("--address-annotation:", 0), 0u);
  EXPECT_EQ(error_of({"--address-annotation="}).rfind("--address-annotation:", 0), 0u);
}

TEST(OptionsTest, VerbositySpellings) {
  EXPECT_EQ(parse({"-v", "2"}).verbosity, 2);
  EXPECT_EQ(parse({"-v=4"}).verbosity, 4);
  EXPECT_EQ(parse({"--v", "5"}).verbosity, 5);
}

TEST(OptionsTest, EmptyHealthzAddressDisablesIt) {
  EXPECT_FALSE(parse({"--healthz-bind-address="}).healthz);
  EXPECT_EQ(parse({"--healthz-bind-address=:8080"}).healthz->to_string(), "0.0.0.0:8080");
  EXPECT_EQ(parse({"--route-table=main"}).route_table, 254u);
  EXPECT_EQ(parse({"--address-type=InternalIP"}).address_types, AddressTypes::internal_only);
}

TEST(OptionsTest, HelpAndVersion) {
  EXPECT_TRUE(parse({"--help"}).show_help);
  EXPECT_TRUE(parse({"-h"}).show_help);
  EXPECT_TRUE(parse({"--version"}).show_version);
}

// The help text with its line breaks and indentation folded into single spaces.
std::string flat_help() {
  std::istringstream in(help_text());
  std::string flat;
  for (std::string word; in >> word;) flat += (flat.empty() ? "" : " ") + word;
  return flat;
}

TEST(OptionsTest, HelpListsEveryFlagWithItsDefault) {
  std::string help = flat_help();
  for (const char* text : {"--kubeconfig",
                           "--context",
                           "--node-name",
                           "$NODE_NAME",
                           "--cluster-cidr",
                           "--resync-period",
                           "60s",
                           "--route-protocol",
                           "44",
                           "--route-table",
                           "254",
                           "--address-type",
                           "InternalIP,ExternalIP",
                           "--healthz-bind-address",
                           "0.0.0.0:2401",
                           "--subnet-file",
                           "--set-node-network-available",
                           "--cni-conf-dir",
                           "--cni-ipam-data-dir",
                           "--mtu",
                           "--masquerade",
                           "--no-masquerade-cidr",
                           "--no-own-pod-cidr-route",
                           "--dry-run",
                           "-v, --v LEVEL",
                           "-h, --help",
                           "--help",
                           "--version"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text << "\n" << help;
  }
  const std::string lines = help_text();
  EXPECT_GE(std::count(lines.begin(), lines.end(), '\n'), 20);
}

struct BadCase {
  std::vector<std::string> args;
  const char* message;
};

class BadOptionsTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadOptionsTest, OneLineErrorNamingTheFlag) {
  std::string message = error_of(GetParam().args);
  EXPECT_EQ(message, GetParam().message);
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadOptionsTest,
    ::testing::Values(
        BadCase{{"--bogus"}, "unknown flag --bogus (see --help)"}, BadCase{{"stray"}, "unexpected argument \"stray\""},
        BadCase{
            {"--cluster-cidr=10.244.0.1/16"},
            "--cluster-cidr: \"10.244.0.1/16\": host bits are set after the first 16 (did you mean 10.244.0.0/16?)"},
        BadCase{{"--cluster-cidr=0.0.0.0/0"}, "--cluster-cidr: \"0.0.0.0/0\" is a default route"},
        BadCase{{"--resync-period=soon"}, "--resync-period: \"soon\" is not a duration (e.g. 60s, 5m, 1m30s)"},
        BadCase{{"--resync-period=0s"}, "--resync-period: \"0s\" is not a positive duration (e.g. 60s, 5m, 1m30s)"},
        BadCase{{"--resync-period=0"}, "--resync-period: \"0\" is not a positive duration (e.g. 60s, 5m, 1m30s)"},
        BadCase{{"--resync-period=5"},
                "--resync-period: \"5\" has no unit: write 5s for seconds (units: ns, us, ms, s, m, h; only 0 may go "
                "without one)"},
        BadCase{{"--resync-period=1m30"},
                "--resync-period: \"1m30\" has no unit: write 30s for seconds (units: ns, us, ms, s, m, h; only 0 may "
                "go without one)"},
        BadCase{{"--resync-period=5d"}, "--resync-period: \"5d\": unknown unit \"d\" (units: ns, us, ms, s, m, h)"},
        BadCase{{"--resync-period=-5s"}, "--resync-period: \"-5s\" is not a positive duration (e.g. 60s, 5m, 1m30s)"},
        BadCase{{"--resync-period=500us"}, "--resync-period: \"500us\" is shorter than 1ms"},
        BadCase{{"--api-backoff-max=30"},
                "--api-backoff-max: \"30\" has no unit: write 30s for seconds (units: ns, us, ms, s, m, h; only 0 may "
                "go without one)"},
        BadCase{{"--api-backoff-max=2x"}, "--api-backoff-max: \"2x\": unknown unit \"x\" (units: ns, us, ms, s, m, h)"},
        BadCase{{"--resync-period=99999999999h"}, "--resync-period: \"99999999999h\" is too large"},
        BadCase{{"--cluster-cidr="}, "--cluster-cidr: \"\": empty prefix"},
        BadCase{{"--route-protocol=300"}, "--route-protocol: \"300\" is not a number from 5 to 255"},
        BadCase{{"--route-protocol=2"},
                "--route-protocol: 2 is reserved for the kernel's own routes (0 unspec, 1 redirect, 2 kernel, 3 boot, "
                "4 static); use 5-255 (default 44)"},
        BadCase{{"--route-table=0"}, "--route-table: \"0\" is not a table number from 1 to 4294967295 or \"main\""},
        BadCase{{"--route-table=255"}, "--route-table: 255 is the kernel's local table; use another"},
        BadCase{{"--route-table=x"}, "--route-table: \"x\" is not a table number from 1 to 4294967295 or \"main\""},
        BadCase{{"--address-type=Hostname"},
                "--address-type: \"Hostname\" is not \"InternalIP\" or \"InternalIP,ExternalIP\""},
        BadCase{{"--healthz-bind-address=localhost:80"},
                "--healthz-bind-address: \"localhost:80\": address \"localhost\": IPv4 part 1 is empty or not a "
                "decimal number"},
        BadCase{{"--healthz-bind-address=0.0.0.0:99999"},
                "--healthz-bind-address: \"0.0.0.0:99999\": port \"99999\" is not a number from 0 to 65535"},
        BadCase{{"--healthz-bind-address=::1:80"},
                "--healthz-bind-address: \"::1:80\": put an IPv6 address in brackets: [::]:2401"},
        BadCase{{"--context=kind"}, "--context: needs --kubeconfig"},
        BadCase{{"--v=11"}, "--v: \"11\" is not a level from 0 to 10"},
        BadCase{{"--node-name="}, "--node-name: empty name"},
        BadCase{{"--route-protocol=1", "--route-protocol=2"}, "--route-protocol: given more than once"},
        BadCase{{"--kubeconfig"}, "the required argument for option '--kubeconfig' is missing"},
        BadCase{{"--cross-subnet=ipip"}, "--cross-subnet: \"ipip\" is not \"vxlan\" or \"skip\""},
        BadCase{{"--nexthop-objects=yes"}, "--nexthop-objects: \"yes\" is not \"auto\", \"on\" or \"off\""},
        BadCase{{"--vxlan-vni=0"}, "--vxlan-vni: \"0\" is not a VNI from 1 to 16777215"},
        BadCase{{"--vxlan-vni=16777216"}, "--vxlan-vni: \"16777216\" is not a VNI from 1 to 16777215"},
        BadCase{{"--vxlan-port=0"}, "--vxlan-port: \"0\" is not a UDP port from 1 to 65535"},
        BadCase{{"--vxlan-port=65536"}, "--vxlan-port: \"65536\" is not a UDP port from 1 to 65535"},
        BadCase{{"--mtu=100"}, "--mtu: \"100\" is not an MTU from 576 to 65535"},
        BadCase{{"--mtu=9k"}, "--mtu: \"9k\" is not an MTU from 576 to 65535"},
        BadCase{{"--cni-conf-dir="}, "--cni-conf-dir: empty path"},
        BadCase{{"--cni-ipam-data-dir=/tmp/x"}, "--cni-ipam-data-dir: needs --cni-conf-dir"},
        BadCase{{"--no-masquerade-cidr=172.16.0.0/12"}, "--no-masquerade-cidr: needs --masquerade"},
        BadCase{{"--masquerade", "--no-masquerade-cidr=0.0.0.0/0"},
                "--no-masquerade-cidr: \"0.0.0.0/0\" is a default route"}));

TEST(OptionsTest, PodNetworkFlags) {
  Options defaults = parse({});
  EXPECT_EQ(defaults.cni_conf_dir, "");
  EXPECT_FALSE(defaults.mtu);
  EXPECT_FALSE(defaults.masquerade);
  EXPECT_TRUE(defaults.no_masquerade_cidrs.empty());
  EXPECT_TRUE(defaults.own_pod_cidr_routes);

  Options options = parse({"--cni-conf-dir=/etc/cni/net.d", "--cni-ipam-data-dir=/run/leases", "--mtu=1400",
                           "--masquerade", "--no-masquerade-cidr=172.16.0.0/12,fd00::/8",
                           "--no-masquerade-cidr=192.168.0.0/16", "--no-own-pod-cidr-route"});
  EXPECT_EQ(options.cni_conf_dir, "/etc/cni/net.d");
  EXPECT_EQ(options.cni_ipam_data_dir, "/run/leases");
  EXPECT_EQ(options.mtu, 1400u);
  EXPECT_TRUE(options.masquerade);
  EXPECT_EQ(options.no_masquerade_cidrs, (std::vector<routing::IpPrefix>{routing::IpPrefix::parse("172.16.0.0/12"),
                                                                         routing::IpPrefix::parse("fd00::/8"),
                                                                         routing::IpPrefix::parse("192.168.0.0/16")}));
  EXPECT_FALSE(options.own_pod_cidr_routes);
}

TEST(OptionsTest, CrossSubnetFlags) {
  Options defaults = parse({});
  EXPECT_EQ(defaults.cross_subnet, CrossSubnet::vxlan);
  EXPECT_EQ(defaults.vxlan_vni, 4244u);
  EXPECT_EQ(defaults.vxlan_port, 4789);
  // Not flannel's VNI 1 / UDP 8472, not Calico's VNI 4096.
  EXPECT_NE(defaults.vxlan_vni, 1u);
  EXPECT_NE(defaults.vxlan_vni, 4096u);
  EXPECT_NE(defaults.vxlan_port, 8472);
  Options options = parse({"--cross-subnet=skip", "--vxlan-vni=16777215", "--vxlan-port", "8999"});
  EXPECT_EQ(options.cross_subnet, CrossSubnet::skip);
  EXPECT_EQ(options.vxlan_vni, 16777215u);
  EXPECT_EQ(options.vxlan_port, 8999);
  EXPECT_EQ(parse({"--cross-subnet=vxlan"}).cross_subnet, CrossSubnet::vxlan);
  std::string help = flat_help();
  for (const char* text :
       {"--cross-subnet", "--vxlan-vni", "--vxlan-port", "Default: vxlan.", "Default: 4244", "Default: 4789"})
    EXPECT_NE(help.find(text), std::string::npos) << text;
}

TEST(OptionsTest, NexthopObjectsFlag) {
  EXPECT_EQ(parse({}).nexthop_objects, NexthopObjects::automatic);
  EXPECT_EQ(parse({"--nexthop-objects=auto"}).nexthop_objects, NexthopObjects::automatic);
  EXPECT_EQ(parse({"--nexthop-objects=on"}).nexthop_objects, NexthopObjects::on);
  EXPECT_EQ(parse({"--nexthop-objects", "off"}).nexthop_objects, NexthopObjects::off);
  std::string help = flat_help();
  for (const char* text : {"--nexthop-objects", "Linux >= 5.3", "Default: auto."})
    EXPECT_NE(help.find(text), std::string::npos) << text;
}

TEST(OptionsTest, NexthopObjectsOnFailsTheStartOnlyWithoutKernelSupport) {
  const auto unsupported = std::make_error_code(std::errc::operation_not_supported);
  EXPECT_EQ(nexthop_objects_problem(NexthopObjects::on, {}), "");
  EXPECT_EQ(nexthop_objects_problem(NexthopObjects::automatic, unsupported), "");
  EXPECT_EQ(nexthop_objects_problem(NexthopObjects::off, unsupported), "");
  const std::string problem = nexthop_objects_problem(NexthopObjects::on, unsupported);
  EXPECT_EQ(problem.rfind("--nexthop-objects=on: this kernel has no nexthop objects", 0), 0u) << problem;
  EXPECT_NE(problem.find(unsupported.message()), std::string::npos) << problem;
  EXPECT_NE(problem.find("--nexthop-objects=auto or off"), std::string::npos) << problem;
}

TEST(DurationTest, GoSyntax) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("2h"), 7200s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration(".5s"), 500ms);
  EXPECT_EQ(parse_duration("1h2m3s"), 3723s);
  EXPECT_EQ(parse_duration("+90s"), 90s);
  EXPECT_EQ(parse_duration("1500us"), 1ms);  // truncated to the flag's millisecond resolution
  EXPECT_EQ(parse_duration("2000000ns"), 2ms);
  EXPECT_EQ(parse_duration("1\u00b5s1s"), 1s);  // µs, as Go spells it too
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5d"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("."));
  EXPECT_FALSE(parse_duration(".s"));
  EXPECT_FALSE(parse_duration("1.2.3s"));
}

// Go's time.ParseDuration: a bare number is refused except 0.
TEST(DurationTest, ANumberWithoutUnitIsRefusedExceptZero) {
  std::string error;
  EXPECT_FALSE(parse_duration("10", &error));
  EXPECT_EQ(error, "\"10\" has no unit: write 10s for seconds (units: ns, us, ms, s, m, h; only 0 may go without one)");
  EXPECT_FALSE(parse_duration("1.5", &error));
  EXPECT_NE(error.find("has no unit"), std::string::npos) << error;
  EXPECT_EQ(parse_go_duration("0"), 0ns);
  EXPECT_EQ(parse_go_duration("-0"), 0ns);
  EXPECT_EQ(parse_go_duration("0s"), 0ns);
  EXPECT_FALSE(parse_go_duration("00"));
  // "0" parses but is no valid value for a flag that needs a positive duration.
  EXPECT_FALSE(parse_duration("0", &error));
  EXPECT_EQ(error, "\"0\" is not a positive duration (e.g. 60s, 5m, 1m30s)");
}

TEST(DurationTest, GoDurationValues) {
  EXPECT_EQ(parse_go_duration("-1.5h"), -5400s);
  EXPECT_EQ(parse_go_duration("1.000000001s"), 1000000001ns);
  EXPECT_EQ(parse_go_duration("1.0000000019s"), 1000000001ns);  // digits past nanoseconds are dropped
  EXPECT_EQ(parse_go_duration("3us"), 3us);
  EXPECT_EQ(parse_go_duration("3\u03bcs"), 3us);  // Greek mu
  EXPECT_EQ(parse_go_duration("2562047h"), 2562047h);
  std::string error;
  EXPECT_FALSE(parse_go_duration("2562048h", &error));  // past int64 nanoseconds, as in Go
  EXPECT_EQ(error, "\"2562048h\" is too large");
}

// Every duration flag goes through the same check.
TEST(DurationTest, EveryDurationFlagRefusesABareNumber) {
  for (const char* flag : {"--resync-period", "--api-backoff-max"}) {
    std::string message = error_of({std::string(flag) + "=5"});
    EXPECT_EQ(message, std::string(flag) +
                           ": \"5\" has no unit: write 5s for seconds (units: ns, us, ms, s, m, h; only 0 may go "
                           "without one)");
    EXPECT_EQ(error_of({flag, "7m"}), "no error") << flag;
  }
}

TEST(OptionsTest, ApiBackoffMax) {
  EXPECT_EQ(parse({}).api_backoff_max, 30s);
  EXPECT_EQ(parse({"--api-backoff-max=2s"}).api_backoff_max, 2s);
  EXPECT_EQ(parse({"--api-backoff-max", "500ms"}).api_backoff_max, 500ms);
  try {
    parse({"--api-backoff-max=0s"});
    FAIL() << "a zero backoff must be refused";
  } catch (const OptionsError& e) {
    EXPECT_NE(std::string(e.what()).find("--api-backoff-max"), std::string::npos) << e.what();
  }
}

TEST(OptionsTest, ClusterCidrIsRequired) {
  const std::string expected =
      "--cluster-cidr: required: the pod network of the cluster, e.g. --cluster-cidr=10.244.0.0/16 (what "
      "kube-controller-manager --cluster-cidr / kubeadm --pod-network-cidr says; dual stack: "
      "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56); podCIDRs outside it are never routed";
  EXPECT_EQ(error_from([] { parse_exactly({}); }), expected);
  EXPECT_EQ(error_from([] { parse_exactly({"--dry-run", "--node-name=n1"}); }), expected) << "dry run too";
  EXPECT_EQ(error_from([] { parse_exactly({"--kubeconfig=/k", "--subnet-file=/run/flannel/subnet.env"}); }), expected);
  EXPECT_EQ(error_from([] { parse_exactly({"--cluster-cidr=10.244.0.0/16"}); }), "no error");
  // --help and --version need nothing.
  EXPECT_TRUE(parse_exactly({"--help"}).show_help);
  EXPECT_TRUE(parse_exactly({"--version"}).show_version);
}

// The whitespace-separated words of `text`, in order.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream in{std::string(text)};
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

TEST(HelpTest, WrapsAtWordBoundariesWithinTheWidth) {
  // The text as written, unwrapped: one line per flag.
  const std::vector<std::string> expected_words = words_of(help_text(100000));
  for (std::size_t width : {40u, 57u, 80u, 100u, 132u, 200u}) {
    const std::string help = help_text(width);
    // Same words in the same order: none was split or glued to another.
    EXPECT_EQ(words_of(help), expected_words) << "width " << width;
    std::istringstream lines(help);
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line); ++count) {
      // A line may only be longer when it holds one word too long for any line.
      if (line.size() > width) {
        EXPECT_EQ(words_of(line).size(), 1u) << "width " << width << ": line of " << line.size() << ":\n" << line;
      }
      EXPECT_TRUE(line.empty() || line.back() != ' ') << "trailing space: " << line;
    }
    EXPECT_GE(count, 25u) << "width " << width;
  }
  // At 100 columns, no word is too long for a line: every line fits.
  std::istringstream lines(help_text(100));
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
}

// Each flag's description appears whole, its words in order, right after the flag.
TEST(HelpTest, EveryDescriptionIsComplete) {
  const std::vector<std::string> help_words = words_of(help_text(80));
  auto contains = [&](const std::vector<std::string>& needle) {
    return std::search(help_words.begin(), help_words.end(), needle.begin(), needle.end()) != help_words.end();
  };
  for (const char* description :
       {"Routes every other Kubernetes node's podCIDR via that node's address on a shared layer-2 network",
        "Exits at once with status 2 on a bad flag, and with status 1 when the configuration can never work:",
        "--cluster-cidr CIDR Required. Pod network of the cluster, e.g. 10.244.0.0/16",
        "--resync-period DURATION Full reconcile at least this often, even without events.",
        "a bare number is refused). Default: 60s.",
        "--set-node-network-available After the first sync, set this node's NetworkUnavailable condition to False"})
    EXPECT_TRUE(contains(words_of(description))) << description;
}

TEST(HelpTest, NarrowWidthPutsDescriptionsBelowTheFlags) {
  const std::string help = help_text(50);
  EXPECT_NE(help.find("  --healthz-bind-address ADDR:PORT\n      Where to serve"), std::string::npos) << help;
  const std::string wide = help_text(100);
  EXPECT_NE(wide.find("  --dry-run"), std::string::npos);
  EXPECT_EQ(wide.find("  --healthz-bind-address ADDR:PORT\n"), std::string::npos) << "side by side at 100";
}

TEST(HelpTest, WidthComesFromTheTerminalThenColumnsThenDefault) {
  EXPECT_EQ(help_width(120u, "90"), 120u);
  EXPECT_EQ(help_width(std::nullopt, "90"), 90u);
  EXPECT_EQ(help_width(0u, "90"), 90u);
  EXPECT_EQ(help_width(std::nullopt, std::nullopt), 100u);
  EXPECT_EQ(help_width(std::nullopt, "wide"), 100u);
  EXPECT_EQ(help_width(std::nullopt, "0"), 100u);
  EXPECT_EQ(help_width(20u, std::nullopt), kMinimumHelpWidth);
}

TEST(HelpTest, WrapWords) {
  EXPECT_EQ(wrap_words("aa bb cc dd", 5, 0, 0), "aa bb\ncc dd");
  EXPECT_EQ(wrap_words("aa bb", 6, 2, 2), "aa\n  bb");
  EXPECT_EQ(wrap_words("aa bb cc", 7, 2, 0), "aa bb\n  cc");
  EXPECT_EQ(wrap_words("averyverylongword x", 8, 1, 1), "averyverylongword\n x");
  EXPECT_EQ(wrap_words("  spaced   out  ", 80, 0, 0), "spaced out");
}

}  // namespace
}  // namespace hostgw::controller
