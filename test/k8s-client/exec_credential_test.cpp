#include "k8s-client/exec_credential.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <fstream>

namespace hostgw::k8s {
namespace {

using namespace std::chrono_literals;

ExecConfig v1_plugin() {
  ExecConfig exec;
  exec.api_version = "client.authentication.k8s.io/v1";
  exec.command = "get-token";
  exec.where = "kubeconfig /k: user \"u\": exec";
  return exec;
}

TEST(ExecCredentialTest, ParsesTokenAndExpiry) {
  auto result = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"abc","expirationTimestamp":"2026-11-27T12:00:00Z"}})",
      v1_plugin());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->token, "abc");
  ASSERT_TRUE(result->expiration);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(result->expiration->time_since_epoch()).count(),
            1795780800);
}

TEST(ExecCredentialTest, ParsesCertificatePair) {
  ExecConfig exec = v1_plugin();
  exec.api_version = "client.authentication.k8s.io/v1beta1";
  auto result = parse_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{},"status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}})",
      exec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->client_certificate_pem, "CERT");
  EXPECT_EQ(result->client_key_pem, "KEY");
  EXPECT_FALSE(result->expiration);
}

TEST(ExecCredentialTest, RefusesWrongShapes) {
  auto error = [](const char* json) { return parse_exec_credential(json, v1_plugin()).error().message; };
  const std::string prefix = "kubeconfig /k: user \"u\": exec: plugin output ";
  EXPECT_EQ(error("nope"), prefix + "is not a JSON object (an ExecCredential was expected)");
  EXPECT_EQ(error(R"({"kind":"Pod","apiVersion":"client.authentication.k8s.io/v1"})"),
            prefix + "has kind \"Pod\", expected ExecCredential");
  EXPECT_EQ(error(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"a"}})"),
            prefix + "has apiVersion \"client.authentication.k8s.io/v1beta1\", expected \"client.authentication.k8s.io/v1\" as configured");
  EXPECT_EQ(error(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{}})"),
            prefix + "has neither status.token nor status.clientCertificateData/clientKeyData");
  EXPECT_EQ(error(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"clientKeyData":"k"}})"),
            prefix + "has only one of status.clientCertificateData and status.clientKeyData");
  EXPECT_EQ(error(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":"a","expirationTimestamp":"tomorrow"}})"),
            prefix + "has status.expirationTimestamp \"tomorrow\", not RFC 3339");
  EXPECT_EQ(error(R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{"token":5}})"),
            prefix + "has a status field that is not a string");
}

TEST(Rfc3339Test, ParsesOffsetsAndFractions) {
  auto epoch = [](std::string_view text) {
    auto t = parse_rfc3339(text);
    return t ? std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count() : -1;
  };
  EXPECT_EQ(epoch("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(epoch("1970-01-01T01:00:00.250+01:00"), 250);
  EXPECT_EQ(epoch("1970-01-01T00:00:00-00:30"), 1800000);
  EXPECT_EQ(epoch("1970-01-01T00:00:00"), -1);
  EXPECT_EQ(epoch("1970-02-30T00:00:00Z"), -1);
  EXPECT_EQ(epoch("1970-01-01T00:00:00Zjunk"), -1);
}

TEST(ExecInfoTest, CarriesApiVersionAndClusterWhenAsked) {
  ExecConfig exec = v1_plugin();
  ClusterConfig cluster;
  cluster.server = "https://198.51.100.1:6443";
  std::string info = exec_info_json(exec, cluster);
  EXPECT_EQ(info, R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}})");
  exec.provide_cluster_info = true;
  cluster.ca_pem = "abc";
  info = exec_info_json(exec, cluster);
  EXPECT_NE(info.find(R"("cluster":{"server":"https://198.51.100.1:6443","insecure-skip-tls-verify":false,"certificate-authority-data":"YWJj"})"),
            std::string::npos)
      << info;
}

class ExecPluginRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "khg-exec-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string script(const std::string& body) {
    std::string path = dir_ + "/plugin.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }
  ExecCredentialResult run(const ExecConfig& exec, std::chrono::milliseconds timeout = 5s) {
    boost::asio::io_context io;
    auto future = boost::asio::co_spawn(io, run_exec_plugin(exec, "{\"info\":1}", timeout), boost::asio::use_future);
    io.run();
    return future.get();
  }
  std::string dir_;
};

TEST_F(ExecPluginRunTest, RunsWithArgsEnvAndExecInfo) {
  ExecConfig exec = v1_plugin();
  // The token echoes an arg, an env var from the config and KUBERNETES_EXEC_INFO.
  exec.command = script(
      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
      "\"status\":{\"token\":\"%s-%s-%s\"}}' \"$1\" \"$REGION\" \"$(echo \"$KUBERNETES_EXEC_INFO\" | tr -d '{}\\\"')\"\n");
  exec.args = {"arg1"};
  exec.env = {{"REGION", "eu"}};
  auto result = run(exec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->token, "arg1-eu-info:1");
}

TEST_F(ExecPluginRunTest, FailuresAreDescribed) {
  ExecConfig exec = v1_plugin();
  exec.command = script("exit 3\n");
  EXPECT_EQ(run(exec).error().message, exec.where + ": command \"" + exec.command + "\" exited with status 3");

  exec.command = dir_ + "/does-not-exist";
  exec.install_hint = "install it from example";
  EXPECT_EQ(run(exec).error().message, exec.where + ": cannot run command \"" + exec.command +
                                           "\": No such file or directory (install it from example)");
  exec.install_hint.clear();

  exec.command = script("exec sleep 10\n");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(run(exec, 300ms).error().message,
            exec.where + ": command \"" + exec.command + "\" did not finish within 300 ms and was killed");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);

  exec.command = script("echo garbage\n");
  EXPECT_EQ(run(exec).error().message,
            exec.where + ": plugin output is not a JSON object (an ExecCredential was expected)");
}

}  // namespace
}  // namespace hostgw::k8s
