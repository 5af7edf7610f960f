// Integration tests: each way of configuring the client reaches the fake API
// server (in-cluster, kubeconfig with token / tokenFile / client certificate /
// CA data / exec plugin, merged $KUBECONFIG), and credentials are refreshed.

#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "integration_support.hpp"
#include "k8s-client/api_client.hpp"
#include "k8s-client/config.hpp"

namespace hostgw::k8s {
namespace {

using namespace hostgw::testing;
namespace asio = boost::asio;

class ConfigIntegrationTest : public ::testing::Test {
 protected:
  ApiResponse get(ApiClient& client) { return run_coroutine(io_, client.get("/api/v1/nodes")); }

  std::string cluster_yaml(const std::string& extra = "") const {
    return "clusters:\n- name: fake\n  cluster:\n    server: " + server_.url() +
           "\n    certificate-authority-data: " + common::base64_encode(shared_pki().ca_pem) + "\n" + extra;
  }
  static std::string context_yaml(const std::string& user = "me") {
    return "current-context: test\ncontexts:\n- name: test\n  context: {cluster: fake, user: " + user + "}\n";
  }

  asio::io_context io_;
  FakeApiServer server_{fake_options()};
  TempDir dir_;
};

TEST_F(ConfigIntegrationTest, InCluster) {
  dir_.write("sa/ca.crt", shared_pki().ca_pem);
  dir_.write("sa/token", kGoodToken + "\n");
  ConfigEnvironment env;
  env.service_host = "127.0.0.1";
  env.service_port = std::to_string(server_.port());
  ClusterConfig config = load_cluster_config({"", "", dir_.path() + "/sa"}, env);
  ApiClient client(io_.get_executor(), config);
  ApiResponse response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(server_.requests().back().authorization, "Bearer " + kGoodToken);
}

TEST_F(ConfigIntegrationTest, KubeconfigWithTokenAndCaFile) {
  dir_.write("pki/ca.crt", shared_pki().ca_pem);
  std::string file = dir_.write("config", "clusters:\n- name: fake\n  cluster:\n    server: " + server_.url() +
                                              "\n    certificate-authority: pki/ca.crt\n" + context_yaml() +
                                              "users:\n- name: me\n  user: {token: " + kGoodToken + "}\n");
  ApiClient client(io_.get_executor(), load_cluster_config({file, "", "/nonexistent"}, ConfigEnvironment{}));
  ApiResponse response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
}

TEST_F(ConfigIntegrationTest, KubeconfigWithClientCertificateData) {
  std::string file = dir_.write(
      "config", cluster_yaml() + context_yaml() + "users:\n- name: me\n  user:\n    client-certificate-data: " +
                    common::base64_encode(shared_pki().client_cert_pem) +
                    "\n    client-key-data: " + common::base64_encode(shared_pki().client_key_pem) + "\n");
  ApiClient client(io_.get_executor(), load_cluster_config({file, "", "/nonexistent"}, ConfigEnvironment{}));
  ApiResponse response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
}

TEST_F(ConfigIntegrationTest, TokenFileRotationIsPickedUpAndA401TriggersARereadAtOnce) {
  dir_.write("token", kGoodToken);
  std::string file = dir_.write("config", cluster_yaml() + context_yaml() + "users:\n- name: me\n  user: {tokenFile: token}\n");
  ClusterConfig config = load_cluster_config({file, "", "/nonexistent"}, ConfigEnvironment{});
  ApiClientOptions options;
  options.token_reload_interval = 200ms;
  ApiClient client(io_.get_executor(), config, options);
  ASSERT_TRUE(get(client).ok());

  // Rotation with both tokens valid (as with bound tokens): picked up on the next
  // request after the reload interval, without any 401.
  server_.set_tokens({kGoodToken, "rotated-2"});
  dir_.write("token", "rotated-2\n");
  std::this_thread::sleep_for(250ms);
  ASSERT_TRUE(get(client).ok());
  EXPECT_EQ(server_.requests().back().authorization, "Bearer rotated-2");
  EXPECT_EQ(client.stats().requests_by_code.count(401), 0u);

  // The old token is revoked before the interval passes: the 401 makes the client re-read at once.
  server_.set_tokens({"rotated-3"});
  dir_.write("token", "rotated-3\n");
  auto reloads = client.stats().token_reloads;
  ApiResponse response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(client.stats().requests_by_code.at(401), 1u);
  EXPECT_EQ(client.stats().token_reloads, reloads + 1);
  EXPECT_EQ(server_.requests().back().authorization, "Bearer rotated-3");

  // A failed re-read keeps the old token.
  std::filesystem::remove(dir_.path() + "/token");
  std::this_thread::sleep_for(250ms);
  response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(server_.requests().back().authorization, "Bearer rotated-3");
}

TEST_F(ConfigIntegrationTest, ExecPluginThroughMergedKubeconfigAndRerunOn401) {
  // The plugin prints the token named in token.txt and counts its runs.
  dir_.write("token.txt", kGoodToken);
  dir_.write("bin/plugin.sh",
             "#!/bin/sh\n"
             "echo run >> \"$(dirname \"$0\")/../runs.txt\"\n"
             "test \"$KUBERNETES_EXEC_INFO\" != \"\" || exit 9\n"
             "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
             "\"status\":{\"token\":\"%s\"}}' \"$(cat \"$(dirname \"$0\")/../token.txt\")\"\n",
             /*executable=*/true);
  // File one: cluster and context. File two: the user, and a current-context the first file overrides.
  std::string one = dir_.write("one.yaml", cluster_yaml() + context_yaml("plugin-user"));
  std::string two = dir_.write("two.yaml",
                               "current-context: elsewhere\n"
                               "users:\n- name: plugin-user\n  user:\n    exec:\n"
                               "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                               "      command: ./bin/plugin.sh\n");
  ConfigEnvironment env;
  env.kubeconfig = one + ":" + two;
  ClusterConfig config = load_cluster_config({"", "", "/nonexistent"}, env);
  ASSERT_TRUE(config.exec);
  ApiClient client(io_.get_executor(), config);
  ASSERT_TRUE(get(client).ok());
  ASSERT_TRUE(get(client).ok());
  EXPECT_EQ(client.stats().exec_plugin_runs, 1u) << "the credential is cached";

  server_.set_tokens({"exec-2"});
  dir_.write("token.txt", "exec-2");
  ApiResponse response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(client.stats().exec_plugin_runs, 2u);
  EXPECT_EQ(server_.requests().back().authorization, "Bearer exec-2");
}

TEST_F(ConfigIntegrationTest, FailingExecPluginIsAClearError) {
  dir_.write("bin/fail.sh", "#!/bin/sh\necho 'no credentials for you' >&2\nexit 4\n", true);
  std::string file = dir_.write("config", cluster_yaml() + context_yaml() +
                                              "users:\n- name: me\n  user:\n    exec:\n"
                                              "      apiVersion: client.authentication.k8s.io/v1\n"
                                              "      command: bin/fail.sh\n      installHint: ask the admin\n");
  ApiClient client(io_.get_executor(), load_cluster_config({file, "", "/nonexistent"}, ConfigEnvironment{}));
  ApiResponse response = get(client);
  EXPECT_EQ(response.error, make_error_code(ApiErrc::credentials_unavailable));
  EXPECT_EQ(response.error_message, "GET /api/v1/nodes: kubeconfig " + file + ": user \"me\": exec: command \"" +
                                        dir_.path() + "/bin/fail.sh\" exited with status 4 (ask the admin)");
}

TEST_F(ConfigIntegrationTest, ExecPluginClientCertificate) {
  dir_.write("bin/cert.sh",
             "#!/bin/sh\ncat \"$(dirname \"$0\")/../cred.json\"\n", true);
  auto json_escape = [](const std::string& pem) {
    std::string out;
    for (char c : pem) out += c == '\n' ? std::string("\\n") : std::string(1, c);
    return out;
  };
  dir_.write("cred.json", R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":")" +
                              json_escape(shared_pki().client_cert_pem) + R"(","clientKeyData":")" +
                              json_escape(shared_pki().client_key_pem) + R"("}})");
  std::string file = dir_.write("config", cluster_yaml() + context_yaml() +
                                              "users:\n- name: me\n  user:\n    exec:\n"
                                              "      apiVersion: client.authentication.k8s.io/v1\n"
                                              "      command: ./bin/cert.sh\n");
  ApiClient client(io_.get_executor(), load_cluster_config({file, "", "/nonexistent"}, ConfigEnvironment{}));
  ApiResponse response = get(client);
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(server_.requests().back().authorization, "");
}

}  // namespace
}  // namespace hostgw::k8s
