#include "controller/options.hpp"

#include <gtest/gtest.h>

namespace hostgw::controller {
namespace {

using namespace std::chrono_literals;

Environment env(std::optional<std::string> node_name = "node-env", std::string hostname = "host-a") {
  return {std::move(node_name), std::move(hostname)};
}

Options parse(std::vector<std::string> args, Environment environment = env()) {
  std::vector<const char*> argv = {"kube-hostgw"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data(), environment);
}

std::string error_of(std::vector<std::string> args, Environment environment = env()) {
  try {
    parse(std::move(args), std::move(environment));
  } catch (const OptionsError& error) {
    return error.what();
  }
  return "no error";
}

TEST(OptionsTest, Defaults) {
  Options options = parse({});
  EXPECT_EQ(options.kubeconfig, "");
  EXPECT_EQ(options.context, "");
  EXPECT_EQ(options.node_name, "node-env");
  EXPECT_TRUE(options.cluster_cidrs.empty());
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

TEST(OptionsTest, VerbositySpellings) {
  EXPECT_EQ(parse({"-v", "2"}).verbosity, 2);
  EXPECT_EQ(parse({"-v=4"}).verbosity, 4);
  EXPECT_EQ(parse({"--v", "5"}).verbosity, 5);
}

TEST(OptionsTest, EmptyHealthzAddressDisablesIt) {
  EXPECT_FALSE(parse({"--healthz-bind-address="}).healthz);
  EXPECT_EQ(parse({"--healthz-bind-address=:8080"}).healthz->to_string(), "0.0.0.0:8080");
  EXPECT_EQ(parse({"--route-table=main"}).route_table, 254u);
  EXPECT_EQ(parse({"--resync-period=45"}).resync_period, 45s);
  EXPECT_EQ(parse({"--address-type=InternalIP"}).address_types, AddressTypes::internal_only);
}

TEST(OptionsTest, HelpAndVersion) {
  EXPECT_TRUE(parse({"--help"}).show_help);
  EXPECT_TRUE(parse({"-h"}).show_help);
  EXPECT_TRUE(parse({"--version"}).show_version);
}

TEST(OptionsTest, HelpListsEveryFlagWithItsDefault) {
  std::string help = help_text();
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
                           "-v [ --v ]",
                           "--help",
                           "--version"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text << "\n" << help;
  }
  EXPECT_GE(std::count(help.begin(), help.end(), '\n'), 20);
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
        BadCase{{"--resync-period=soon"}, "--resync-period: \"soon\" is not a positive duration (e.g. 60s, 5m, 1m30s)"},
        BadCase{{"--resync-period=0s"}, "--resync-period: \"0s\" is not a positive duration (e.g. 60s, 5m, 1m30s)"},
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
        BadCase{{"--subnet-file=/run/flannel/subnet.env"},
                "--subnet-file: needs --cluster-cidr (written as FLANNEL_NETWORK)"},
        BadCase{{"--context=kind"}, "--context: needs --kubeconfig"},
        BadCase{{"--v=11"}, "--v: \"11\" is not a level from 0 to 10"},
        BadCase{{"--node-name="}, "--node-name: empty name"},
        BadCase{{"--route-protocol=1", "--route-protocol=2"}, "--route-protocol: given more than once"},
        BadCase{{"--kubeconfig"}, "the required argument for option '--kubeconfig' is missing"},
        BadCase{{"--cross-subnet=ipip"}, "--cross-subnet: \"ipip\" is not \"vxlan\" or \"skip\""},
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
  std::string help = help_text();
  for (const char* text :
       {"--cross-subnet", "--vxlan-vni", "--vxlan-port", "Default: vxlan.", "Default: 4244", "Default: 4789"})
    EXPECT_NE(help.find(text), std::string::npos) << text;
}

TEST(DurationTest, GoSyntax) {
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("2h"), 7200s);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("1h2m3s"), 3723s);
  EXPECT_EQ(parse_duration("10"), 10s);
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("5d"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("s"));
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

}  // namespace
}  // namespace hostgw::controller
