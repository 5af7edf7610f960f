#include "k8s-client/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test-support/temp_dir.hpp"

namespace hostgw::k8s {
namespace {

namespace fs = std::filesystem;

// PEM-shaped text: config loading checks the shape, the TLS layer the content.
const std::string kCaPem = "-----BEGIN CERTIFICATE-----\nTUlJQ0FB\n-----END CERTIFICATE-----\n";
const std::string kKeyPem = "-----BEGIN PRIVATE KEY-----\nTUlJQ0FB\n-----END PRIVATE KEY-----\n";
const std::string kCaB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClRVbEpRMEZCCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";  // kCaPem

using hostgw::test_support::TempDir;

std::string expect_error(const std::function<void()>& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return {};
}

// The whole error: message, whether it may heal, hint.
struct Failure {
  std::string message;
  bool may_heal = false;
  std::string hint;
};

Failure failure_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const ConfigError& e) {
    return {e.what(), e.may_heal(), e.hint()};
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return {};
}

TEST(KubeconfigTest, ResolvesCurrentContextWithTokenAndCaData) {
  std::string text = R"(
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://198.51.100.10:6443/
    certificate-authority-data: )" + kCaB64 + R"(
    tls-server-name: api.example
contexts:
- name: prod
  context: {cluster: prod-cluster, user: admin}
users:
- name: admin
  user:
    token: s3cret
)";
  ClusterConfig config = resolve_kubeconfig({{"/etc/k/config", text}});
  EXPECT_EQ(config.server, "https://198.51.100.10:6443/");
  EXPECT_EQ(config.host, "198.51.100.10");
  EXPECT_EQ(config.port, "6443");
  EXPECT_EQ(config.base_path, "");
  EXPECT_EQ(config.ca_pem, kCaPem);
  EXPECT_EQ(config.tls_server_name, "api.example");
  EXPECT_EQ(config.verify_name(), "api.example");
  EXPECT_EQ(config.token, "s3cret");
  EXPECT_EQ(config.source, "kubeconfig /etc/k/config, context \"prod\"");
  EXPECT_EQ(config.describe().find("s3cret"), std::string::npos) << config.describe();
  EXPECT_NE(config.describe().find("credential=token"), std::string::npos) << config.describe();
}

TEST(KubeconfigTest, Ipv6ServerAndDefaultPortAndPathPrefix) {
  std::string text = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://[2001:db8::1]/k8s/clusters/x", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  ClusterConfig config = resolve_kubeconfig({{"/k", text}});
  EXPECT_EQ(config.host, "2001:db8::1");
  EXPECT_EQ(config.port, "443");
  EXPECT_EQ(config.base_path, "/k8s/clusters/x");
  EXPECT_TRUE(config.insecure_skip_tls_verify);
}

TEST(KubeconfigTest, MergesFirstFileWinsAndContextOverride) {
  std::string first = R"(
current-context: a
clusters: [{name: k, cluster: {server: "https://198.51.100.1"}}]
users: [{name: u, user: {token: first-token}}]
contexts: [{name: a, context: {cluster: k, user: u}}]
)";
  std::string second = R"(
current-context: b
clusters: [{name: k, cluster: {server: "https://198.51.100.2"}}, {name: k2, cluster: {server: "https://198.51.100.3"}}]
users: [{name: u, user: {token: second-token}}]
contexts: [{name: b, context: {cluster: k2, user: u}}]
)";
  ClusterConfig config = resolve_kubeconfig({{"/one", first}, {"/two", second}});
  EXPECT_EQ(config.host, "198.51.100.1");
  EXPECT_EQ(config.token, "first-token");
  ClusterConfig other = resolve_kubeconfig({{"/one", first}, {"/two", second}}, "b");
  EXPECT_EQ(other.host, "198.51.100.3");
  EXPECT_EQ(other.token, "first-token");  // user "u" from the first file
  // Reversed order: the other file's current-context wins.
  ClusterConfig reversed = resolve_kubeconfig({{"/two", second}, {"/one", first}});
  EXPECT_EQ(reversed.host, "198.51.100.3");
  EXPECT_EQ(reversed.token, "second-token");
}

TEST(KubeconfigTest, RelativePathsResolveAgainstTheFilesFolder) {
  TempDir dir;
  dir.write("pki/ca.crt", kCaPem);
  dir.write("pki/client.crt", kCaPem);
  dir.write("pki/client.key", kKeyPem);
  dir.write("token", "tok\n");
  std::string text = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://localhost:6443", certificate-authority: pki/ca.crt}}]
users: [{name: u, user: {client-certificate: pki/client.crt, client-key: pki/client.key, tokenFile: ../)" +
                     fs::path(dir.path()).filename().string() + R"(/token}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  std::string file = dir.write("config", text);
  ClusterConfig config = load_cluster_config({file, "", "/nonexistent"}, ConfigEnvironment{});
  EXPECT_EQ(config.ca_pem, kCaPem);
  EXPECT_EQ(config.client_cert_pem, kCaPem);
  EXPECT_EQ(config.client_key_pem, kKeyPem);
  EXPECT_EQ(config.token_file, dir.path() + "/token");
  EXPECT_EQ(config.host, "localhost");
}

TEST(KubeconfigTest, ExecPluginIsDescribed) {
  std::string text = R"(
current-context: c
clusters: [{name: k, cluster: {server: "https://198.51.100.1"}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: [--cluster, prod]
      env: [{name: REGION, value: eu}]
      interactiveMode: Never
      provideClusterInfo: true
contexts: [{name: c, context: {cluster: k, user: u}}]
)";
  ClusterConfig config = resolve_kubeconfig({{"/etc/kube/config", text}});
  ASSERT_TRUE(config.exec);
  EXPECT_EQ(config.exec->command, "/etc/kube/bin/get-token");
  EXPECT_EQ(config.exec->args, (std::vector<std::string>{"--cluster", "prod"}));
  ASSERT_EQ(config.exec->env.size(), 1u);
  EXPECT_EQ(config.exec->env[0].first, "REGION");
  EXPECT_TRUE(config.exec->provide_cluster_info);
  EXPECT_EQ(config.exec->where, "kubeconfig /etc/kube/config: user \"u\": exec");
}

struct BadConfig {
  const char* user_or_cluster;  // YAML for the cluster and user entries
  const char* error;
};

class KubeconfigErrorTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(KubeconfigErrorTest, NamesFileEntryAndField) {
  std::string text = std::string("current-context: c\ncontexts: [{name: c, context: {cluster: k, user: admin}}]\n") +
                     GetParam().user_or_cluster;
  std::string error = expect_error([&] { resolve_kubeconfig({{"/root/.kube/config", text}}); });
  EXPECT_EQ(error, GetParam().error);
}

#define GOOD_CLUSTER "clusters: [{name: k, cluster: {server: \"https://198.51.100.1\"}}]\n"
INSTANTIATE_TEST_SUITE_P(
    Fields, KubeconfigErrorTest,
    ::testing::Values(
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {client-certificate-data: " "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==" ", client-key-data: 'not*base64'}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": client-key-data is not valid base64"},
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {client-certificate-data: aGVsbG8=, client-key-data: aGVsbG8=}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": client-certificate-data does not contain PEM data"},
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {auth-provider: {name: gcp}}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": auth-provider is not supported by kube-hostgw; use a token, tokenFile, client certificate or exec plugin"},
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {username: a, password: b}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": username is not supported by kube-hostgw; use a token, tokenFile, client certificate or exec plugin"},
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {tokenFile: /nonexistent/token}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": tokenFile /nonexistent/token: No such file or directory"},
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": exec: apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported; use client.authentication.k8s.io/v1 or v1beta1"},
        BadConfig{GOOD_CLUSTER "users: [{name: admin, user: {exec: {apiVersion: client.authentication.k8s.io/v1}}}]",
                  "kubeconfig /root/.kube/config: user \"admin\": exec: command is missing"},
        BadConfig{"clusters: [{name: k, cluster: {server: \"https://198.51.100.1\", proxy-url: \"http://p\"}}]",
                  "kubeconfig /root/.kube/config: cluster \"k\": proxy-url is not supported by kube-hostgw; remove it"},
        BadConfig{"clusters: [{name: k, cluster: {server: \"http://198.51.100.1\"}}]",
                  "kubeconfig /root/.kube/config: cluster \"k\": server \"http://198.51.100.1\": scheme \"http\" is not supported, only https"},
        BadConfig{"clusters: [{name: k, cluster: {}}]", "kubeconfig /root/.kube/config: cluster \"k\": server is missing"},
        BadConfig{"clusters: [{name: k, cluster: {server: \"https://h\", insecure-skip-tls-verify: maybe}}]",
                  "kubeconfig /root/.kube/config: cluster \"k\": insecure-skip-tls-verify must be true or false, not \"maybe\""},
        BadConfig{"clusters: [{name: k, cluster: {server: \"https://h\", certificate-authority: /nonexistent/ca.crt}}]",
                  "kubeconfig /root/.kube/config: cluster \"k\": certificate-authority /nonexistent/ca.crt: No such file or directory"},
        BadConfig{"clusters: [{name: other, cluster: {server: \"https://h\"}}]",
                  "kubeconfig /root/.kube/config: context \"c\": cluster \"k\" is not defined"},
        BadConfig{GOOD_CLUSTER "users: [{name: someone, user: {}}]",
                  "kubeconfig /root/.kube/config: context \"c\": user \"admin\" is not defined"}));

TEST(KubeconfigTest, MissingContextAndBadYaml) {
  EXPECT_EQ(expect_error([] { resolve_kubeconfig({{"/k", "clusters: []\n"}}); }),
            "kubeconfig /k: current-context is not set; set it or pass --context");
  EXPECT_EQ(expect_error([] { resolve_kubeconfig({{"/k", "current-context: x\n"}}, "y"); }),
            "kubeconfig /k: context \"y\" is not defined (from --context)");
  EXPECT_NE(expect_error([] { resolve_kubeconfig({{"/k", "clusters: [\n"}}); }).find("kubeconfig /k: not valid YAML"),
            std::string::npos);
  EXPECT_EQ(expect_error([] { resolve_kubeconfig({{"/k", "clusters: {a: b}\n"}}); }),
            "kubeconfig /k: clusters must be a list");
}

TEST(LoadClusterConfigTest, InClusterWhenServiceEnvAndTokenExist) {
  TempDir dir;
  dir.write("ca.crt", kCaPem);
  dir.write("token", "pod-token");
  ConfigEnvironment env;
  env.service_host = "2001:db8::a";
  env.service_port = "443";
  env.kubeconfig = "/nonexistent";  // in-cluster comes first
  ClusterConfig config = load_cluster_config({"", "", dir.path()}, env);
  EXPECT_EQ(config.server, "https://[2001:db8::a]:443");
  EXPECT_EQ(config.host, "2001:db8::a");
  EXPECT_EQ(config.token_file, dir.path() + "/token");
  EXPECT_EQ(config.ca_pem, kCaPem);
  EXPECT_EQ(config.source, "in-cluster (" + dir.path() + ")");
}

TEST(LoadClusterConfigTest, KubeconfigFlagBeatsInCluster) {
  TempDir dir;
  dir.write("ca.crt", kCaPem);
  dir.write("token", "pod-token");
  std::string file = dir.write("kc", "current-context: c\nclusters: [{name: k, cluster: {server: \"https://h:1\"}}]\n"
                                     "contexts: [{name: c, context: {cluster: k}}]\n");
  ConfigEnvironment env;
  env.service_host = "198.51.100.1";
  env.service_port = "443";
  EXPECT_EQ(load_cluster_config({file, "", dir.path()}, env).host, "h");
  EXPECT_EQ(expect_error([&] { load_cluster_config({dir.path() + "/missing", "", dir.path()}, env); }),
            "kubeconfig " + dir.path() + "/missing: No such file or directory");
}

TEST(LoadClusterConfigTest, KubeconfigEnvListSkipsMissingFilesThenHome) {
  TempDir dir;
  std::string a = dir.write("a", "clusters: [{name: k, cluster: {server: \"https://a\"}}]\n");
  std::string b = dir.write("b", "current-context: c\nclusters: [{name: k, cluster: {server: \"https://b\"}}]\n"
                                 "contexts: [{name: c, context: {cluster: k}}]\n");
  ConfigEnvironment env;
  env.kubeconfig = dir.path() + "/missing:" + a + "::" + b;
  EXPECT_EQ(load_cluster_config({"", "", "/nonexistent"}, env).host, "a");

  ConfigEnvironment home_env;
  home_env.home = dir.path();
  dir.write(".kube/config", "current-context: c\nclusters: [{name: k, cluster: {server: \"https://home\"}}]\n"
                            "contexts: [{name: c, context: {cluster: k}}]\n");
  EXPECT_EQ(load_cluster_config({"", "", "/nonexistent"}, home_env).host, "home");

  ConfigEnvironment nothing;
  nothing.home = dir.path() + "/nohome";
  EXPECT_NE(expect_error([&] { load_cluster_config({"", "", "/nonexistent"}, nothing); })
                .find("no Kubernetes configuration: not running in a pod"),
            std::string::npos);
}

TEST(LoadClusterConfigTest, InClusterErrorsNameTheFile) {
  TempDir dir;
  dir.write("token", "t");
  ConfigEnvironment env;
  env.service_host = "198.51.100.1";
  env.service_port = "443";
  EXPECT_EQ(expect_error([&] { load_cluster_config({"", "", dir.path()}, env); }),
            "in-cluster configuration: " + dir.path() + "/ca.crt: No such file or directory");
}

// What can never work does not heal (the daemon exits 1); only the service
// account files of a pod may still appear.
TEST(ConfigHealTest, KubeconfigErrorsNeverHealAndSayWhatToDo) {
  TempDir dir;
  ConfigEnvironment env;
  env.home = dir.path();
  Failure missing = failure_of([&] { load_cluster_config({dir.path() + "/missing", "", dir.path()}, env); });
  EXPECT_EQ(missing.message, "kubeconfig " + dir.path() + "/missing: No such file or directory");
  EXPECT_FALSE(missing.may_heal);
  EXPECT_EQ(missing.hint, "fix the file, or pass a working one with --kubeconfig (kubectl --kubeconfig " +
                              dir.path() + "/missing config view shows what it holds)");

  fs::create_directories(dir.path() + "/folder");
  Failure folder = failure_of([&] { load_cluster_config({dir.path() + "/folder", "", dir.path()}, env); });
  EXPECT_EQ(folder.message, "kubeconfig " + dir.path() + "/folder: is a folder, not a file");
  EXPECT_FALSE(folder.may_heal);

  std::string invalid = dir.write("invalid", "current-context: nowhere\n");
  Failure bad = failure_of([&] { load_cluster_config({invalid, "", dir.path()}, env); });
  EXPECT_EQ(bad.message, "kubeconfig " + invalid + ": context \"nowhere\" is not defined (it is the current-context)");
  EXPECT_FALSE(bad.may_heal);
  EXPECT_NE(bad.hint.find("--kubeconfig"), std::string::npos);

  ConfigEnvironment from_env = env;
  from_env.kubeconfig = invalid;
  Failure via_env = failure_of([&] { load_cluster_config({"", "", dir.path()}, from_env); });
  EXPECT_FALSE(via_env.may_heal);
  EXPECT_EQ(via_env.hint, "fix it, or point $KUBECONFIG (or --kubeconfig) at a working kubeconfig");

  dir.write(".kube/config", "clusters: 5\n");
  Failure home = failure_of([&] { load_cluster_config({"", "", dir.path()}, env); });
  EXPECT_EQ(home.message, "kubeconfig " + dir.path() + "/.kube/config: clusters must be a list");
  EXPECT_FALSE(home.may_heal);
  EXPECT_EQ(home.hint, "fix it, or pass a working kubeconfig with --kubeconfig");
}

TEST(ConfigHealTest, NoConfigurationOutsideAPodNeverHeals) {
  TempDir dir;
  ConfigEnvironment env;
  env.home = dir.path();
  Failure nothing = failure_of([&] { load_cluster_config({"", "", dir.path() + "/sa"}, env); });
  EXPECT_EQ(nothing.message,
            "no Kubernetes configuration: not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset), $KUBECONFIG "
            "unset, and " +
                dir.path() + "/.kube/config does not exist");
  EXPECT_FALSE(nothing.may_heal);
  EXPECT_EQ(nothing.hint,
            "pass --kubeconfig FILE (outside a cluster), or run kube-hostgw as the DaemonSet in "
            "manifests/kube-hostgw.yaml (in-cluster service account)");
}

TEST(ConfigHealTest, ServiceAccountFilesNotMountedYetMayHeal) {
  TempDir dir;
  ConfigEnvironment env;
  env.home = dir.path();
  env.service_host = "198.51.100.1";
  env.service_port = "443";
  // No token yet, and nothing else to fall back to.
  Failure no_token = failure_of([&] { load_cluster_config({"", "", dir.path()}, env); });
  EXPECT_EQ(no_token.message, "no Kubernetes configuration yet: in a pod (KUBERNETES_SERVICE_HOST/PORT set) but " +
                                  dir.path() + "/token does not exist, $KUBECONFIG unset, and " + dir.path() +
                                  "/.kube/config does not exist");
  EXPECT_TRUE(no_token.may_heal);
  EXPECT_NE(no_token.hint.find("automountServiceAccountToken"), std::string::npos);

  // The token is there, the CA not yet; then a CA that is not PEM (half written).
  dir.write("token", "t");
  Failure no_ca = failure_of([&] { load_cluster_config({"", "", dir.path()}, env); });
  EXPECT_EQ(no_ca.message, "in-cluster configuration: " + dir.path() + "/ca.crt: No such file or directory");
  EXPECT_TRUE(no_ca.may_heal);
  dir.write("ca.crt", "");
  EXPECT_TRUE(failure_of([&] { load_cluster_config({"", "", dir.path()}, env); }).may_heal);
  dir.write("ca.crt", kCaPem);
  EXPECT_EQ(load_cluster_config({"", "", dir.path()}, env).host, "198.51.100.1");

  // A service host that is set but empty cannot heal.
  env.service_host = "";
  Failure empty_host = failure_of([&] { load_cluster_config({"", "", dir.path()}, env); });
  EXPECT_EQ(empty_host.message, "in-cluster configuration: KUBERNETES_SERVICE_HOST is empty");
  EXPECT_FALSE(empty_host.may_heal);
}

}  // namespace
}  // namespace hostgw::k8s
