// Proof that the fake speaks the real protocol: the real kubectl against an
// in-process FakeApiServer, with generated kubeconfigs (token, client cert).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/base64.hpp"
#include "fake-apiserver/fake_apiserver.hpp"
#include "json_util.hpp"
#include "test_support.hpp"

namespace hostgw::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKubectlToken = "kubectl-token-7c1e";

std::string find_kubectl() {
  if (::access("/usr/bin/kubectl", X_OK) == 0) return "/usr/bin/kubectl";
  return {};
}

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command line, killed by `timeout` after `seconds`.
Result run(const std::string& command, int seconds = 30) {
  const std::string line = "timeout " + std::to_string(seconds) + " " + command + " 2>&1";
  Result result;
  FILE* pipe = ::popen(line.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kubectl_ = find_kubectl();
    if (kubectl_.empty()) GTEST_SKIP() << "kubectl is not installed at /usr/bin/kubectl; skipping the protocol check";
    char dir_template[] = "/tmp/fake-apiserver-kubectl-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    auto options = default_options();
    options.tokens = {kKubectlToken};
    server_ = std::make_unique<FakeApiServer>(options);
  }
  void TearDown() override {
    server_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Writes a kubeconfig with the CA and either a token or the client certificate.
  std::string kubeconfig(const std::string& name, const std::string& token, bool client_cert = false) {
    const std::string path = dir_ + "/" + name;
    std::ofstream out(path);
    out << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " << server_->url()
        << "\n    certificate-authority-data: " << common::base64_encode(shared_pki().ca_pem)
        << "\nusers:\n- name: user\n  user:\n";
    if (client_cert)
      out << "    client-certificate-data: " << common::base64_encode(shared_pki().client_cert_pem)
          << "\n    client-key-data: " << common::base64_encode(shared_pki().client_key_pem) << "\n";
    else
      out << "    token: " << token << "\n";
    out << "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: user\ncurrent-context: fake\n";
    return path;
  }

  Result kubectl(const std::string& args, const std::string& config, int seconds = 30) {
    return run("env HOME=" + dir_ + " " + kubectl_ + " --kubeconfig=" + config + " --cache-dir=" + dir_ +
                   "/cache " + args,
               seconds);
  }

  bool saw_request(const std::string& fragment) const {
    for (const auto& r : server_->requests())
      if (r.target.find(fragment) != std::string::npos) return true;
    return false;
  }

  std::string kubectl_;
  std::string dir_;
  std::unique_ptr<FakeApiServer> server_;
};

TEST_F(KubectlTest, GetNodesListsTheNames) {
  server_->create_node(small_node("alpha"));
  server_->create_node(small_node("bravo", "10.244.2.0/24"));
  auto result = kubectl("get nodes", kubeconfig("token.yaml", kKubectlToken));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("NAME"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("alpha"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("bravo"), std::string::npos) << result.output;
  result = kubectl("get node bravo -o jsonpath={.spec.podCIDRs[0]}", kubeconfig("token.yaml", kKubectlToken));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "10.244.2.0/24");
}

TEST_F(KubectlTest, ChunkSizePagesWithLimitAndContinue) {
  for (int i = 0; i < 5; ++i) server_->create_node(small_node("node-" + std::to_string(i)));
  auto result = kubectl("get nodes --chunk-size=2 -o name", kubeconfig("token.yaml", kKubectlToken));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (int i = 0; i < 5; ++i)
    EXPECT_NE(result.output.find("node/node-" + std::to_string(i)), std::string::npos) << result.output;
  EXPECT_TRUE(saw_request("limit=2"));
  EXPECT_TRUE(saw_request("continue="));
}

TEST_F(KubectlTest, WatchSeesANodeAddedAfterItStarted) {
  server_->create_node(small_node("first"));
  const std::string config = kubeconfig("token.yaml", kKubectlToken);
  Result watch;
  std::thread watcher([&] { watch = kubectl("get nodes -w", config, 6); });
  bool watching = false;
  for (int i = 0; i < 500 && !watching; ++i) {
    watching = saw_request("watch=true");
    if (!watching) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(watching) << "kubectl never started its watch";
  server_->create_node(small_node("second", "10.244.2.0/24"));
  watcher.join();  // `timeout` ends it
  EXPECT_NE(watch.output.find("first"), std::string::npos) << watch.output;
  EXPECT_NE(watch.output.find("second"), std::string::npos) << watch.output;
}

TEST_F(KubectlTest, CreatePatchDeleteNode) {
  const std::string config = kubeconfig("token.yaml", kKubectlToken);
  const std::string node_file = dir_ + "/node.json";
  std::ofstream(node_file) << R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"made-by-kubectl"},"spec":{}})";
  auto result = kubectl("create -f " + node_file, config);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("node/made-by-kubectl created"), std::string::npos) << result.output;

  result = kubectl(R"(patch node made-by-kubectl -p '{"spec":{"podCIDR":"10.244.77.0/24"}}')", config);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("patched"), std::string::npos) << result.output;
  auto node = parse(server_->node_json("made-by-kubectl"));
  EXPECT_STREQ(node["spec"]["podCIDR"].GetString(), "10.244.77.0/24");
  EXPECT_STREQ(node["spec"]["podCIDRs"][0].GetString(), "10.244.77.0/24");

  result = kubectl("delete node made-by-kubectl", config);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("deleted"), std::string::npos) << result.output;
  EXPECT_TRUE(server_->node_names().empty());
}

TEST_F(KubectlTest, WrongTokenIsUnauthorized) {
  server_->create_node(small_node("alpha"));
  auto result = kubectl("get nodes", kubeconfig("wrong.yaml", "not-the-token"));
  EXPECT_NE(result.exit_code, 0) << result.output;
  // kubectl 1.29+ words a 401 during discovery as "the server has asked for the
  // client to provide credentials"; older ones print the Status message "Unauthorized".
  EXPECT_NE(result.output.find("You must be logged in to the server"), std::string::npos) << result.output;
  EXPECT_TRUE(result.output.find("Unauthorized") != std::string::npos ||
              result.output.find("provide credentials") != std::string::npos)
      << result.output;
  const auto requests = server_->requests();
  ASSERT_FALSE(requests.empty());
  for (const auto& r : requests) EXPECT_EQ(r.status, 401) << r.target;
}

TEST_F(KubectlTest, ClientCertificateAuthenticates) {
  server_->create_node(small_node("alpha"));
  auto result = kubectl("get nodes -o name", kubeconfig("cert.yaml", "", true));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("node/alpha"), std::string::npos) << result.output;
  for (const auto& r : server_->requests()) EXPECT_EQ(r.authorization, "") << r.target;
}

}  // namespace
}  // namespace hostgw::testing
