// Integration tests: NodeWatcher against the fake API server over TLS.

#include "k8s-client/node_watcher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <map>
#include <set>

#include "common/log.hpp"
#include "integration_support.hpp"

namespace hostgw::k8s {
namespace {

using namespace hostgw::testing;
namespace asio = boost::asio;

// What a consumer such as the controller's ClusterView keeps.
struct Consumer {
  std::function<void()> on_resync;  // called after each resync is applied
  std::map<std::string, NodeInfo> nodes;
  std::vector<std::string> resync_order;  // the names of the last resync, in the order it had them
  std::vector<std::string> log;  // "ADDED node-1", "RESYNCED 1200", ...
  int resyncs = 0;

  void operator()(const NodeEvent& event) {
    switch (event.type) {
      case NodeEvent::Type::resynced:
        ++resyncs;
        nodes.clear();
        resync_order.clear();
        for (const NodeInfo& node : event.nodes) {
          nodes[node.name] = node;
          resync_order.push_back(node.name);
        }
        log.push_back("RESYNCED " + std::to_string(event.nodes.size()));
        if (on_resync) on_resync();
        break;
      case NodeEvent::Type::added:
        nodes[event.node.name] = event.node;
        log.push_back("ADDED " + event.node.name);
        break;
      case NodeEvent::Type::modified:
        nodes[event.node.name] = event.node;
        log.push_back("MODIFIED " + event.node.name);
        break;
      case NodeEvent::Type::deleted:
        nodes.erase(event.node.name);
        log.push_back("DELETED " + event.node.name);
        break;
    }
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, node] : nodes) out.push_back(name);
    return out;
  }
};

NodeWatcherOptions fast_options() {
  NodeWatcherOptions options;
  options.backoff.initial = 50ms;
  options.backoff.max = 400ms;
  options.idle_timeout = 3s;
  options.min_watch_timeout = 300s;
  options.max_watch_timeout = 600s;
  options.seed = 1;
  return options;
}

class NodeWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_sink([this](std::string_view line) {
      log_lines_.emplace_back(line);
      if (std::getenv("KHG_TEST_LOG")) std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    });
  }
  void TearDown() override {
    stop();
    log::set_sink(nullptr);
  }

  void start(FakeApiServer& server, NodeWatcherOptions options = fast_options()) {
    client_ = std::make_unique<ApiClient>(io_.get_executor(), config_for(server));
    watcher_ = std::make_unique<NodeWatcher>(*client_, options, std::ref(consumer_));
    asio::co_spawn(io_, watcher_->run(),
                   asio::bind_cancellation_slot(cancel_.slot(), [this](std::exception_ptr) { finished_ = true; }));
  }
  void stop() {
    if (!watcher_ || finished_) return;
    cancel_.emit(asio::cancellation_type::terminal);
    EXPECT_TRUE(run_until(io_, [this] { return finished_; }, 5s)) << "the watcher did not stop on cancellation";
  }
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds limit = 15s) {
    return run_until(io_, done, limit);
  }
  std::size_t count_log(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& line : log_lines_) n += line.find(text) != std::string::npos;
    return n;
  }

  asio::io_context io_;
  asio::cancellation_signal cancel_;
  bool finished_ = false;
  Consumer consumer_;
  std::vector<std::string> log_lines_;
  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<NodeWatcher> watcher_;
};

TEST_F(NodeWatcherTest, PagedListOf1200NodesArrivesWhole) {
  FakeApiServer server(fake_options());
  GenerateOptions generate;
  generate.count = 1200;
  generate.realistic = false;
  server.generate_nodes(generate);
  std::uint64_t connections_at_sync = 0;
  consumer_.on_resync = [&] { connections_at_sync = client_->stats().connections_opened; };
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->synced(); }));
  EXPECT_EQ(consumer_.nodes.size(), 1200u);
  EXPECT_EQ(consumer_.names(), server.node_names());
  EXPECT_EQ(consumer_.resync_order, server.node_names()) << "the pages' order, as the server listed them";
  EXPECT_EQ(consumer_.resyncs, 1);
  const NodeInfo& node = consumer_.nodes.begin()->second;
  EXPECT_FALSE(node.pod_cidrs.empty());
  EXPECT_FALSE(node.internal_ips.empty());

  std::vector<std::string> lists;
  for (const auto& request : server.requests())
    if (request.target.find("watch=") == std::string::npos && request.target.rfind("/api/v1/nodes", 0) == 0)
      lists.push_back(request.target);
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_EQ(lists[0], "/api/v1/nodes?limit=500&resourceVersion=0");
  EXPECT_EQ(lists[1].rfind("/api/v1/nodes?limit=500&continue=", 0), 0u) << lists[1];
  EXPECT_EQ(lists[1].find("resourceVersion"), std::string::npos) << lists[1];
  // The next page is requested on a second keep-alive connection while one
  // streams (its continue token comes first); the two then take turns.
  EXPECT_LE(connections_at_sync, 2u) << "LIST pages share two keep-alive connections";
}

// LIST page requests the fake has seen so far.
std::size_t list_requests_of(const FakeApiServer& server) {
  std::size_t n = 0;
  for (const auto& request : server.requests()) n += request.target.find("limit=500") != std::string::npos;
  return n;
}

TEST_F(NodeWatcherTest, CancellingDuringAPagedListStopsEveryPageInFlight) {
  FakeApiServer server(fake_options());
  GenerateOptions generate;
  generate.count = 2000;
  generate.realistic = true;  // 4 pages of ~4 MB: still streaming when cancelled
  server.generate_nodes(generate);
  start(server);
  auto list_requests = [&] { return list_requests_of(server); };
  ASSERT_TRUE(wait([&] { return list_requests() >= 2; })) << "the second page is requested while the first streams";
  stop();  // expects the watcher to finish within 5 s
  EXPECT_FALSE(watcher_->synced());
  EXPECT_EQ(consumer_.resyncs, 0);
}

TEST_F(NodeWatcherTest, GoneOnAPageRequestedAheadRestartsTheListWithItsReason) {
  FakeApiServer server(fake_options());
  GenerateOptions generate;
  generate.count = 1200;
  generate.realistic = true;
  server.generate_nodes(generate);
  start(server);
  auto list_requests = [&] { return list_requests_of(server); };
  // The client does not run until wait() is called again: the second page is asked after this.
  ASSERT_TRUE(wait([&] { return list_requests() >= 1; }));
  server.fail_next(410, 1);
  ASSERT_TRUE(wait([&] { return watcher_->synced(); }));
  EXPECT_EQ(consumer_.nodes.size(), 1200u);
  EXPECT_EQ(consumer_.resync_order, server.node_names());
  EXPECT_EQ(watcher_->stats().errors, 1u);
  EXPECT_EQ(count_log("Node LIST failed; listing again"), 1u);
  EXPECT_EQ(count_log("410 Gone"), 1u) << "the reason is the 410 of the page asked ahead, not the page it cut short";
  EXPECT_EQ(count_log("cut short"), 0u);
}

TEST_F(NodeWatcherTest, WatchDeliversAddModifyDeleteInOrder) {
  FakeApiServer server(fake_options());
  server.create_node(make_node_json(node_spec(1)));
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->stats().watch_starts > 0; }));
  ASSERT_TRUE(wait([&] { return server.requests().size() >= 2; }));

  server.create_node(make_node_json(node_spec(2)));
  NodeSpec changed = node_spec(1);
  changed.internal_ips = {"203.0.113.9"};
  server.replace_node(make_node_json(changed));
  server.delete_node("node-2");
  server.create_node(make_node_json(node_spec(3)));
  ASSERT_TRUE(wait([&] { return consumer_.log.size() >= 5; }));
  EXPECT_EQ(consumer_.log, (std::vector<std::string>{"RESYNCED 1", "ADDED node-2", "MODIFIED node-1", "DELETED node-2",
                                                     "ADDED node-3"}));
  EXPECT_EQ(consumer_.nodes.at("node-1").internal_ips, std::vector<std::string>{"203.0.113.9"});
  EXPECT_EQ(watcher_->resource_version(), server.resource_version());
  EXPECT_EQ(watcher_->stats().events, 4u);
}

TEST_F(NodeWatcherTest, BookmarksAdvanceTheResourceVersionAndNormalCloseRewatchesWithoutRelist) {
  FakeApiServerOptions options = fake_options();
  options.bookmark_interval = 100ms;
  FakeApiServer server(options);
  server.create_node(make_node_json(node_spec(1)));
  NodeWatcherOptions watch_options = fast_options();
  watch_options.min_watch_timeout = watch_options.max_watch_timeout = 1s;
  start(server, watch_options);
  ASSERT_TRUE(wait([&] { return watcher_->stats().bookmarks >= 2; }));
  // Bookmarks carry the newest RV; the watch closes after timeoutSeconds=1 and resumes from it.
  ASSERT_TRUE(wait([&] { return watcher_->stats().watch_restarts >= 2; }));
  EXPECT_EQ(watcher_->resource_version(), server.resource_version());
  EXPECT_EQ(watcher_->stats().lists, 1u);
  EXPECT_EQ(watcher_->stats().relists, 0u);
  std::string rv = watcher_->resource_version();
  bool resumed = false;
  for (const auto& request : server.requests())
    resumed = resumed || (request.target.find("watch=1&resourceVersion=" + rv + "&allowWatchBookmarks=true&timeoutSeconds=1") !=
                          std::string::npos);
  EXPECT_TRUE(resumed);
}

TEST_F(NodeWatcherTest, CompactionLeadsToRelistAndTheCorrectFinalSet) {
  FakeApiServer server(fake_options());
  for (int i = 0; i < 10; ++i) server.create_node(make_node_json(node_spec(i)));
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->synced(); }));
  // The watcher is cut off while the cluster changes and history is compacted.
  server.stop();
  ASSERT_TRUE(wait([&] { return watcher_->stats().errors >= 1; }));
  for (int i = 0; i < 5; ++i) server.delete_node("node-" + std::to_string(i));
  for (int i = 10; i < 15; ++i) server.create_node(make_node_json(node_spec(i)));
  server.compact();
  server.restart();
  ASSERT_TRUE(wait([&] { return watcher_->stats().relists == 1 && watcher_->stats().watch_starts >= 3; }));
  EXPECT_EQ(consumer_.names(), server.node_names());
  EXPECT_EQ(consumer_.resyncs, 2);
  EXPECT_EQ(count_log("Relisting nodes"), 1u);
  EXPECT_GE(count_log("410"), 1u);
  // After the relist the watch goes on normally.
  server.create_node(make_node_json(node_spec(99)));
  ASSERT_TRUE(wait([&] { return consumer_.nodes.count("node-99") == 1; }));
}

TEST_F(NodeWatcherTest, ServerRestartReconnectsWithBackoffWithoutRelist) {
  FakeApiServer server(fake_options());
  server.create_node(make_node_json(node_spec(1)));
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->stats().watch_starts >= 1 && server.open_connections() >= 1; }));
  server.stop();
  server.create_node(make_node_json(node_spec(2)));  // missed while disconnected
  server.delete_node("node-1");
  // Several failed attempts while the server is down.
  ASSERT_TRUE(wait([&] { return watcher_->stats().errors >= 3; }));
  server.restart();
  ASSERT_TRUE(wait([&] { return consumer_.nodes.count("node-2") == 1 && consumer_.nodes.count("node-1") == 0; }));
  EXPECT_EQ(watcher_->stats().relists, 0u) << "the resourceVersion was still in the server's history";
  EXPECT_EQ(consumer_.resyncs, 1);
  EXPECT_GE(count_log("Restarting node watch after a failure"), 3u);
}

TEST_F(NodeWatcherTest, DroppedStreamResumesFromTheLastResourceVersion) {
  FakeApiServer server(fake_options());
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->stats().watch_starts >= 1 && server.open_connections() >= 1; }));
  server.create_node(make_node_json(node_spec(1)));
  ASSERT_TRUE(wait([&] { return consumer_.nodes.size() == 1; }));
  server.drop_connections();
  server.create_node(make_node_json(node_spec(2)));
  ASSERT_TRUE(wait([&] { return consumer_.nodes.size() == 2; }));
  EXPECT_EQ(watcher_->stats().relists, 0u);
  EXPECT_EQ(consumer_.log, (std::vector<std::string>{"RESYNCED 0", "ADDED node-1", "ADDED node-2"}));
}

TEST_F(NodeWatcherTest, RetryAfterIsHonouredOnTooManyRequests) {
  FakeApiServer server(fake_options());
  server.fail_next(429, 1, 1);
  auto started = std::chrono::steady_clock::now();
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->synced(); }));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 1s) << "Retry-After: 1 beats the 50 ms backoff";
  EXPECT_EQ(watcher_->stats().errors, 1u);
}

TEST_F(NodeWatcherTest, WatchGoneStormBacksOffInsteadOfRelistingInALoop) {
  FakeApiServer server(fake_options());
  server.create_node(make_node_json(node_spec(1)));
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->stats().watch_starts >= 1 && server.open_connections() >= 1; }));
  // Every watch from a resourceVersion gets ERROR 410 for 2 s.
  server.clear_requests();
  server.expire_watches(2s);
  server.drop_connections();
  run_until(io_, [] { return false; }, 2s);
  std::size_t lists = 0;
  for (const auto& request : server.requests())
    lists += request.target.find("watch=") == std::string::npos && request.target.starts_with("/api/v1/nodes");
  // Without backoff this is hundreds of LISTs; with 50 ms .. 400 ms (jittered x1-2) at most ~12.
  EXPECT_GE(lists, 2u);
  EXPECT_LE(lists, 15u) << "a 410 storm turned into a LIST loop";
  EXPECT_GE(count_log("Relisting nodes after a backoff"), 1u);
  // After the storm the watch works again and nothing was lost.
  server.create_node(make_node_json(node_spec(2)));
  ASSERT_TRUE(wait([&] { return consumer_.nodes.size() == 2; }, 10s));
  EXPECT_EQ(consumer_.names(), server.node_names());
}

TEST_F(NodeWatcherTest, TooLargeResourceVersionAfterAFreshServerLeadsToRelist) {
  auto server = std::make_unique<FakeApiServer>(fake_options());
  for (int i = 0; i < 10; ++i) server->create_node(make_node_json(node_spec(i)));
  start(*server);
  ASSERT_TRUE(wait([&] { return watcher_->stats().watch_starts >= 1 && server->open_connections() >= 1; }));
  // Replaced by a fresh server on the same port: its resourceVersions are behind the watcher's.
  auto options = fake_options();
  options.port = server->port();
  server.reset();
  server = std::make_unique<FakeApiServer>(options);
  server->create_node(make_node_json(node_spec(50)));
  ASSERT_LT(std::stoull(server->resource_version()), std::stoull(watcher_->resource_version()));
  ASSERT_TRUE(wait([&] { return watcher_->stats().relists == 1; }, 10s)) << "504 Too large resource version must relist";
  EXPECT_EQ(consumer_.names(), server->node_names());
  EXPECT_GE(count_log("Too large resource version"), 1u);
  // The watch goes on from the fresh server's resourceVersion.
  server->create_node(make_node_json(node_spec(51)));
  ASSERT_TRUE(wait([&] { return consumer_.nodes.count("node-51") == 1; }));
}

TEST_F(NodeWatcherTest, HttpGoneOnListRestartsTheList) {
  FakeApiServer server(fake_options());
  server.create_node(make_node_json(node_spec(1)));
  server.fail_next(410, 1);
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->synced(); }));
  EXPECT_EQ(consumer_.nodes.size(), 1u);
  EXPECT_EQ(watcher_->stats().errors, 1u);
}

// Node JSON shapes that must be refused, each with a valid name so the fake stores it.
std::vector<std::string> hostile_nodes(int count) {
  std::vector<std::string> shapes = {
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"status":{"addresses":[{"type":"InternalIP","address":"198.51.100.1"},"oops"]}})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%","deletionTimestamp":{"at":"now"}}})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"spec":{"podCIDR":{"a":"b"}}})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"status":{"addresses":[{"type":"InternalIP","address":7}]}})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"status":{"addresses":{"type":"InternalIP"}}})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"status":"ready"})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%","deletionTimestamp":5}})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"spec":[]})",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"x":)" + std::string(100, '[') +
          std::string(100, ']') + "}",
      R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"%"},"spec":{"podCIDRs":[)" + [] {
        std::string many;
        for (int i = 0; i < 50; ++i) many += std::string(i ? "," : "") + "\"10.244.0.0/24\"";
        return many;
      }() + "]}}",
  };
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string json = shapes[i % shapes.size()];
    json.replace(json.find('%'), 1, "bad-" + std::to_string(i));
    out.push_back(json);
  }
  return out;
}

TEST_F(NodeWatcherTest, MalformedNodesAreSkippedAndGoodOnesAllArrive) {
  FakeApiServer server(fake_options());
  auto hostile = hostile_nodes(200);
  // Half before the LIST, half during the WATCH, interleaved with good nodes.
  int good = 0;
  for (int i = 0; i < 100; ++i) {
    server.create_node(hostile[i]);
    server.create_node(make_node_json(node_spec(good++)));
  }
  start(server);
  ASSERT_TRUE(wait([&] { return watcher_->synced() && watcher_->stats().watch_starts >= 1; }));
  EXPECT_EQ(consumer_.nodes.size(), 100u);
  EXPECT_EQ(watcher_->stats().malformed_objects, 100u);
  for (int i = 100; i < 200; ++i) {
    server.create_node(hostile[i]);
    server.create_node(make_node_json(node_spec(good++)));
  }
  // An oversized node (over the 4 MiB limit): skipped too.
  NodeSpec big = node_spec(1000);
  big.name = "huge";
  std::string huge = make_node_json(big);
  huge.insert(huge.rfind('}'), R"(,"padding":")" + std::string(5 * 1024 * 1024, 'x') + "\"");
  server.create_node(huge);
  server.create_node(make_node_json(node_spec(good++)));
  ASSERT_TRUE(wait([&] { return consumer_.nodes.size() == 201u; }, 20s));
  EXPECT_EQ(watcher_->stats().malformed_objects, 201u);
  for (int i = 0; i < good; ++i) EXPECT_EQ(consumer_.nodes.count("node-" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(consumer_.nodes.count("huge"), 0u);
  EXPECT_EQ(watcher_->stats().relists, 0u);
  EXPECT_EQ(watcher_->stats().watch_restarts, 0u) << "malformed objects never end the watch";
  EXPECT_GE(count_log(R"(node \"bad-3\": status.addresses[0].address is a number, expected a string)"), 1u);
}

}  // namespace
}  // namespace hostgw::k8s
