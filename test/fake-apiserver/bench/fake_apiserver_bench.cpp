// fake-apiserver-bench: how fast the fake API server serves what benchmarks
// ask of it, so that a benchmark of kube-hostgw knows the server is not its
// bottleneck. Prints figures; asserts nothing.
//
//   fake-apiserver-bench [NODES] [WATCHERS]     (defaults: 5000 nodes, 20 watchers)

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fake-apiserver/fake_apiserver.hpp"
#include "https_client.hpp"

using namespace hostgw::testing;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

std::string field(const std::string& body, const std::string& key) {
  auto at = body.find("\"" + key + "\":\"");
  if (at == std::string::npos) return {};
  at += key.size() + 4;
  return body.substr(at, body.find('"', at) - at);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t nodes = argc > 1 ? std::stoul(argv[1]) : 5000;
  const std::size_t watchers = argc > 2 ? std::stoul(argv[2]) : 20;
  const TestPki pki = make_test_pki({"127.0.0.1"});
  FakeApiServerOptions options;
  options.cert_pem = pki.server_cert_pem;
  options.key_pem = pki.server_key_pem;
  options.tokens = {"bench"};
  options.history_limit = nodes * 3;
  FakeApiServer server(options);
  ClientOptions client_options;
  client_options.port = server.port();
  client_options.ca_pem = pki.ca_pem;
  client_options.token = "bench";
  client_options.timeout = std::chrono::seconds(120);

  const long rss_before = rss_kib();
  auto start = Clock::now();
  GenerateOptions generate;
  generate.count = nodes;
  server.generate_nodes(generate);
  const double generate_s = seconds_since(start);
  const std::size_t node_bytes = server.node_json("node-0").size();
  std::printf("generate: %zu realistic nodes (%zu bytes each) in %.3f s (%.0f nodes/s); RSS +%.1f MiB\n", nodes,
              node_bytes, generate_s, nodes / generate_s, (rss_kib() - rss_before) / 1024.0);

  HttpsClient client(client_options);
  for (bool gzip : {false, true}) {
    for (std::size_t limit : {std::size_t{500}, std::size_t{0}}) {
      double best = 1e9;
      std::size_t wire = 0, pages = 0;
      for (int round = 0; round < 5; ++round) {
        start = Clock::now();
        std::string token;
        wire = pages = 0;
        do {
          std::string target = "/api/v1/nodes";
          if (limit) target += "?limit=" + std::to_string(limit) + (token.empty() ? "" : "&continue=" + token);
          std::map<std::string, std::string> headers;
          if (gzip) headers["Accept-Encoding"] = "gzip";
          auto res = client.request("GET", target, {}, {}, headers);
          if (res.status != 200) {
            std::fprintf(stderr, "list failed: %d %s\n", res.status, res.body.substr(0, 200).c_str());
            return 1;
          }
          wire += res.body.size();
          ++pages;
          // The continue token sits in the metadata (uncompressed bodies only; gzip runs reuse the page count).
          token = gzip ? std::string() : field(res.body.substr(0, 512), "continue");
        } while (!token.empty());
        best = std::min(best, seconds_since(start));
        if (gzip && limit) break;  // a gzipped page's token is not readable here; one page is measured
      }
      if (gzip && limit)
        std::printf("list page limit=%zu gzip: %.1f ms, %.2f MiB on the wire\n", limit, best * 1e3, wire / 1048576.0);
      else
        std::printf("list limit=%s%s: %zu page(s), %.1f ms for all %zu nodes, %.2f MiB on the wire (%.0f MiB/s)\n",
                    limit ? std::to_string(limit).c_str() : "none", gzip ? " gzip" : "", pages, best * 1e3, nodes,
                    wire / 1048576.0, wire / 1048576.0 / best);
    }
  }

  // Watch fan-out: every watcher must see every heartbeat.
  std::vector<std::unique_ptr<HttpsClient>> clients;
  const std::string rv = server.resource_version();
  for (std::size_t i = 0; i < watchers; ++i) {
    clients.push_back(std::make_unique<HttpsClient>(client_options));
    if (clients.back()->start_watch("/api/v1/nodes?watch=1&resourceVersion=" + rv) != 200) return 1;
  }
  std::atomic<std::size_t> done{0}, total{0};
  std::vector<std::thread> readers;
  start = Clock::now();
  for (auto& c : clients) {
    readers.emplace_back([&, c = c.get()] {
      std::size_t seen = 0;
      while (seen < nodes && c->next_line(std::chrono::seconds(30))) ++seen;
      total += seen;
      ++done;
    });
  }
  const auto touch_start = Clock::now();
  for (std::size_t i = 0; i < nodes; ++i) server.touch_node("node-" + std::to_string(i));
  const double touch_s = seconds_since(touch_start);
  for (auto& t : readers) t.join();
  const double fan_out_s = seconds_since(start);
  std::printf("watch: %zu heartbeats (%.0f/s into the store) to %zu watchers: %zu/%zu events delivered in %.3f s "
              "(%.0f events/s, %.0f MiB/s)\n",
              nodes, nodes / touch_s, watchers, total.load(), nodes * watchers, fan_out_s, total / fan_out_s,
              total * node_bytes / 1048576.0 / fan_out_s);
  std::printf("rss: %.1f MiB (server + %zu clients, %zu nodes, %zu events of history)\n", rss_kib() / 1024.0,
              watchers, nodes, nodes * 2);
  return 0;
}
