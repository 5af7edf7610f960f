#include "controller/daemon.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "http_get.hpp"
#include "netfilter/fake_masquerade_table.hpp"
#include "routing/fake_overlay_table.hpp"
#include "routing/fake_route_table.hpp"
#include "test-support/node_factory.hpp"
#include "test-support/run_until.hpp"
#include "test-support/temp_dir.hpp"

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using routing::IpAddress;
using routing::IpPrefix;
using test_support::node;
using test_support::node_list;

// Delivers queued events, then waits (cancellable) for more.
class FakeNodeSource final : public NodeSource {
 public:
  explicit FakeNodeSource(asio::any_io_executor executor) : wakeup_(executor, asio::steady_timer::time_point::max()) {}

  asio::awaitable<void> run(std::function<void(const k8s::NodeEvent&)> sink) override {
    ++runs_;
    while (true) {
      while (!queue_.empty()) {
        auto event = std::move(queue_.front());
        queue_.pop_front();
        sink(event);
      }
      // push() cancels the wait; a cancellation of the coroutine ends it at the next co_await.
      co_await wakeup_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  void push(k8s::NodeEvent event) {
    queue_.push_back(std::move(event));
    wakeup_.cancel();
  }
  int runs_ = 0;

 private:
  asio::steady_timer wakeup_;
  std::deque<k8s::NodeEvent> queue_;
};

class FakeStatusWriter final : public NodeStatusWriter {
 public:
  asio::awaitable<std::error_code> patch_node_status(std::string node_name, std::string patch_json) override {
    patches.emplace_back(std::move(node_name), std::move(patch_json));
    if (failures > 0) {
      --failures;
      co_return std::make_error_code(std::errc::connection_refused);
    }
    co_return std::error_code();
  }
  std::vector<std::pair<std::string, std::string>> patches;
  int failures = 0;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.set_connected_networks(
        {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1450}});
    log::set_sink([this](std::string_view line) { log_.emplace_back(line); });
    dir_ = temp_.path();
    options_.node_name = "node-a";
    options_.healthz = BindAddress{IpAddress::parse("127.0.0.1"), 0};
    options_.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16")};
    options_.subnet_file = (dir_ / "run" / "subnet.env").string();
    options_.set_node_network_available = true;
    // The routes to other nodes only; PodNetworkTargetsAndChecks turns it on.
    options_.own_pod_cidr_routes = false;
  }
  void TearDown() override {
    if (daemon_) daemon_->stop();
    io_.restart();
    io_.run_for(50ms);
    daemon_.reset();
    log::set_sink(nullptr);
  }

  void start() {
    daemon_ = std::make_unique<Daemon>(io_.get_executor(), options_, DaemonParts{&table_, &table_, &nodes_, &status_},
                                       registry_);
    daemon_->start();
  }

  template <typename Predicate>
  bool run_until(Predicate predicate, std::chrono::milliseconds timeout = 3000ms) {
    return test_support::run_until(io_, predicate, timeout);
  }

  testing::HttpResult get(std::string target) {
    auto future = asio::co_spawn(io_, testing::http_get(daemon_->health_port(), std::move(target)), asio::use_future);
    run_until([&] { return future.wait_for(0s) == std::future_status::ready; });
    return future.get();
  }

  std::string read_subnet_file() {
    std::ifstream in(options_.subnet_file);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }

  std::vector<k8s::NodeInfo> three_nodes() {
    return {node("node-a", {"10.244.1.0/24"}, {"198.51.100.11"}), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"}),
            node("node-c", {"10.244.3.0/24"}, {"198.51.100.13"})};
  }

  asio::io_context io_;
  routing::FakeRouteTable table_{io_.get_executor()};
  FakeNodeSource nodes_{io_.get_executor()};
  FakeStatusWriter status_;
  MetricsRegistry registry_;
  Options options_;
  std::unique_ptr<Daemon> daemon_;
  std::vector<std::string> log_;
  test_support::TempDir temp_{"khg-daemon"};
  std::filesystem::path dir_;
};

TEST_F(DaemonTest, SyncsRoutesServesHealthWritesSubnetFileAndMarksNetworkAvailable) {
  start();
  ASSERT_NE(daemon_->health_port(), 0);
  EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_EQ(get("/readyz").status, 503);

  nodes_.push(node_list(three_nodes()));
  ASSERT_TRUE(run_until([&] { return daemon_->ready() && daemon_->network_available_patched(); }));
  EXPECT_EQ(table_.routes().size(), 2u);
  EXPECT_EQ(get("/readyz").status, 200);

  auto metrics = get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const char* line :
       {"kube_hostgw_nodes 3\n", "kube_hostgw_routes_desired 2\n", "kube_hostgw_routes_installed 2\n",
        "kube_hostgw_ready 1\n", "kube_hostgw_reconcile_passes_total 1\n",
        "kube_hostgw_nodes_skipped{reason=\"self\"} 1\n",
        "kube_hostgw_route_changes_total{op=\"add\",result=\"ok\"} 2\n", "kube_hostgw_build_info{version=\""}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << metrics.body;
  }

  EXPECT_EQ(read_subnet_file(),
            "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n");
  EXPECT_EQ(daemon_->subnet_file_writes(), 1u);
  ASSERT_EQ(status_.patches.size(), 1u);
  EXPECT_EQ(status_.patches[0].first, "node-a");
  EXPECT_NE(
      status_.patches[0].second.find(R"("type":"NetworkUnavailable","status":"False","reason":"KubeHostgwReady")"),
      std::string::npos);

  // Another pass with the same content: the file is not rewritten, no second patch.
  daemon_->reconciler().request_pass("test");
  ASSERT_TRUE(run_until([&] { return daemon_->reconciler().passes() == 2; }));
  EXPECT_EQ(daemon_->subnet_file_writes(), 1u);
  EXPECT_EQ(status_.patches.size(), 1u);
}

TEST_F(DaemonTest, StopEndsEveryTaskAndLeavesRoutes) {
  start();
  nodes_.push(node_list(three_nodes()));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  daemon_->stop();
  io_.restart();
  auto began = std::chrono::steady_clock::now();
  io_.run_for(2s);  // returns early once nothing is left to run
  EXPECT_TRUE(io_.stopped());
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1s);
  EXPECT_EQ(table_.routes().size(), 2u);
}

TEST_F(DaemonTest, DryRunLogsThePlanAndChangesNothing) {
  options_.dry_run = true;
  table_.seed([] {
    routing::Route stale;
    stale.destination = IpPrefix::parse("10.244.9.0/24");
    stale.gateway = IpAddress::parse("198.51.100.19");
    stale.oif = 2;
    return stale;
  }());
  start();
  nodes_.push(node_list(three_nodes()));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  run_until([] { return false; }, 50ms);
  EXPECT_EQ(table_.writes(), 0u);
  EXPECT_EQ(table_.routes().size(), 1u);
  std::size_t planned = 0;
  for (const auto& line : log_)
    if (line.find("\"Dry run: route would be") != std::string::npos) ++planned;
  EXPECT_EQ(planned, 3u);  // two adds, one delete
  EXPECT_FALSE(std::filesystem::exists(options_.subnet_file));
  EXPECT_TRUE(status_.patches.empty());
}

TEST_F(DaemonTest, DryRunLeavesTheVxlanDeviceAlone) {
  options_.dry_run = true;
  routing::FakeOverlayTable overlay;
  daemon_ = std::make_unique<Daemon>(io_.get_executor(), options_,
                                     DaemonParts{&table_, &table_, &nodes_, &status_, &overlay}, registry_);
  daemon_->start();
  auto nodes = three_nodes();
  nodes.push_back(node("node-far", {"10.244.7.0/24"}, {"203.0.113.17"}));
  nodes_.push(node_list(nodes));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  run_until([] { return false; }, 50ms);
  EXPECT_EQ(overlay.device_count(), 0u);
  EXPECT_EQ(overlay.ensure_calls(), 0u);
  EXPECT_EQ(overlay.writes(), 0u);
  EXPECT_EQ(table_.writes(), 0u);
  std::size_t device = 0, entries = 0, overlay_route = 0;
  for (const auto& line : log_) {
    if (line.find("\"Dry run: VXLAN device would be created\"") != std::string::npos) ++device;
    if (line.find("\"Dry run: overlay entry would be added\"") != std::string::npos) ++entries;
    if (line.find("\"Dry run: route would be added\" route=\"10.244.7.0/24 via 10.244.7.0") != std::string::npos)
      ++overlay_route;
  }
  EXPECT_EQ(device, 1u);
  EXPECT_EQ(entries, 2u);  // neighbour + FDB
  EXPECT_EQ(overlay_route, 1u);
  // `overlay` dies with this scope: end the daemon first.
  daemon_->stop();
  io_.restart();
  io_.run_for(50ms);
  daemon_.reset();
}

TEST_F(DaemonTest, DryRunLeavesTheVxlanDeviceAloneDualStack) {
  options_.dry_run = true;
  options_.cluster_cidrs = {IpPrefix::parse("10.244.0.0/16"), IpPrefix::parse("2001:db8:244::/48")};
  table_.set_connected_networks(
      {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1450},
       {IpPrefix::parse("2001:db8:100::/64"), IpAddress::parse("2001:db8:100::11"), 2, "eth0", 1450}});
  routing::FakeOverlayTable overlay;
  daemon_ = std::make_unique<Daemon>(io_.get_executor(), options_,
                                     DaemonParts{&table_, &table_, &nodes_, &status_, &overlay}, registry_);
  daemon_->start();
  nodes_.push(
      node_list({node("node-a", {"10.244.1.0/24", "2001:db8:244:1::/64"}, {"198.51.100.11", "2001:db8:100::11"}),
                 node("node-far", {"10.244.7.0/24", "2001:db8:244:7::/64"}, {"203.0.113.17", "2001:db8:113::17"})}));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  run_until([] { return false; }, 50ms);
  EXPECT_EQ(overlay.device_count(), 0u);
  EXPECT_EQ(overlay.ensure_calls(), 0u);
  EXPECT_EQ(overlay.writes(), 0u);
  EXPECT_EQ(table_.writes(), 0u);
  std::size_t entries = 0, neighbour6 = 0, route6 = 0;
  for (const auto& line : log_) {
    if (line.find("\"Dry run: overlay entry would be added\"") == std::string::npos) continue;
    ++entries;
    if (line.find("entry=\"neighbour 2001:db8:244:7:: lladdr 0e:68:cb:00:71:11\"") != std::string::npos) ++neighbour6;
  }
  for (const auto& line : log_)
    if (line.find("\"Dry run: route would be added\" route=\"2001:db8:244:7::/64 via 2001:db8:244:7::") !=
        std::string::npos)
      ++route6;
  EXPECT_EQ(entries, 3u);  // two neighbours (IPv4, IPv6) + one FDB entry
  EXPECT_EQ(neighbour6, 1u);
  EXPECT_EQ(route6, 1u);
  daemon_->stop();
  io_.restart();
  io_.run_for(50ms);
  daemon_.reset();
}

TEST_F(DaemonTest, OverlayTableMakesOtherSubnetPeersReachable) {
  routing::FakeOverlayTable overlay;
  // The device the fake will create first (index 10), as the kernel would list it.
  table_.set_connected_networks(
      {{IpPrefix::parse("198.51.100.0/24"), IpAddress::parse("198.51.100.11"), 2, "eth0", 1450},
       {IpPrefix::parse("10.244.1.0/32"), IpAddress::parse("10.244.1.0"), 10, "hostgw.vxlan", 1400}});
  daemon_ = std::make_unique<Daemon>(io_.get_executor(), options_,
                                     DaemonParts{&table_, &table_, &nodes_, &status_, &overlay}, registry_);
  daemon_->start();
  auto nodes = three_nodes();
  nodes.push_back(node("node-far", {"10.244.7.0/24"}, {"203.0.113.17"}));
  nodes_.push(node_list(nodes));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  const auto* device = overlay.device("hostgw.vxlan");
  ASSERT_NE(device, nullptr);
  EXPECT_EQ(device->spec.mtu, 1400u);  // eth0's 1450 - 50
  const routing::Route* route = table_.find({routing::kMainTable, IpPrefix::parse("10.244.7.0/24"), 0});
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->oif, device->index);
  EXPECT_TRUE(route->onlink);
  // `overlay` dies with this scope: end the daemon first.
  daemon_->stop();
  io_.restart();
  io_.run_for(50ms);
  daemon_.reset();
}

// Every family /metrics lists (after a start with every feature on: health
// server, subnet file, node condition, VXLAN overlay) has its row in
// docs/operations.md.
TEST_F(DaemonTest, EveryMetricOnTheEndpointIsDocumented) {
  routing::FakeOverlayTable overlay;
  options_.cross_subnet = CrossSubnet::vxlan;
  daemon_ = std::make_unique<Daemon>(io_.get_executor(), options_,
                                     DaemonParts{&table_, &table_, &nodes_, &status_, &overlay}, registry_);
  daemon_->start();
  auto nodes = three_nodes();
  nodes.push_back(node("node-far", {"10.244.7.0/24"}, {"203.0.113.17"}));
  nodes_.push(node_list(nodes));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  auto metrics = get("/metrics");
  ASSERT_EQ(metrics.status, 200);

  std::ifstream in(std::string(KHG_SOURCE_DIR) + "/docs/operations.md");
  ASSERT_TRUE(in) << "docs/operations.md not found under " << KHG_SOURCE_DIR;
  std::stringstream docs;
  docs << in.rdbuf();
  std::istringstream lines(metrics.body);
  std::size_t families = 0;
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("# TYPE ")) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    ++families;
    EXPECT_NE(docs.str().find("`" + name), std::string::npos) << name << " is not in docs/operations.md";
  }
  EXPECT_GE(families, 29u);
  daemon_->stop();
  io_.restart();
  io_.run_for(50ms);
  daemon_.reset();
}

// --cni-conf-dir, --masquerade and the own-podCIDR route as the daemon wires
// them: the conflist written, the table created with every node's address,
// the unreachable route among the routes, subnet.env saying FLANNEL_IPMASQ=true,
// and the forwarding sysctls read (never written) into a metric and a log line.
TEST_F(DaemonTest, PodNetworkTargetsAndChecks) {
  netfilter::FakeMasqueradeTable masquerade;
  options_.own_pod_cidr_routes = true;
  options_.masquerade = true;
  options_.cni_conf_dir = (dir_ / "net.d").string();
  std::filesystem::create_directories(dir_ / "sys" / "ipv4");
  std::filesystem::create_directories(dir_ / "sys" / "ipv6" / "conf" / "all");
  std::ofstream(dir_ / "sys" / "ipv4" / "ip_forward") << "0\n";
  std::ofstream(dir_ / "sys" / "ipv6" / "conf" / "all" / "forwarding") << "1\n";
  DaemonParts parts{&table_, &table_, &nodes_, &status_, nullptr, &masquerade};
  parts.sysctl_net_root = (dir_ / "sys").string();
  daemon_ = std::make_unique<Daemon>(io_.get_executor(), options_, parts, registry_);
  daemon_->start();
  nodes_.push(node_list(three_nodes()));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));

  EXPECT_TRUE(std::filesystem::exists(dir_ / "net.d" / "10-kube-hostgw.conflist"));
  EXPECT_EQ(masquerade.replaces, 1u);
  EXPECT_EQ(masquerade.state.sets.node_addresses.size(), 3u);
  EXPECT_EQ(table_.routes().size(), 3u);  // node-b, node-c and our own unreachable one
  bool unreachable = false;
  for (const auto& route : table_.routes())
    unreachable = unreachable || (route.type == routing::RouteType::unreachable &&
                                  route.destination == IpPrefix::parse("10.244.1.0/24"));
  EXPECT_TRUE(unreachable);
  EXPECT_NE(read_subnet_file().find("FLANNEL_IPMASQ=true\n"), std::string::npos) << read_subnet_file();

  auto metrics = get("/metrics");
  for (const char* line :
       {"kube_hostgw_ip_forwarding{family=\"ipv4\"} 0\n", "kube_hostgw_ip_forwarding{family=\"ipv6\"} 1\n",
        "kube_hostgw_masquerade_changes_total{op=\"add\",result=\"ok\"} 1\n",
        "kube_hostgw_cni_conf_changes_total{op=\"add\",result=\"ok\"} 1\n"}) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << metrics.body;
  }
  auto forwarding_lines = [&] {
    return std::count_if(log_.begin(), log_.end(), [](const std::string& line) {
      return line.find("IP forwarding") != std::string::npos &&
             line.find("net.ipv4.ip_forward is 0") != std::string::npos;
    });
  };
  EXPECT_EQ(forwarding_lines(), 1);
  // Read, never written; and logged once, not at every pass.
  daemon_->reconciler().request_pass("test");
  ASSERT_TRUE(run_until([&] { return daemon_->reconciler().passes() == 2; }));
  EXPECT_EQ(forwarding_lines(), 1);
  std::ifstream forward(dir_ / "sys" / "ipv4" / "ip_forward");
  std::string value;
  forward >> value;
  EXPECT_EQ(value, "0");
  EXPECT_EQ(masquerade.replaces, 1u);
  EXPECT_EQ(masquerade.element_updates, 0u);

  // A node joining is an incremental step: its route and its address as one set
  // element, no full pass, no table rebuild, no read of the table.
  run_until([] { return false; }, 250ms);  // past the minimum interval between passes
  const auto passes = daemon_->reconciler().passes();
  const auto steps = daemon_->reconciler().incremental_steps();
  const auto reads = masquerade.reads;
  nodes_.push(
      test_support::node_event(k8s::NodeEvent::Type::added, node("node-d", {"10.244.4.0/24"}, {"198.51.100.14"})));
  ASSERT_TRUE(run_until([&] { return masquerade.element_updates == 1; }));
  EXPECT_EQ(masquerade.elements_changed, 1u);  // --cluster-cidr covers its podCIDR: only its address
  EXPECT_EQ(masquerade.state.sets.node_addresses.size(), 4u);
  EXPECT_EQ(masquerade.replaces, 1u);
  EXPECT_EQ(masquerade.reads, reads);
  EXPECT_EQ(daemon_->reconciler().passes(), passes);
  EXPECT_EQ(daemon_->reconciler().incremental_steps(), steps + 1);
  EXPECT_EQ(table_.routes().size(), 4u);
}

TEST_F(DaemonTest, NodeConditionPatchIsRetriedAfterFailures) {
  status_.failures = 1;
  start();
  nodes_.push(node_list(three_nodes()));
  ASSERT_TRUE(run_until([&] { return daemon_->network_available_patched(); }, 4000ms));
  EXPECT_EQ(status_.patches.size(), 2u);
  bool warned = false;
  for (const auto& line : log_)
    if (line.find("Could not set the node condition") != std::string::npos) warned = true;
  EXPECT_TRUE(warned);
}

TEST_F(DaemonTest, SelfWithoutPodCidrLogsAndRoutesOthers) {
  start();
  nodes_.push(node_list({node("node-a", {}, {"198.51.100.11"}), node("node-b", {"10.244.2.0/24"}, {"198.51.100.12"})}));
  ASSERT_TRUE(run_until([&] { return daemon_->ready(); }));
  EXPECT_EQ(table_.routes().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(options_.subnet_file));
  bool logged = false;
  for (const auto& line : log_)
    if (line.find("\"Subnet file not written\"") != std::string::npos &&
        line.find("this node has no podCIDR") != std::string::npos)
      logged = true;
  EXPECT_TRUE(logged);
  // The podCIDR arrives: the file follows.
  k8s::NodeEvent update;
  update.type = k8s::NodeEvent::Type::modified;
  update.node = node("node-a", {"10.244.1.0/24"}, {"198.51.100.11"});
  update.node.resource_version = "2";
  nodes_.push(update);
  ASSERT_TRUE(run_until([&] { return std::filesystem::exists(options_.subnet_file); }));
}

TEST(NetworkAvailablePatchTest, TimeIsRfc3339InUtc) {
  const std::string now = rfc3339_now();
  ASSERT_EQ(now.size(), 20u) << now;
  EXPECT_EQ(now[10], 'T');
  EXPECT_EQ(now.back(), 'Z');
  EXPECT_NE(network_available_patch(now).find(now), std::string::npos);
}

}  // namespace
}  // namespace hostgw::controller
