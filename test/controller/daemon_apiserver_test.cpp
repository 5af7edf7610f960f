// The daemon against the fake API server over real HTTPS (ApiClient +
// NodeWatcher through ApiNodeSource), with an in-memory route table: the whole
// program except netlink, without root.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/log.hpp"
#include "controller/api_node_source.hpp"
#include "controller/daemon.hpp"
#include "fake-apiserver/fake_apiserver.hpp"
#include "routing/fake_route_table.hpp"
#include "test-support/run_until.hpp"
#include "test-support/temp_dir.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::IpAddress;
using routing::IpPrefix;

class DaemonApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
    dir_ = temp_.path();
    pki_ = testing::make_test_pki({"127.0.0.1"});
    testing::FakeApiServerOptions server_options;
    server_options.cert_pem = pki_.server_cert_pem;
    server_options.key_pem = pki_.server_key_pem;
    server_options.tokens = {"s3cret-token"};
    server_options.bookmark_interval = 500ms;
    server_ = std::make_unique<testing::FakeApiServer>(server_options);
    std::ofstream(dir_ / "ca.crt") << pki_.ca_pem;
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\nkind: Config\n"
                                          "clusters:\n- name: fake\n  cluster:\n    server: "
                                       << server_->url()
                                       << "\n    certificate-authority: " << (dir_ / "ca.crt").string()
                                       << "\nusers:\n- name: hostgw\n  user:\n    token: s3cret-token\n"
                                          "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: hostgw\n"
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
  }

  void start() {
    Options options;
    options.node_name = "node-a";
    options.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
    options.set_node_network_available = true;
    options.own_pod_cidr_routes = false;  // the routes to other nodes only (DaemonTest covers our own)
    options.kubeconfig = (dir_ / "kubeconfig").string();
    k8s::NodeWatcherOptions watcher;
    watcher.backoff.initial = 50ms;
    watcher.backoff.max = 200ms;
    source_ = std::make_unique<ApiNodeSource>(io_.get_executor(), k8s::ConfigOptions{options.kubeconfig, ""}, registry_,
                                              watcher);
    daemon_ = std::make_unique<Daemon>(io_.get_executor(), options,
                                       DaemonParts{&table_, &table_, source_.get(), source_.get()}, registry_);
    daemon_->start();
  }

  template <typename Predicate>
  bool run_until(Predicate predicate, std::chrono::milliseconds timeout = 10000ms) {
    return test_support::run_until(io_, predicate, timeout);
  }

  void create(const char* name, const char* cidr, const char* address) {
    server_->create_node(testing::make_node_json({name, {cidr}, {address}, {}, true}));
  }

  bool has_route(const char* destination, const char* gateway) {
    const routing::Route* route = table_.find({routing::kMainTable, IpPrefix::parse(destination), 0});
    return route && route->gateway == IpAddress::parse(gateway);
  }

  asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  MetricsRegistry registry_;
  testing::TestPki pki_;
  std::unique_ptr<testing::FakeApiServer> server_;
  std::unique_ptr<ApiNodeSource> source_;
  std::unique_ptr<Daemon> daemon_;
  std::vector<std::string> log_;
  test_support::TempDir temp_{"khg-daemon-api"};
  std::filesystem::path dir_;
};

// The production path of --set-node-network-available (Daemon ->
// ApiNodeSource -> PATCH nodes/status as a strategic merge patch), checked
// on what the API server stored: our condition is there and the kubelet's
// conditions are untouched.
TEST_F(DaemonApiServerTest, NetworkAvailableIsAStrategicMergeOfTheCondition) {
  create("node-a", "10.244.1.0/24", "198.51.100.11");  // realistic: the kubelet's four conditions
  create("node-b", "10.244.2.0/24", "198.51.100.12");
  auto conditions_of = [&](const std::string& json) {
    rapidjson::Document node;
    node.Parse(json.data(), json.size());
    std::map<std::string, std::string> by_type;  // type -> "status reason"
    if (node.HasParseError() || !node.IsObject() || !node.HasMember("status")) return by_type;
    const auto& status = node["status"];
    if (!status.IsObject() || !status.HasMember("conditions") || !status["conditions"].IsArray()) return by_type;
    for (const auto& condition : status["conditions"].GetArray()) {
      if (!condition.IsObject() || !condition.HasMember("type")) continue;
      std::string text = condition.HasMember("status") ? condition["status"].GetString() : "";
      if (condition.HasMember("reason")) text += std::string(" ") + condition["reason"].GetString();
      by_type[condition["type"].GetString()] = text;
    }
    return by_type;
  };
  const std::map<std::string, std::string> before = conditions_of(server_->node_json("node-a"));
  ASSERT_EQ(before.count("Ready"), 1u) << server_->node_json("node-a");
  ASSERT_NE(before.count("NetworkUnavailable") ? before.at("NetworkUnavailable") : "", "False KubeHostgwReady");

  start();
  ASSERT_TRUE(run_until([&] { return daemon_->network_available_patched(); }));
  std::map<std::string, std::string> after = conditions_of(server_->node_json("node-a"));
  EXPECT_EQ(after["NetworkUnavailable"], "False KubeHostgwReady") << server_->node_json("node-a");
  for (const auto& [type, text] : before) {
    if (type != "NetworkUnavailable") {
      EXPECT_EQ(after[type], text) << "kubelet condition " << type;
    }
  }
  EXPECT_EQ(after.size(), before.size());
  // The other node was not written to.
  EXPECT_EQ(conditions_of(server_->node_json("node-b")), before);
}

TEST_F(DaemonApiServerTest, FollowsTheApiServer) {
  create("node-a", "10.244.1.0/24", "198.51.100.11");
  create("node-b", "10.244.2.0/24", "198.51.100.12");
  create("node-c", "10.244.3.0/24", "198.51.100.13");
  start();
  ASSERT_TRUE(run_until([&] { return daemon_->ready() && daemon_->network_available_patched(); }));
  EXPECT_TRUE(has_route("10.244.2.0/24", "198.51.100.12"));
  EXPECT_TRUE(has_route("10.244.3.0/24", "198.51.100.13"));
  bool patched = false;
  for (const auto& request : server_->requests())
    if (request.method == "PATCH" && request.target == "/api/v1/nodes/node-a/status" && request.status == 200)
      patched = true;
  EXPECT_TRUE(patched);  // what was stored: NetworkAvailableIsAStrategicMergeOfTheCondition

  // Added, then deleted through the API.
  create("node-d", "10.244.4.0/24", "198.51.100.14");
  ASSERT_TRUE(run_until([&] { return has_route("10.244.4.0/24", "198.51.100.14"); }));
  server_->delete_node("node-c");
  ASSERT_TRUE(run_until([&] { return !has_route("10.244.3.0/24", "198.51.100.13"); }));

  // Heartbeats: no pass at all.
  run_until([] { return false; }, 300ms);
  auto passes = daemon_->reconciler().passes();
  auto dumps = table_.dumps();
  for (int i = 0; i < 50; ++i) server_->touch_node("node-b");
  ASSERT_TRUE(run_until(
      [&] { return daemon_->reconciler().view().find("node-b")->resource_version == server_->resource_version(); }));
  EXPECT_EQ(daemon_->reconciler().passes(), passes);
  EXPECT_EQ(table_.dumps(), dumps);

  // Compaction: the watch gets 410 and relists; nothing changes in the routes.
  server_->compact();
  server_->drop_connections();
  create("node-e", "10.244.5.0/24", "198.51.100.15");
  ASSERT_TRUE(run_until([&] { return has_route("10.244.5.0/24", "198.51.100.15"); }));
  EXPECT_EQ(table_.routes().size(), 3u);

  std::string metrics = registry_.render();
  for (const char* text : {"kube_hostgw_api_request_duration_seconds_count ", "kube_hostgw_watch_events_total ",
                           "kube_hostgw_node_lists_total ", "kube_hostgw_api_requests_total{code=\"200\"}"}) {
    EXPECT_NE(metrics.find(text), std::string::npos) << text;
  }
  for (const auto& line : log_) EXPECT_EQ(line.find("s3cret-token"), std::string::npos) << line;
}

TEST_F(DaemonApiServerTest, WaitsForAnUnreachableApiServerWithoutTouchingRoutes) {
  routing::Route stale;
  stale.destination = IpPrefix::parse("10.244.9.0/24");
  stale.gateway = IpAddress::parse("198.51.100.19");
  stale.oif = 2;
  table_.seed(stale);
  server_->stop();
  start();
  run_until([] { return false; }, 500ms);
  EXPECT_FALSE(daemon_->ready());
  EXPECT_EQ(table_.writes(), 0u);
  EXPECT_EQ(table_.dumps(), 0u);
  server_->restart();
  create("node-a", "10.244.1.0/24", "198.51.100.11");
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  EXPECT_EQ(table_.find(key_of(stale)), nullptr);
}

}  // namespace
}  // namespace hostgw::controller
