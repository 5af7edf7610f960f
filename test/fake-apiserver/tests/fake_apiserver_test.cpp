// Direct protocol tests of FakeApiServer over HTTPS.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake-apiserver/fake_apiserver.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "gzip.hpp"
#include "https_client.hpp"
#include "test_support.hpp"

namespace hostgw::testing {
namespace {

using namespace std::chrono_literals;

std::string rv_of(const rapidjson::Value& object) { return object["metadata"]["resourceVersion"].GetString(); }

class FakeApiServerTest : public ::testing::Test {
 protected:
  void start(FakeApiServerOptions options = default_options()) {
    server_ = std::make_unique<FakeApiServer>(std::move(options));
  }
  HttpsClient client(std::string token = kToken) { return HttpsClient(client_options(*server_, std::move(token))); }
  std::unique_ptr<FakeApiServer> server_;
};

TEST_F(FakeApiServerTest, ListsNodesAsNodeListWithResourceVersion) {
  start();
  server_->create_node(small_node("node-a"));
  const std::string rv = server_->create_node(small_node("node-b", "10.244.2.0/24", "198.51.100.12"));
  auto c = client();
  auto res = c.request("GET", "/api/v1/nodes");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.header("content-type"), "application/json");
  auto doc = parse(res.body);
  EXPECT_STREQ(doc["kind"].GetString(), "NodeList");
  EXPECT_STREQ(doc["apiVersion"].GetString(), "v1");
  EXPECT_EQ(rv_of(doc), rv);
  EXPECT_FALSE(doc["metadata"].HasMember("continue"));
  ASSERT_EQ(doc["items"].Size(), 2u);
  EXPECT_STREQ(doc["items"][0]["metadata"]["name"].GetString(), "node-a");
  EXPECT_STREQ(doc["items"][1]["spec"]["podCIDR"].GetString(), "10.244.2.0/24");
  EXPECT_STREQ(doc["items"][1]["spec"]["podCIDRs"][0].GetString(), "10.244.2.0/24");
  EXPECT_EQ(rv_of(doc["items"][1]), rv);
  EXPECT_FALSE(std::string(doc["items"][0]["metadata"]["uid"].GetString()).empty());
}

TEST_F(FakeApiServerTest, ContinueTokensPageAConsistentSnapshotOf1200Nodes) {
  start();
  GenerateOptions generate;
  generate.count = 1200;
  const std::string rv = server_->generate_nodes(generate);
  auto c = client();
  std::set<std::string> names;
  std::string last_name, token;
  int pages = 0;
  do {
    std::string target = "/api/v1/nodes?limit=500";
    if (!token.empty()) target += "&continue=" + token;
    auto res = c.request("GET", target);
    ASSERT_EQ(res.status, 200) << res.body.substr(0, 300);
    auto doc = parse(res.body);
    EXPECT_EQ(rv_of(doc), rv) << "every page is the list's snapshot";
    for (const auto& item : doc["items"].GetArray()) {
      std::string name = item["metadata"]["name"].GetString();
      EXPECT_LT(last_name, name) << "items are sorted by name";
      last_name = name;
      names.insert(name);
    }
    token = doc["metadata"].HasMember("continue") ? doc["metadata"]["continue"].GetString() : "";
    if (!token.empty()) {
      EXPECT_EQ(doc["items"].Size(), 500u);
      EXPECT_EQ(doc["metadata"]["remainingItemCount"].GetUint64(), 1200u - 500u * (pages + 1));
    }
    if (pages == 0) server_->create_node(small_node("node-new", "10.244.250.0/24"));  // not in this list
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 1200u);
  EXPECT_EQ(names.count("node-new"), 0u);
  EXPECT_EQ(names.count("node-0"), 1u);
  EXPECT_EQ(names.count("node-1199"), 1u);
}

TEST_F(FakeApiServerTest, ExpiredOrUnknownContinueTokenIs410Expired) {
  start();
  for (int i = 0; i < 5; ++i) server_->create_node(small_node("node-" + std::to_string(i)));
  auto c = client();
  auto first = parse(c.request("GET", "/api/v1/nodes?limit=2").body);
  const std::string token = first["metadata"]["continue"].GetString();
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?limit=2&continue=" + token).status, 200);
  server_->compact();
  auto res = c.request("GET", "/api/v1/nodes?limit=2&continue=" + token);
  EXPECT_EQ(res.status, 410);
  auto status = parse(res.body);
  EXPECT_STREQ(status["kind"].GetString(), "Status");
  EXPECT_STREQ(status["status"].GetString(), "Failure");
  EXPECT_STREQ(status["reason"].GetString(), "Expired");
  EXPECT_EQ(status["code"].GetInt(), 410);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?limit=2&continue=not-a-token").status, 410);
}

TEST_F(FakeApiServerTest, WatchFromResourceVersionSendsLaterEventsInOrder) {
  start();
  server_->create_node(small_node("node-a"));
  const std::string rv0 = server_->create_node(small_node("node-b", "10.244.2.0/24"));
  const std::string rv1 = server_->create_node(small_node("node-c", "10.244.3.0/24"));
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv0), 200);
  const std::string rv2 = server_->touch_node("node-a");
  const std::string rv3 = server_->delete_node("node-b");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"ADDED", rv1}, {"MODIFIED", rv2}, {"DELETED", rv3}};
  const std::vector<std::string> names = {"node-c", "node-a", "node-b"};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto line = c.next_line(3s);
    ASSERT_TRUE(line) << "event " << i << " missing";
    auto event = parse(*line);
    EXPECT_EQ(event["type"].GetString(), expected[i].first);
    EXPECT_EQ(rv_of(event["object"]), expected[i].second);
    EXPECT_EQ(event["object"]["metadata"]["name"].GetString(), names[i]);
  }
  EXPECT_FALSE(c.next_line(200ms)) << "no more events";
}

TEST_F(FakeApiServerTest, WatchWithoutResourceVersionStartsWithAddedForEveryNode) {
  start();
  server_->create_node(small_node("node-a"));
  server_->create_node(small_node("node-b", "10.244.2.0/24"));
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=true"), 200);
  for (const char* name : {"node-a", "node-b"}) {
    auto line = c.next_line(3s);
    ASSERT_TRUE(line);
    auto event = parse(*line);
    EXPECT_STREQ(event["type"].GetString(), "ADDED");
    EXPECT_STREQ(event["object"]["metadata"]["name"].GetString(), name);
  }
  server_->create_node(small_node("node-c", "10.244.3.0/24"));
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  EXPECT_STREQ(parse(*line)["object"]["metadata"]["name"].GetString(), "node-c");
}

TEST_F(FakeApiServerTest, WatchFromCompactedResourceVersionGetsError410ThenEnds) {
  start();
  const std::string old_rv = server_->create_node(small_node("node-a"));
  server_->create_node(small_node("node-b", "10.244.2.0/24"));
  server_->compact();
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + old_rv), 200);
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  auto event = parse(*line);
  EXPECT_STREQ(event["type"].GetString(), "ERROR");
  EXPECT_STREQ(event["object"]["kind"].GetString(), "Status");
  EXPECT_EQ(event["object"]["code"].GetInt(), 410);
  EXPECT_STREQ(event["object"]["reason"].GetString(), "Expired");
  EXPECT_FALSE(c.next_line(3s));
  EXPECT_TRUE(c.ended());
  EXPECT_TRUE(c.ended_cleanly());
  // The current resourceVersion is still watchable after compaction.
  auto c2 = client();
  ASSERT_EQ(c2.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + server_->resource_version()), 200);
  server_->touch_node("node-a");
  auto modified = c2.next_line(3s);
  ASSERT_TRUE(modified);
  EXPECT_STREQ(parse(*modified)["type"].GetString(), "MODIFIED");
}

TEST_F(FakeApiServerTest, HistoryLimitExpiresOldResourceVersions) {
  auto options = default_options();
  options.history_limit = 3;
  start(options);
  const std::string first = server_->create_node(small_node("node-a"));
  for (int i = 0; i < 4; ++i) server_->touch_node("node-a");
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + first), 200);
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  EXPECT_STREQ(parse(*line)["type"].GetString(), "ERROR");
}

TEST_F(FakeApiServerTest, BookmarksCarryTheCurrentResourceVersion) {
  auto options = default_options();
  options.bookmark_interval = 150ms;
  start(options);
  const std::string rv = server_->create_node(small_node("node-a"));
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion=" + rv), 200);
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  auto event = parse(*line);
  EXPECT_STREQ(event["type"].GetString(), "BOOKMARK");
  EXPECT_STREQ(event["object"]["kind"].GetString(), "Node");
  EXPECT_EQ(rv_of(event["object"]), rv);
  const std::string rv2 = server_->touch_node("node-a");
  bool saw_modified = false;
  for (int i = 0; i < 5; ++i) {
    auto next = c.next_line(3s);
    ASSERT_TRUE(next);
    auto e = parse(*next);
    if (std::string(e["type"].GetString()) == "MODIFIED") saw_modified = true;
    if (saw_modified && std::string(e["type"].GetString()) == "BOOKMARK") {
      EXPECT_EQ(rv_of(e["object"]), rv2);
      return;
    }
  }
  FAIL() << "no BOOKMARK after the MODIFIED event";
}

TEST_F(FakeApiServerTest, NoBookmarksUnlessAsked) {
  auto options = default_options();
  options.bookmark_interval = 50ms;
  start(options);
  const std::string rv = server_->create_node(small_node("node-a"));
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  EXPECT_FALSE(c.next_line(400ms));
}

TEST_F(FakeApiServerTest, WatchEndsAfterTimeoutSeconds) {
  start();
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&timeoutSeconds=1&resourceVersion=" + server_->resource_version()),
            200);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.next_line(5s));
  EXPECT_TRUE(c.ended_cleanly());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  // The connection is kept alive after a watch that timed out.
  EXPECT_EQ(c.request("GET", "/api/v1/nodes").status, 200);
}

TEST_F(FakeApiServerTest, InitialEventsEndWithAnAnnotatedBookmark) {
  start();
  server_->create_node(small_node("node-a"));
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&"
                          "resourceVersionMatch=NotOlderThan"),
            200);
  auto added = c.next_line(3s);
  ASSERT_TRUE(added);
  EXPECT_STREQ(parse(*added)["type"].GetString(), "ADDED");
  auto bookmark = c.next_line(3s);
  ASSERT_TRUE(bookmark);
  auto event = parse(*bookmark);
  EXPECT_STREQ(event["type"].GetString(), "BOOKMARK");
  EXPECT_STREQ(event["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"].GetString(), "true");
}

TEST_F(FakeApiServerTest, UnauthenticatedRequestsGet401Status) {
  start();
  auto anonymous = client("");
  auto res = anonymous.request("GET", "/api/v1/nodes");
  EXPECT_EQ(res.status, 401);
  auto status = parse(res.body);
  EXPECT_STREQ(status["kind"].GetString(), "Status");
  EXPECT_STREQ(status["reason"].GetString(), "Unauthorized");
  EXPECT_EQ(status["code"].GetInt(), 401);
  // Discovery is open to anonymous clients, like system:public-info-viewer.
  EXPECT_EQ(anonymous.request("GET", "/version").status, 200);
  // A wrong token is refused everywhere.
  auto wrong = client("wrong-token");
  EXPECT_EQ(wrong.request("GET", "/version").status, 401);
  EXPECT_EQ(wrong.request("GET", "/api/v1/nodes").status, 401);
  // Tokens can be rotated at run time.
  server_->set_tokens({"wrong-token"});
  EXPECT_EQ(wrong.request("GET", "/api/v1/nodes").status, 200);
  EXPECT_EQ(client().request("GET", "/api/v1/nodes").status, 401);
}

TEST_F(FakeApiServerTest, ClientCertificateAuthenticates) {
  start();
  auto options = client_options(*server_, "");
  options.client_cert_pem = shared_pki().client_cert_pem;
  options.client_key_pem = shared_pki().client_key_pem;
  HttpsClient c(options);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes").status, 200);
  // A certificate from another CA fails the TLS handshake.
  const TestPki other = make_test_pki({"127.0.0.1"});
  options.client_cert_pem = other.client_cert_pem;
  options.client_key_pem = other.client_key_pem;
  HttpsClient stranger(options);
  EXPECT_THROW(stranger.request("GET", "/api/v1/nodes"), std::exception);
}

TEST_F(FakeApiServerTest, FailNextAnswersWithStatusAndRetryAfter) {
  start();
  server_->fail_next(503, 2, 7);
  auto c = client();
  for (int i = 0; i < 2; ++i) {
    auto res = c.request("GET", "/api/v1/nodes");
    EXPECT_EQ(res.status, 503);
    EXPECT_EQ(res.header("retry-after"), "7");
    auto status = parse(res.body);
    EXPECT_STREQ(status["reason"].GetString(), "ServiceUnavailable");
    EXPECT_EQ(status["code"].GetInt(), 503);
  }
  EXPECT_EQ(c.request("GET", "/api/v1/nodes").status, 200);
  server_->fail_next(429, 1);
  auto res = c.request("GET", "/api/v1/nodes");
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.header("retry-after"), "");
}

TEST_F(FakeApiServerTest, DropConnectionsCutsAWatchMidStream) {
  start();
  const std::string rv = server_->create_node(small_node("node-a"));
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  server_->touch_node("node-a");
  ASSERT_TRUE(c.next_line(3s));
  EXPECT_EQ(server_->open_connections(), 1u);
  server_->drop_connections();
  EXPECT_FALSE(c.next_line(3s));
  EXPECT_TRUE(c.ended());
  EXPECT_FALSE(c.ended_cleanly());
  for (int i = 0; i < 100 && server_->open_connections() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_->open_connections(), 0u);
  // The server keeps serving new connections.
  EXPECT_EQ(client().request("GET", "/api/v1/nodes").status, 200);
}

TEST_F(FakeApiServerTest, RestartListensOnTheSamePortWithTheSameData) {
  start();
  server_->create_node(small_node("node-a"));
  const auto port = server_->port();
  server_->stop();
  EXPECT_THROW(client().request("GET", "/api/v1/nodes"), std::exception);
  server_->restart();
  EXPECT_EQ(server_->port(), port);
  auto res = client().request("GET", "/api/v1/nodes");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(parse(res.body)["items"].Size(), 1u);
}

TEST_F(FakeApiServerTest, GzipsLargeResponsesWhenAsked) {
  start();
  GenerateOptions generate;
  generate.count = 40;  // ~320 KB, above the 128 KiB threshold
  server_->generate_nodes(generate);
  auto c = client();
  auto plain = c.request("GET", "/api/v1/nodes");
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.header("content-encoding"), "");
  EXPECT_GT(plain.body.size(), 128u * 1024);
  auto zipped = c.request("GET", "/api/v1/nodes", {}, {}, {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.header("content-encoding"), "gzip");
  EXPECT_LT(zipped.body.size(), plain.body.size() / 4);
  EXPECT_EQ(gzip_decompress(zipped.body), plain.body);
  // Small responses are not worth compressing.
  auto small = c.request("GET", "/version", {}, {}, {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(small.header("content-encoding"), "");
}

TEST_F(FakeApiServerTest, CreateGetPatchReplaceDeleteOverHttp) {
  start();
  auto c = client();
  auto created = c.request("POST", "/api/v1/nodes", small_node("node-x"));
  ASSERT_EQ(created.status, 201) << created.body;
  auto object = parse(created.body);
  const std::string uid = object["metadata"]["uid"].GetString();
  EXPECT_EQ(c.request("POST", "/api/v1/nodes", small_node("node-x")).status, 409);
  auto duplicate = parse(c.request("POST", "/api/v1/nodes", small_node("node-x")).body);
  EXPECT_STREQ(duplicate["reason"].GetString(), "AlreadyExists");

  auto got = c.request("GET", "/api/v1/nodes/node-x");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, created.body);

  auto patched = c.request("PATCH", "/api/v1/nodes/node-x", R"({"metadata":{"labels":{"team":"net"}}})",
                           "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.body;
  auto patched_doc = parse(patched.body);
  EXPECT_STREQ(patched_doc["metadata"]["labels"]["team"].GetString(), "net");
  EXPECT_STREQ(patched_doc["metadata"]["labels"]["kubernetes.io/hostname"].GetString(), "node-x");
  EXPECT_EQ(patched_doc["metadata"]["uid"].GetString(), uid);
  EXPECT_NE(rv_of(patched_doc), rv_of(object));

  // A patch that changes nothing does not bump the resourceVersion.
  auto again = c.request("PATCH", "/api/v1/nodes/node-x", R"({"metadata":{"labels":{"team":"net"}}})",
                         "application/merge-patch+json");
  EXPECT_EQ(rv_of(parse(again.body)), rv_of(patched_doc));

  // Status changes go through /status only; strategic merge merges conditions by type.
  auto status_patch = c.request(
      "PATCH", "/api/v1/nodes/node-x/status",
      R"({"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"DiskPressure","status":"False"}]}})",
      "application/strategic-merge-patch+json");
  ASSERT_EQ(status_patch.status, 200) << status_patch.body;
  auto status_patch2 = c.request("PATCH", "/api/v1/nodes/node-x/status",
                                 R"({"status":{"conditions":[{"type":"Ready","status":"False","reason":"Down"}]}})",
                                 "application/strategic-merge-patch+json");
  auto conditions = parse(status_patch2.body);
  ASSERT_EQ(conditions["status"]["conditions"].Size(), 2u);
  EXPECT_STREQ(conditions["status"]["conditions"][0]["status"].GetString(), "False");
  EXPECT_STREQ(conditions["status"]["conditions"][0]["reason"].GetString(), "Down");
  EXPECT_STREQ(conditions["status"]["conditions"][1]["type"].GetString(), "DiskPressure");
  auto ignored = c.request("PATCH", "/api/v1/nodes/node-x", R"({"status":{"conditions":[]}})",
                           "application/merge-patch+json");
  EXPECT_EQ(parse(ignored.body)["status"]["conditions"].Size(), 2u) << "status is not changed through the node";
  EXPECT_EQ(c.request("PATCH", "/api/v1/nodes/node-x", "[]", "application/json-patch+json").status, 415);

  // podCIDR and podCIDRs stay consistent.
  auto cidr = c.request("PATCH", "/api/v1/nodes/node-x", R"({"spec":{"podCIDR":"10.244.9.0/24"}})",
                        "application/merge-patch+json");
  EXPECT_EQ(cidr.status, 422) << "podCIDR must match podCIDRs[0]";
  cidr = c.request("PATCH", "/api/v1/nodes/node-x",
                   R"({"spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]}})",
                   "application/merge-patch+json");
  ASSERT_EQ(cidr.status, 200);

  // PUT with a stale resourceVersion conflicts; with the current one it replaces.
  auto current = parse(c.request("GET", "/api/v1/nodes/node-x").body);
  std::string stale = small_node("node-x", "10.244.7.0/24");
  stale.insert(stale.find("\"name\""), R"("resourceVersion":")" + rv_of(object) + "\",");
  auto conflict = c.request("PUT", "/api/v1/nodes/node-x", stale);
  EXPECT_EQ(conflict.status, 409);
  EXPECT_STREQ(parse(conflict.body)["reason"].GetString(), "Conflict");
  std::string fresh = small_node("node-x", "10.244.7.0/24");
  fresh.insert(fresh.find("\"name\""), R"("resourceVersion":")" + rv_of(current) + "\",");
  auto replaced = c.request("PUT", "/api/v1/nodes/node-x", fresh);
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_STREQ(parse(replaced.body)["spec"]["podCIDR"].GetString(), "10.244.7.0/24");
  EXPECT_EQ(c.request("PUT", "/api/v1/nodes/node-y", fresh).status, 400) << "name mismatch";

  auto deleted = c.request("DELETE", "/api/v1/nodes/node-x");
  ASSERT_EQ(deleted.status, 200);
  auto status = parse(deleted.body);
  EXPECT_STREQ(status["status"].GetString(), "Success");
  EXPECT_STREQ(status["details"]["name"].GetString(), "node-x");
  EXPECT_EQ(status["details"]["uid"].GetString(), uid);
  auto missing = c.request("GET", "/api/v1/nodes/node-x");
  EXPECT_EQ(missing.status, 404);
  EXPECT_STREQ(parse(missing.body)["reason"].GetString(), "NotFound");
  EXPECT_EQ(c.request("DELETE", "/api/v1/nodes/node-x").status, 404);
}

TEST_F(FakeApiServerTest, BadInputGetsAClearStatus) {
  start();
  auto c = client();
  auto res = c.request("POST", "/api/v1/nodes", "{not json");
  EXPECT_EQ(res.status, 400);
  EXPECT_NE(std::string(parse(res.body)["message"].GetString()).find("not valid JSON"), std::string::npos);
  res = c.request("POST", "/api/v1/nodes", R"({"kind":"Pod","metadata":{"name":"x"}})");
  EXPECT_EQ(res.status, 400);
  res = c.request("POST", "/api/v1/nodes", R"({"kind":"Node","metadata":{"name":"Bad_Name"}})");
  EXPECT_EQ(res.status, 422);
  EXPECT_STREQ(parse(res.body)["reason"].GetString(), "Invalid");
  EXPECT_EQ(c.request("POST", "/api/v1/nodes", R"({"kind":"Node"})").status, 422);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?limit=-3").status, 400);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?resourceVersion=abc").status, 400);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?watch=1&resourceVersion=abc").status, 400);
  EXPECT_EQ(c.request("GET", "/api/v1/pods").status, 404);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?labelSelector=a%3Db").status, 400);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes?resourceVersion=99999999").status, 504);
  EXPECT_THROW(server_->create_node("[]"), std::invalid_argument);
  EXPECT_THROW(server_->delete_node("nope"), std::runtime_error);
  // The server is still fine.
  EXPECT_EQ(c.request("GET", "/api/v1/nodes").status, 200);
}

TEST_F(FakeApiServerTest, FieldSelectorOnNameFiltersListAndWatch) {
  start();
  server_->create_node(small_node("node-a"));
  const std::string rv = server_->create_node(small_node("node-b", "10.244.2.0/24"));
  auto c = client();
  auto list = parse(c.request("GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dnode-b").body);
  ASSERT_EQ(list["items"].Size(), 1u);
  EXPECT_STREQ(list["items"][0]["metadata"]["name"].GetString(), "node-b");
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&fieldSelector=metadata.name%3Dnode-b&resourceVersion=" + rv), 200);
  server_->touch_node("node-a");
  server_->touch_node("node-b");
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  EXPECT_STREQ(parse(*line)["object"]["metadata"]["name"].GetString(), "node-b");
}

TEST_F(FakeApiServerTest, DiscoveryDescribesNodes) {
  start();
  auto c = client();
  auto resources = parse(c.request("GET", "/api/v1").body);
  EXPECT_STREQ(resources["kind"].GetString(), "APIResourceList");
  EXPECT_STREQ(resources["groupVersion"].GetString(), "v1");
  EXPECT_STREQ(resources["resources"][0]["name"].GetString(), "nodes");
  EXPECT_FALSE(resources["resources"][0]["namespaced"].GetBool());
  auto api = parse(c.request("GET", "/api").body);
  EXPECT_STREQ(api["kind"].GetString(), "APIVersions");
  EXPECT_STREQ(api["versions"][0].GetString(), "v1");
  EXPECT_STREQ(parse(c.request("GET", "/apis").body)["kind"].GetString(), "APIGroupList");
  EXPECT_TRUE(parse(c.request("GET", "/version").body).HasMember("gitVersion"));
}

TEST_F(FakeApiServerTest, SlowWatcherIsDisconnectedWithoutDelayingOthers) {
  auto options = default_options();
  options.max_watch_lag = 500;
  start(options);
  GenerateOptions generate;
  generate.count = 20;
  const std::string rv = server_->generate_nodes(generate);
  auto slow = client();
  auto fast = client();
  ASSERT_EQ(slow.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  ASSERT_EQ(fast.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  // ~8 KB per event: 3000 events (24 MB) overflow any socket buffer of a client that does not read.
  // Bursts of 100, each once the fast reader has the one before: the fast
  // watcher never lags more than 200 events, the slow one falls ever further behind.
  constexpr int kEvents = 3000;
  std::atomic<int> received{0};
  std::thread writer([&] {
    for (int i = 0; i < kEvents; ++i) {
      if (i % 100 == 0) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (received.load() < i - 100 && std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(1ms);
      }
      server_->touch_node("node-" + std::to_string(i % 20));
    }
  });
  while (received.load() < kEvents) {
    auto line = fast.next_line(10s);
    if (!line) break;
    ++received;
  }
  writer.join();
  EXPECT_EQ(received.load(), kEvents) << "the fast watcher got every event";
  // The slow one was cut off: its stream ends early and not cleanly.
  int slow_received = 0;
  while (slow.next_line(2s)) ++slow_received;
  EXPECT_LT(slow_received, kEvents);
  EXPECT_FALSE(slow.ended_cleanly());
}

TEST_F(FakeApiServerTest, AdminEndpoints) {
  start();
  auto c = client();
  auto res = c.request("POST", "/admin/generate?count=30&prefix=bench-&realistic=false");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(server_->node_names().size(), 30u);
  EXPECT_EQ(parse(res.body)["count"].GetInt(), 30);
  const std::string rv = server_->resource_version();
  res = c.request("POST", "/admin/touch?name=bench-3");
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(std::stoull(server_->resource_version()), std::stoull(rv) + 1);
  EXPECT_EQ(c.request("POST", "/admin/touch?name=nope").status, 404);
  EXPECT_EQ(c.request("POST", "/admin/compact").status, 200);
  ASSERT_EQ(c.request("POST", "/admin/fail?status=500&count=1&retryAfter=3").status, 200);
  res = c.request("GET", "/api/v1/nodes");
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.header("retry-after"), "3");
  EXPECT_EQ(c.request("GET", "/admin/compact").status, 405);
  EXPECT_EQ(client("").request("POST", "/admin/compact").status, 401);
  res = c.request("POST", "/admin/drop-connections");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(client().request("GET", "/api/v1/nodes?limit=1").status, 200);
}

TEST_F(FakeApiServerTest, CutWatchSendsHalfAnEventThenEndsTheStream) {
  start();
  const std::string rv = server_->create_node(small_node("node-a"));
  auto admin = client();
  ASSERT_EQ(admin.request("POST", "/admin/cut-watch?count=1").status, 200);
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  server_->touch_node("node-a");
  // Only half of the MODIFIED event arrives (no complete line), then the connection ends.
  EXPECT_FALSE(c.next_line(3s));
  EXPECT_TRUE(c.ended());
  EXPECT_FALSE(c.ended_cleanly());
  // The cut is spent: a new watch from the same resourceVersion gets the whole event.
  auto again = client();
  ASSERT_EQ(again.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  auto line = again.next_line(3s);
  ASSERT_TRUE(line);
  EXPECT_STREQ(parse(*line)["type"].GetString(), "MODIFIED");
  // after=BYTES bounds the half (never a whole event); bad values are refused.
  EXPECT_EQ(admin.request("POST", "/admin/cut-watch?count=1&after=5").status, 200);
  EXPECT_EQ(admin.request("POST", "/admin/cut-watch?count=-1").status, 400);
}

TEST_F(FakeApiServerTest, StallLeavesNewConnectionsWithoutAHandshakeUntilItEnds) {
  start();
  server_->create_node(small_node("node-a"));
  auto admin = client();
  ASSERT_EQ(admin.request("GET", "/api/v1/nodes").status, 200);  // connected before the stall
  ASSERT_EQ(admin.request("POST", "/admin/stall?ms=1500").status, 200);
  auto options = client_options(*server_);
  options.timeout = 500ms;
  HttpsClient stalled(options);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_THROW(stalled.request("GET", "/api/v1/nodes"), std::runtime_error) << "the handshake must not complete";
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1400ms) << "the client's own deadline ends the wait";
  // An established connection is not affected.
  EXPECT_EQ(admin.request("GET", "/api/v1/nodes").status, 200);
  std::this_thread::sleep_for(1200ms);
  HttpsClient after(options);
  EXPECT_EQ(after.request("GET", "/api/v1/nodes").status, 200) << "served normally once the stall ended";
}

TEST_F(FakeApiServerTest, ExpireWatchesAnswersEveryWatchWith410ForAWhile) {
  start();
  const std::string rv = server_->create_node(small_node("node-a"));
  server_->expire_watches(1s);
  for (int i = 0; i < 2; ++i) {
    auto c = client();
    ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + server_->resource_version()), 200);
    auto line = c.next_line(3s);
    ASSERT_TRUE(line);
    auto event = parse(*line);
    EXPECT_STREQ(event["type"].GetString(), "ERROR");
    EXPECT_EQ(event["object"]["code"].GetInt(), 410);
    EXPECT_FALSE(c.next_line(3s));
    EXPECT_TRUE(c.ended_cleanly());
  }
  // Lists are served throughout; after the storm watches work again.
  EXPECT_EQ(client().request("GET", "/api/v1/nodes").status, 200);
  std::this_thread::sleep_for(1100ms);
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  server_->touch_node("node-a");
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  EXPECT_STREQ(parse(*line)["type"].GetString(), "MODIFIED");
  EXPECT_EQ(client().request("POST", "/admin/expire-watches?seconds=0").status, 200);
}

TEST_F(FakeApiServerTest, WatchFromAResourceVersionNotReachedYetIs504TooLarge) {
  start();
  const std::string rv = server_->create_node(small_node("node-a"));
  auto c = client();
  auto res = c.request("GET", "/api/v1/nodes?watch=1&resourceVersion=" + std::to_string(std::stoull(rv) + 5));
  EXPECT_EQ(res.status, 504);
  EXPECT_NE(res.body.find("Too large resource version"), std::string::npos) << res.body;
  // The current resourceVersion is fine.
  auto w = client();
  EXPECT_EQ(w.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
}

TEST_F(FakeApiServerTest, TokensCanBeAddedAndRevokedAtRuntime) {
  start();
  const std::string fresh = "fresh-token-77c1";
  EXPECT_EQ(client(fresh).request("GET", "/api/v1/nodes").status, 401);
  auto admin = client();
  auto res = admin.request("POST", "/admin/tokens?add=" + fresh + "&remove=" + std::string(kToken));
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.body.find(fresh), std::string::npos) << "tokens are never echoed";
  EXPECT_EQ(client(fresh).request("GET", "/api/v1/nodes").status, 200);
  EXPECT_EQ(client().request("GET", "/api/v1/nodes").status, 401) << "the revoked token is refused";
  EXPECT_EQ(client(fresh).request("POST", "/admin/tokens?bogus=x").status, 400);
  server_->add_token(kToken);
  server_->remove_token(fresh);
  EXPECT_EQ(client().request("GET", "/api/v1/nodes").status, 200);
  EXPECT_EQ(client(fresh).request("GET", "/api/v1/nodes").status, 401);
}

TEST_F(FakeApiServerTest, StateRoundTripsIntoAFreshServer) {
  start();
  server_->create_node(small_node("node-a"));
  server_->create_node(small_node("node-b", "10.244.2.0/24"));
  const std::string rv = server_->touch_node("node-a");
  const std::string state = server_->state_json();
  const std::string node_a = server_->node_json("node-a");
  server_.reset();
  start();
  server_->restore_state(state);
  EXPECT_EQ(server_->resource_version(), rv);
  EXPECT_EQ(server_->node_names(), (std::vector<std::string>{"node-a", "node-b"}));
  EXPECT_EQ(server_->node_json("node-a"), node_a);
  // A watch from the saved resourceVersion is served; the next write continues the counter.
  auto c = client();
  ASSERT_EQ(c.start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv), 200);
  EXPECT_EQ(std::stoull(server_->touch_node("node-b")), std::stoull(rv) + 1);
  auto line = c.next_line(3s);
  ASSERT_TRUE(line);
  EXPECT_STREQ(parse(*line)["object"]["metadata"]["name"].GetString(), "node-b");
  // Bad states are refused with a reason; a server with data refuses a restore.
  EXPECT_THROW(server_->restore_state(state), std::runtime_error);
  FakeApiServer other(default_options());
  EXPECT_THROW(other.restore_state("[]"), std::invalid_argument);
  EXPECT_THROW(other.restore_state(R"({"metadata":{"resourceVersion":"1001"},"items":[{"metadata":{"name":"x",)"
                                   R"("resourceVersion":"5000"}}]})"),
               std::invalid_argument);
}

TEST_F(FakeApiServerTest, RequestLogRecordsEveryRequest) {
  start();
  auto c = client();
  c.request("GET", "/api/v1/nodes?limit=2");
  client("bad").request("GET", "/api/v1/nodes");
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/api/v1/nodes?limit=2");
  EXPECT_EQ(requests[0].authorization, std::string("Bearer ") + kToken);
  EXPECT_EQ(requests[0].user_agent, "fake-apiserver-test/1.0");
  EXPECT_EQ(requests[0].status, 200);
  EXPECT_EQ(requests[1].status, 401);
  server_->clear_requests();
  EXPECT_TRUE(server_->requests().empty());
}

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

TEST_F(FakeApiServerTest, ListensOnIpv6Loopback) {
  auto options = default_options();
  options.listen_address = "::1";
  // Skip only when the machine has no ::1; any other failure of start() fails the test.
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback (::1) on this machine";
  start(options);
  EXPECT_EQ(server_->url(), "https://[::1]:" + std::to_string(server_->port()));
  auto client_opts = client_options(*server_);
  client_opts.host = "::1";
  HttpsClient c(client_opts);
  EXPECT_EQ(c.request("GET", "/api/v1/nodes").status, 200);
}

TEST(FakeApiServerOptionsTest, RefusesBadConfiguration) {
  auto options = default_options();
  options.listen_address = "not-an-address";
  EXPECT_THROW(FakeApiServer{options}, std::runtime_error);
  options = default_options();
  options.key_pem = "garbage";
  EXPECT_THROW(FakeApiServer{options}, std::runtime_error);
  options = default_options();
  FakeApiServer first(options);
  options.port = first.port();
  EXPECT_THROW(FakeApiServer{options}, std::runtime_error) << "port in use";
}

}  // namespace
}  // namespace hostgw::testing
