// The bearer token never appears in what kube-hostgw shows: its log (at the
// highest verbosity, through failures, 401s and a token rotation) and its
// /metrics and /healthz answers. The whole daemon runs in process against the
// fake API server over HTTPS on loopback, with routes in memory.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

#include "common/log.hpp"
#include "controller/api_node_source.hpp"
#include "controller/daemon.hpp"
#include "fake-apiserver/fake_apiserver.hpp"
#include "http_get.hpp"
#include "k8s-client/config.hpp"
#include "routing/fake_route_table.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::IpAddress;
using routing::IpPrefix;

// Distinctive, so that a match can only be a leak.
constexpr const char* kOldToken = "khg-OLD-bearer-9f3a7c1e5b2d4f60a8c9e7b1d3f5a2c4";
constexpr const char* kNewToken = "khg-NEW-bearer-1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f";

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_verbosity(10);  // everything the daemon can say
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
    char pattern[] = "/tmp/khg-secrets-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    pki_ = testing::make_test_pki({"127.0.0.1"});
    testing::FakeApiServerOptions server_options;
    server_options.cert_pem = pki_.server_cert_pem;
    server_options.key_pem = pki_.server_key_pem;
    server_options.tokens = {kNewToken};  // the file starts with the old one: 401 first
    server_options.bookmark_interval = 300ms;
    server_ = std::make_unique<testing::FakeApiServer>(server_options);
    std::ofstream(dir_ / "ca.crt") << pki_.ca_pem;
    std::ofstream(dir_ / "token") << kOldToken << "\n";
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: "
                                       << server_->url() << "\n    certificate-authority: " << (dir_ / "ca.crt").string()
                                       << "\nusers:\n- name: hostgw\n  user:\n    tokenFile: " << (dir_ / "token").string()
                                       << "\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: hostgw\n"
                                          "current-context: fake\n";
    table_.set_connected_networks(
        {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1500}});
  }

  void TearDown() override {
    if (daemon_) daemon_->stop();
    io_.restart();
    io_.run_for(200ms);
    daemon_.reset();
    source_.reset();
    server_.reset();
    log::set_sink(nullptr);
    log::set_verbosity(0);
    std::filesystem::remove_all(dir_);
  }

  template <typename Predicate>
  bool run_until(Predicate predicate, std::chrono::milliseconds timeout = 15000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    io_.restart();
    while (!predicate()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_one_for(10ms);
    }
    return true;
  }

  testing::HttpResult get(const std::string& target) {
    std::optional<testing::HttpResult> result;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { result = co_await testing::http_get(daemon_->health_port(), target); },
        asio::detached);
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 5000ms)) << target;
    return result.value_or(testing::HttpResult{});
  }

  asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  MetricsRegistry registry_;
  testing::TestPki pki_;
  std::unique_ptr<testing::FakeApiServer> server_;
  std::unique_ptr<ApiNodeSource> source_;
  std::unique_ptr<Daemon> daemon_;
  std::vector<std::string> log_;
  std::filesystem::path dir_;
};

TEST_F(SecretsTest, BearerTokenNeverInLogsOrMetrics) {
  server_->create_node(testing::make_node_json({"node-a", {"10.244.1.0/24"}, {"198.51.100.11"}, {}, true}));
  server_->create_node(testing::make_node_json({"node-b", {"10.244.2.0/24"}, {"198.51.100.12"}, {}, true}));

  Options options;
  options.node_name = "node-a";
  options.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
  options.kubeconfig = (dir_ / "kubeconfig").string();
  options.healthz = BindAddress{IpAddress::parse("127.0.0.1"), 0};
  options.verbosity = 10;
  k8s::NodeWatcherOptions watcher;
  watcher.backoff.initial = 50ms;
  watcher.backoff.max = 200ms;
  source_ = std::make_unique<ApiNodeSource>(io_.get_executor(), k8s::ConfigOptions{options.kubeconfig, ""}, registry_,
                                            watcher);
  daemon_ = std::make_unique<Daemon>(io_.get_executor(), options,
                                     DaemonParts{&table_, &table_, source_.get(), source_.get()}, registry_);
  daemon_->start();

  // 1. The old token is refused (401): the daemon logs the failure and retries.
  ASSERT_TRUE(run_until([&] {
    for (const auto& request : server_->requests())
      if (request.status == 401) return true;
    return false;
  })) << "the fake API server never saw the old token";
  EXPECT_FALSE(daemon_->ready());

  // 2. The token file is rotated: the client re-reads it and gets in.
  std::ofstream(dir_ / "token", std::ios::trunc) << kNewToken << "\n";
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); })) << "not ready after the token rotation";

  // 3. Failures and reconnections, the paths most likely to dump a request.
  server_->fail_next(500, 2);
  server_->drop_connections();
  server_->create_node(testing::make_node_json({"node-c", {"10.244.3.0/24"}, {"198.51.100.13"}, {}, true}));
  ASSERT_TRUE(run_until([&] { return table_.find({routing::kMainTable, IpPrefix::parse("10.244.3.0/24"), 0}); }));
  server_->compact();
  server_->drop_connections();
  server_->create_node(testing::make_node_json({"node-d", {"10.244.4.0/24"}, {"198.51.100.14"}, {}, true}));
  ASSERT_TRUE(run_until([&] { return table_.find({routing::kMainTable, IpPrefix::parse("10.244.4.0/24"), 0}); }));

  // The tokens really went over the wire (so their absence below means something).
  bool sent_old = false, sent_new = false;
  for (const auto& request : server_->requests()) {
    if (request.authorization == std::string("Bearer ") + kOldToken) sent_old = true;
    if (request.authorization == std::string("Bearer ") + kNewToken) sent_new = true;
  }
  EXPECT_TRUE(sent_old);
  EXPECT_TRUE(sent_new);

  const testing::HttpResult metrics = get("/metrics");
  const testing::HttpResult healthz = get("/healthz");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("kube_hostgw_"), std::string::npos);

  ASSERT_GT(log_.size(), 10u) << "verbosity 10 should log plenty";
  std::size_t leaks = 0;
  for (const char* token : {kOldToken, kNewToken}) {
    // The whole token, and a prefix long enough to identify it (a truncated dump).
    for (const std::string& secret : {std::string(token), std::string(token).substr(0, 20)}) {
      for (const auto& line : log_) {
        if (line.find(secret) != std::string::npos) {
          ++leaks;
          ADD_FAILURE() << "token in the log: " << line;
        }
      }
      EXPECT_EQ(metrics.body.find(secret), std::string::npos) << "token in /metrics";
      EXPECT_EQ(metrics.headers.find(secret), std::string::npos) << "token in /metrics headers";
      EXPECT_EQ(healthz.body.find(secret), std::string::npos) << "token in /healthz";
      EXPECT_EQ(registry_.render().find(secret), std::string::npos) << "token in the metrics registry";
    }
  }
  EXPECT_EQ(leaks, 0u);
  RecordProperty("input", "bearer token (tokenFile, rotated after 401s) with -v 10, API 500s, dropped connections, 410 relist");
  RecordProperty("outcome", std::to_string(leaks) + " occurrences of either token in " + std::to_string(log_.size()) +
                                " log lines, /metrics (" + std::to_string(metrics.body.size()) + " bytes) and /healthz");

  // What the daemon logs about its configuration names the token file, not its content.
  k8s::ClusterConfig config = k8s::load_cluster_config(k8s::ConfigOptions{options.kubeconfig, ""});
  EXPECT_EQ(config.describe().find(kNewToken), std::string::npos);
  config.token = kNewToken;  // a fixed token in the kubeconfig
  EXPECT_EQ(config.describe().find(kNewToken), std::string::npos);
}

}  // namespace
}  // namespace hostgw::controller
