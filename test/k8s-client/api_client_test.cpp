// Integration tests: ApiClient against the fake API server over TLS on loopback.

#include "k8s-client/api_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include "integration_support.hpp"
#include "k8s-client/node_json.hpp"

namespace hostgw::k8s {
namespace {

using namespace hostgw::testing;
namespace asio = boost::asio;

class ApiClientTest : public ::testing::Test {
 protected:
  ApiResponse get(ApiClient& client, const std::string& target) { return run_coroutine(io_, client.get(target)); }

  asio::io_context io_;
  FakeApiServer server_{fake_options()};
};

TEST_F(ApiClientTest, TokenAndCaReachTheFakeWithTheRightHeaders) {
  server_.create_node(make_node_json(node_spec(1)));
  ApiClient client(io_.get_executor(), config_for(server_));
  ApiResponse response = get(client, "/api/v1/nodes");
  ASSERT_TRUE(response.ok()) << response.error_message;
  NodeListPage page;
  std::string error;
  ASSERT_TRUE(parse_node_list(response.body, page, error)) << error;
  ASSERT_EQ(page.nodes.size(), 1u);
  EXPECT_EQ(page.nodes[0].name, "node-1");

  auto requests = server_.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().authorization, "Bearer " + kGoodToken);
  EXPECT_EQ(requests.back().user_agent, ApiClient::user_agent());
  EXPECT_EQ(requests.back().user_agent.rfind("kube-hostgw/", 0), 0u);
  EXPECT_NE(requests.back().user_agent.find("(linux/"), std::string::npos);
  EXPECT_EQ(client.stats().requests_by_code.at(200), 1u);
  EXPECT_EQ(client.stats().latency_count, 1u);
  EXPECT_EQ(client.stats().latency_buckets.back(), 1u);
}

TEST_F(ApiClientTest, KeepAliveReusesOneConnection) {
  ApiClient client(io_.get_executor(), config_for(server_));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(get(client, "/api/v1/nodes?limit=1").ok());
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(ApiClientTest, ReconnectsWhenTheIdleConnectionWasClosed) {
  ApiClient client(io_.get_executor(), config_for(server_));
  ASSERT_TRUE(get(client, "/api/v1/nodes").ok());
  server_.drop_connections();
  std::this_thread::sleep_for(50ms);
  ApiResponse response = get(client, "/api/v1/nodes");
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

TEST_F(ApiClientTest, LargeResponsesArriveGzippedAndAreDecoded) {
  for (int i = 0; i < 60; ++i) server_.create_node(make_node_json(node_spec(i, /*realistic=*/true)));
  ApiClient client(io_.get_executor(), config_for(server_));
  ApiResponse response = get(client, "/api/v1/nodes");
  ASSERT_TRUE(response.ok()) << response.error_message;
  EXPECT_GT(response.body.size(), 128u * 1024) << "the fake gzips only bodies of 128 KiB or more";
  NodeListPage page;
  std::string error;
  ASSERT_TRUE(parse_node_list(response.body, page, error)) << error;
  EXPECT_EQ(page.nodes.size(), 60u);
}

TEST_F(ApiClientTest, GzippedBodyOverTheLimitIsTooLargeNotCorrupt) {
  for (int i = 0; i < 60; ++i) server_.create_node(make_node_json(node_spec(i, /*realistic=*/true)));
  ApiClientOptions options;
  options.max_body_bytes = 64 * 1024;  // the list decodes to well over 128 KiB
  ApiClient client(io_.get_executor(), config_for(server_), options);
  ApiResponse response = get(client, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::response_too_large)) << response.error_message;
  EXPECT_NE(response.error_message.find("more than 65536 bytes"), std::string::npos) << response.error_message;
}

TEST_F(ApiClientTest, ClientCertificateAuthenticates) {
  ClusterConfig config = config_for(server_, "");
  config.client_cert_pem = shared_pki().client_cert_pem;
  config.client_key_pem = shared_pki().client_key_pem;
  ApiClient client(io_.get_executor(), config);
  ApiResponse response = get(client, "/api/v1/nodes");
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(server_.requests().back().authorization, "");
}

TEST_F(ApiClientTest, MissingOrBadTokenFailsClearly) {
  ApiClient none(io_.get_executor(), config_for(server_, ""));
  ApiResponse response = get(none, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::unauthorized));
  EXPECT_EQ(response.status, 401);
  EXPECT_NE(response.error_message.find("GET /api/v1/nodes: 401 Unauthorized"), std::string::npos)
      << response.error_message;
  EXPECT_NE(response.error_message.find("no credentials"), std::string::npos) << response.error_message;

  ApiClient bad(io_.get_executor(), config_for(server_, "wrong"));
  response = get(bad, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::unauthorized));
  EXPECT_NE(response.error_message.find("the server rejected the token from test"), std::string::npos)
      << response.error_message;
  EXPECT_EQ(response.error_message.find("wrong"), std::string::npos) << "the token must not be in messages";
}

TEST_F(ApiClientTest, WrongCaFailsTheHandshake) {
  TestPki other = make_test_pki({"127.0.0.1"});
  ClusterConfig config = config_for(server_);
  config.ca_pem = other.ca_pem;
  ApiClient client(io_.get_executor(), config);
  ApiResponse response = get(client, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::tls_failed));
  EXPECT_NE(response.error_message.find("TLS handshake with 127.0.0.1:" + std::to_string(server_.port()) +
                                        " failed: server certificate rejected"),
            std::string::npos)
      << response.error_message;
}

TEST_F(ApiClientTest, HostNameIsVerifiedAndTlsServerNameOverridesIt) {
  ClusterConfig config = config_for(server_);
  config.tls_server_name = "wrong.example";
  ApiClient wrong(io_.get_executor(), config);
  ApiResponse response = get(wrong, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::tls_failed));
  EXPECT_NE(response.error_message.find("not valid for \"wrong.example\""), std::string::npos) << response.error_message;

  config.tls_server_name = "api.internal";  // a DNS SAN of the server certificate
  ApiClient right(io_.get_executor(), config);
  response = get(right, "/api/v1/nodes");
  EXPECT_TRUE(response.ok()) << response.error_message;

  // Reached by name: "localhost" is a SAN, verified and sent as SNI.
  ClusterConfig by_name = config_for(server_);
  by_name.host = "localhost";
  ApiClient named(io_.get_executor(), by_name);
  response = get(named, "/api/v1/nodes");
  EXPECT_TRUE(response.ok()) << response.error_message;
}

TEST_F(ApiClientTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  ClusterConfig config = config_for(server_);
  config.ca_pem.clear();
  config.insecure_skip_tls_verify = true;
  config.tls_server_name = "wrong.example";
  ApiClient client(io_.get_executor(), config);
  EXPECT_TRUE(get(client, "/api/v1/nodes").ok());
}

TEST_F(ApiClientTest, RetryAfterIsReported) {
  server_.fail_next(429, 1, 2);
  ApiClient client(io_.get_executor(), config_for(server_));
  ApiResponse response = get(client, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::too_many_requests));
  ASSERT_TRUE(response.retry_after);
  EXPECT_EQ(*response.retry_after, 2s);
  EXPECT_TRUE(get(client, "/api/v1/nodes").ok());
  EXPECT_EQ(client.stats().requests_by_code.at(429), 1u);
}

TEST_F(ApiClientTest, StrategicMergePatchOfTheStatusKeepsTheOtherConditions) {
  server_.create_node(make_node_json(node_spec(7, /*realistic=*/true)));  // with the kubelet's conditions
  ApiClient client(io_.get_executor(), config_for(server_));
  ApiResponse response = run_coroutine(
      io_,
      client.request(
          "PATCH", "/api/v1/nodes/node-7/status", "application/strategic-merge-patch+json",
          R"({"status":{"conditions":[{"type":"NetworkUnavailable","status":"False","reason":"PatchedByTest"}]}})"));
  EXPECT_TRUE(response.ok()) << response.error_message;
  const std::string stored = server_.node_json("node-7");
  EXPECT_NE(stored.find("PatchedByTest"), std::string::npos) << stored;
  EXPECT_EQ(stored.find("RouteCreated"), std::string::npos) << stored;  // the condition of that type was replaced
  EXPECT_NE(stored.find("KubeletReady"), std::string::npos) << stored;  // the kubelet's Ready condition survived
  response = run_coroutine(
      io_, client.request("PATCH", "/api/v1/nodes/missing/status", "application/strategic-merge-patch+json", "{}"));
  EXPECT_EQ(response.error, make_error_code(ApiErrc::not_found));
}

// --- get(target, on_body): a 200's body to a sink, as an ordinary request ---

class ApiClientBodySinkTest : public ApiClientTest {
 protected:
  // The GET with a sink that keeps what it receives in `received_` (and counts the calls).
  ApiResponse get_to_sink(ApiClient& client, const std::string& target) {
    received_.clear();
    calls_ = 0;
    return run_coroutine(io_, client.get(target, [this](std::string_view data) {
      received_.append(data);
      ++calls_;
      return true;
    }));
  }

  std::string received_;
  std::size_t calls_ = 0;
};

TEST_F(ApiClientBodySinkTest, DeliversTheDecodedBodyAndKeepsTheConnection) {
  for (int i = 0; i < 60; ++i) server_.create_node(make_node_json(node_spec(i, /*realistic=*/true)));
  ApiClient client(io_.get_executor(), config_for(server_));
  ApiResponse buffered = get(client, "/api/v1/nodes");
  ASSERT_TRUE(buffered.ok()) << buffered.error_message;
  ASSERT_GT(buffered.body.size(), 128u * 1024) << "gzipped by the fake";
  for (int i = 0; i < 3; ++i) {
    ApiResponse response = get_to_sink(client, "/api/v1/nodes");
    ASSERT_TRUE(response.ok()) << response.error_message;
    EXPECT_EQ(response.status, 200);
    EXPECT_TRUE(response.body.empty());
    EXPECT_EQ(received_, buffered.body);
    EXPECT_GT(calls_, 1u) << "delivered as it arrives, in pieces";
  }
  ASSERT_TRUE(get(client, "/api/v1/nodes?limit=1").ok());
  EXPECT_EQ(client.stats().connections_opened, 1u) << "the keep-alive connection is reused and kept";
  EXPECT_EQ(client.stats().requests_by_code.at(200), 5u);
}

TEST_F(ApiClientBodySinkTest, OtherStatusesAreBufferedAsGetHasThem) {
  ApiClient client(io_.get_executor(), config_for(server_));
  server_.fail_next(410, 1);
  ApiResponse gone = get_to_sink(client, "/api/v1/nodes?limit=1&continue=old");
  EXPECT_EQ(gone.error, make_error_code(ApiErrc::gone)) << gone.error_message;
  EXPECT_EQ(gone.status, 410);
  EXPECT_EQ(calls_, 0u);
  EXPECT_NE(gone.body.find("\"code\":410"), std::string::npos) << gone.body;
  EXPECT_EQ(parse_status(gone.body).code, 410);

  server_.fail_next(429, 1, 2);
  ApiResponse busy = get_to_sink(client, "/api/v1/nodes");
  EXPECT_EQ(busy.error, make_error_code(ApiErrc::too_many_requests));
  ASSERT_TRUE(busy.retry_after);
  EXPECT_EQ(*busy.retry_after, 2s);
  EXPECT_EQ(calls_, 0u);

  ApiResponse ok = get_to_sink(client, "/api/v1/nodes");
  EXPECT_TRUE(ok.ok()) << ok.error_message;
  EXPECT_GT(calls_, 0u);
  EXPECT_EQ(client.stats().connections_opened, 1u);
}

TEST_F(ApiClientBodySinkTest, TheBodyLimitHolds) {
  for (int i = 0; i < 60; ++i) server_.create_node(make_node_json(node_spec(i, /*realistic=*/true)));
  ApiClientOptions options;
  options.max_body_bytes = 64 * 1024;
  ApiClient client(io_.get_executor(), config_for(server_), options);
  ApiResponse response = get_to_sink(client, "/api/v1/nodes");
  EXPECT_EQ(response.error, make_error_code(ApiErrc::response_too_large)) << response.error_message;
  EXPECT_LE(received_.size(), 64u * 1024);
  // The connection was dropped mid-body: the next request opens another one.
  ASSERT_TRUE(get(client, "/api/v1/nodes?limit=1").ok());
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

TEST_F(ApiClientBodySinkTest, ASinkThatStopsDropsTheConnection) {
  for (int i = 0; i < 60; ++i) server_.create_node(make_node_json(node_spec(i, /*realistic=*/true)));
  ApiClient client(io_.get_executor(), config_for(server_));
  std::size_t calls = 0;
  ApiResponse response = run_coroutine(io_, client.get("/api/v1/nodes", [&](std::string_view) {
    ++calls;
    return false;
  }));
  EXPECT_TRUE(response.ok()) << "stopping is the caller's decision, not an error: " << response.error_message;
  EXPECT_EQ(calls, 1u);
  ASSERT_TRUE(get(client, "/api/v1/nodes?limit=1").ok());
  EXPECT_EQ(client.stats().connections_opened, 2u);
}

TEST_F(ApiClientBodySinkTest, A401IsRetriedWithFreshCredentialsAndTheSinkSeesOneBody) {
  TempDir dir;
  const std::string token_file = dir.write("token", kGoodToken);
  ClusterConfig config = config_for(server_, "");
  config.token_file = token_file;
  ApiClient client(io_.get_executor(), config);
  server_.create_node(make_node_json(node_spec(1)));
  ASSERT_TRUE(get_to_sink(client, "/api/v1/nodes").ok());
  const std::string first = received_;

  server_.set_tokens({"rotated"});
  dir.write("token", "rotated\n");
  ApiResponse response = get_to_sink(client, "/api/v1/nodes");
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_EQ(client.stats().requests_by_code.at(401), 1u);
  EXPECT_EQ(received_, first) << "the 401's body never reaches the sink";
  EXPECT_EQ(server_.requests().back().authorization, "Bearer rotated");
}

TEST_F(ApiClientTest, StreamDeliversDataUntilTheServerEndsIt) {
  std::string rv = server_.resource_version();
  server_.create_node(make_node_json(node_spec(1)));
  ApiClient client(io_.get_executor(), config_for(server_));
  std::string received;
  ApiResponse response = run_coroutine(
      io_, client.get_stream("/api/v1/nodes?watch=1&resourceVersion=" + rv + "&timeoutSeconds=1", 5s,
                             [&](std::string_view data) {
                               received.append(data);
                               return true;
                             }));
  EXPECT_TRUE(response.ok()) << response.error_message;
  EXPECT_NE(received.find("\"ADDED\""), std::string::npos) << received;
}

TEST_F(ApiClientTest, SilentStreamTimesOut) {
  ApiClient client(io_.get_executor(), config_for(server_));
  auto start = std::chrono::steady_clock::now();
  ApiResponse response = run_coroutine(
      io_, client.get_stream("/api/v1/nodes?watch=1&resourceVersion=" + server_.resource_version() + "&timeoutSeconds=30",
                             300ms, [](std::string_view) { return true; }));
  EXPECT_EQ(response.error, make_error_code(ApiErrc::timeout));
  EXPECT_NE(response.error_message.find("no data for 300 ms"), std::string::npos) << response.error_message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST(ApiClientTimeoutTest, SilentServerHitsTheHandshakeDeadline) {
  // A TCP listener that accepts and never speaks TLS.
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket accepted(io);
  acceptor.async_accept(accepted, [](boost::system::error_code) {});
  ClusterConfig config;
  config.source = "test";
  config.server = "https://127.0.0.1";
  config.host = "127.0.0.1";
  config.port = std::to_string(acceptor.local_endpoint().port());
  config.ca_pem = shared_pki().ca_pem;
  ApiClientOptions options;
  options.connect_timeout = 200ms;
  ApiClient client(io.get_executor(), config, options);
  ApiResponse response = run_coroutine(io, client.get("/api/v1/nodes"));
  EXPECT_EQ(response.error, make_error_code(ApiErrc::timeout));
  EXPECT_NE(response.error_message.find("no TLS handshake within 200 ms"), std::string::npos) << response.error_message;
}

TEST(ApiClientTimeoutTest, ConnectionRefusedIsDescribed) {
  asio::io_context io;
  std::uint16_t port;
  {
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  ClusterConfig config;
  config.source = "test";
  config.host = "127.0.0.1";
  config.port = std::to_string(port);
  config.ca_pem = shared_pki().ca_pem;
  ApiClient client(io.get_executor(), config);
  ApiResponse response = run_coroutine(io, client.get("/api/v1/nodes"));
  EXPECT_EQ(response.error, make_error_code(ApiErrc::connect_failed));
  EXPECT_EQ(response.error_message, "GET /api/v1/nodes: connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused");
  EXPECT_EQ(client.stats().requests_by_code.at(0), 1u);
}

TEST(ApiClientConfigTest, BadTlsMaterialIsAConfigError) {
  asio::io_context io;
  ClusterConfig config;
  config.source = "kubeconfig /k, context \"c\"";
  config.host = "127.0.0.1";
  config.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
  try {
    ApiClient client(io.get_executor(), config);
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("kubeconfig /k, context \"c\": certificate authority of"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hostgw::k8s
