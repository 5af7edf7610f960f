// Regression tests for kubeconfig inputs the fuzzer found
// (test/fuzz/corpus/kubeconfig/regression-*). Before the fix, an entry without
// its body (`- name: k` with no `cluster:` map) made yaml-cpp throw
// YAML::InvalidNode ("invalid node; first invalid key: \"cluster\"") out of
// resolve_kubeconfig instead of a ConfigError naming the file and the entry.

#include <gtest/gtest.h>

#include <string>

#include "k8s-client/config.hpp"

namespace hostgw::k8s {
namespace {

std::string resolve_error(const std::string& text) {
  try {
    resolve_kubeconfig({{"/k", text}});
  } catch (const ConfigError& error) {
    return error.what();
  } catch (const std::exception& error) {
    return std::string("not a ConfigError: ") + error.what();
  }
  return "resolved";
}

const char* kContext = "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n";

TEST(KubeconfigRegressionTest, ClusterEntryWithoutClusterMap) {
  std::string error = resolve_error(std::string(kContext) + "clusters:\n- name: k\n  kluster: {server: https://x}\n");
  RecordProperty("input", "kubeconfig cluster entry without its cluster map (found by kubeconfig_fuzzer)");
  RecordProperty("outcome", error + " (was: YAML::InvalidNode escaping as a non-ConfigError, fixed)");
  EXPECT_EQ(error, R"(kubeconfig /k: cluster "k": server is missing)");
}

TEST(KubeconfigRegressionTest, UserAndContextEntriesWithoutTheirMap) {
  EXPECT_EQ(resolve_error(std::string(kContext) +
                          "clusters:\n- name: k\n  cluster: {server: https://198.51.100.1}\nusers:\n- name: u\n"),
            "resolved");
  EXPECT_EQ(resolve_error("current-context: c\ncontexts:\n- name: c\n"),
            R"(kubeconfig /k: context "c": cluster is missing)");
}

// Found by kubeconfig_fuzzer: `https://host:/` (an empty port, legal in a URI)
// resolved to port "" instead of the default 443, and an out-of-range port
// was accepted and only failed later, at connect time, without naming the kubeconfig.
std::string server_result(const std::string& server) {
  try {
    ClusterConfig config = resolve_kubeconfig(
        {{"/k", std::string(kContext) + "users:\n- name: u\n  user: {}\nclusters:\n- name: k\n  cluster: {server: \"" + server +
                   "\"}\n"}});
    return config.host + " port " + config.port;
  } catch (const ConfigError& error) {
    return error.what();
  }
}

TEST(KubeconfigRegressionTest, ServerPortIsDefaultedOrRefused) {
  RecordProperty("input", "kubeconfig server URL with an empty, zero or out-of-range port (found by kubeconfig_fuzzer)");
  const std::string empty = server_result("https://198.51.100.1:/");
  const std::string too_big = server_result("https://198.51.100.1:99999");
  RecordProperty("outcome", "empty port: " + empty + "; 99999: " + too_big);
  EXPECT_EQ(empty, "198.51.100.1 port 443");
  EXPECT_EQ(server_result("https://198.51.100.1:6443"), "198.51.100.1 port 6443");
  EXPECT_EQ(too_big,
            R"(kubeconfig /k: cluster "k": server "https://198.51.100.1:99999": port "99999" is not a port number (1-65535))");
  EXPECT_EQ(server_result("https://198.51.100.1:0"),
            R"(kubeconfig /k: cluster "k": server "https://198.51.100.1:0": port "0" is not a port number (1-65535))");
}

}  // namespace
}  // namespace hostgw::k8s
