// k8s_list_bench: LIST + parse of 5000 realistic (~8 KB) Nodes from the fake
// API server over TLS on loopback, the way NodeWatcher does its initial sync:
// paged (limit=500) vs one unpaged LIST. Prints the median time to the
// `resynced` event and the peak RSS of the client process.
//
//   k8s_list_bench [--nodes N] [--runs R] [--page-size P]
//
// Layout: the fake runs in its own process (so its memory is not counted);
// every measured run is a fresh child process, so its peak RSS (VmHWM) is
// that run's alone. Nothing leaves loopback.

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "fake-apiserver/fake_apiserver.hpp"
#include "k8s-client/api_client.hpp"
#include "k8s-client/node_json.hpp"
#include "k8s-client/node_list_stream.hpp"
#include "k8s-client/node_watcher.hpp"

namespace {

using namespace hostgw;
using Clock = std::chrono::steady_clock;

double cpu_ms_now() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

long status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::size_t len = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, len, field) == 0) return std::atol(line.c_str() + len + 1);
  return -1;
}

struct RunResult {
  double milliseconds = 0;
  double cpu_ms = 0;  // user + system CPU of the client for the sync (independent of other load)
  long baseline_rss_kib = 0;
  long peak_rss_kib = 0;
  std::uint64_t nodes = 0;
  std::uint64_t malformed = 0;
  std::uint64_t requests = 0;
  double header_wait_ms = 0;  // request sent -> response header, summed (the server's time to answer)
};

k8s::ClusterConfig config_for(std::uint16_t port, const std::string& ca) {
  k8s::ClusterConfig config;
  config.source = "bench";
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.host = "127.0.0.1";
  config.port = std::to_string(port);
  config.ca_pem = ca;
  config.token = "bench-token";
  return config;
}

// One measured sync, in the calling (child) process.
RunResult measure_sync(std::uint16_t port, const std::string& ca, std::size_t page_size) {
  RunResult result;
  result.baseline_rss_kib = status_kib("VmHWM:");
  boost::asio::io_context io;
  k8s::ApiClient client(io.get_executor(), config_for(port, ca));
  k8s::NodeWatcherOptions options;
  options.page_size = page_size;
  bool synced = false;
  k8s::NodeWatcher watcher(client, options, [&](const k8s::NodeEvent& event) {
    if (event.type != k8s::NodeEvent::Type::resynced) return;
    result.nodes = event.nodes.size();
    synced = true;
    io.stop();
  });
  boost::asio::cancellation_signal cancel;
  const double cpu_start = cpu_ms_now();
  auto start = Clock::now();
  boost::asio::co_spawn(io, watcher.run(), boost::asio::bind_cancellation_slot(cancel.slot(), boost::asio::detached));
  io.run();
  result.milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  result.cpu_ms = cpu_ms_now() - cpu_start;
  result.peak_rss_kib = status_kib("VmHWM:");
  result.malformed = watcher.stats().malformed_objects;
  for (const auto& [code, count] : client.stats().requests_by_code) result.requests += count;
  result.header_wait_ms = client.stats().latency_sum_seconds * 1000;
  if (!synced) result.nodes = 0;
  return result;
}

// Runs `body` in a child process and returns what it wrote.
template <typename T>
T in_child(const std::function<T()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(2);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    T value = body();
    ssize_t written = ::write(fds[1], &value, sizeof value);
    ::_exit(written == static_cast<ssize_t>(sizeof value) ? 0 : 3);
  }
  ::close(fds[1]);
  T value{};
  ssize_t got = ::read(fds[0], &value, sizeof value);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (got != static_cast<ssize_t>(sizeof value) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "k8s_list_bench: a measurement child failed\n");
    std::exit(1);
  }
  return value;
}

template <typename T>
T median(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Probe {
  std::size_t body_bytes = 0;
  double parse_ms = 0;
  double parse_in_place_ms = 0;
  double parse_streamed_ms = 0;
  std::size_t nodes = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t node_count = 5000, runs = 5, page_size = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::size_t value = std::strtoul(argv[i + 1], nullptr, 10);
    if (flag == "--nodes") node_count = value;
    else if (flag == "--runs") runs = std::max<std::size_t>(value, 1);
    else if (flag == "--page-size") page_size = value;
    else {
      std::fprintf(stderr, "usage: k8s_list_bench [--nodes N] [--runs R] [--page-size P]\n");
      return 2;
    }
  }
  log::set_sink([](std::string_view) {});  // the client's info lines would drown the figures

  // Everything below forks; make the PKI first (no threads exist yet).
  testing::TestPki pki = testing::make_test_pki({"127.0.0.1"});

  // The fake, in its own process. It reports its port, then serves until the pipe closes.
  int to_parent[2], to_child[2];
  if (::pipe(to_parent) != 0 || ::pipe(to_child) != 0) return 2;
  pid_t server_pid = ::fork();
  if (server_pid == 0) {
    ::close(to_parent[0]);
    ::close(to_child[1]);
    // The server process only (the measured clients are untouched): keep its multi-MB
    // responses in the heap instead of an mmap + page faults per response.
    ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 256 << 20);
    testing::FakeApiServerOptions options;
    options.cert_pem = pki.server_cert_pem;
    options.key_pem = pki.server_key_pem;
    options.tokens = {"bench-token"};
    testing::FakeApiServer server(options);
    testing::GenerateOptions generate;
    generate.count = node_count;
    generate.realistic = true;
    server.generate_nodes(generate);
    std::uint16_t port = server.port();
    if (::write(to_parent[1], &port, sizeof port) != sizeof port) ::_exit(3);
    char byte;
    while (::read(to_child[0], &byte, 1) > 0) {
    }
    return 0;  // destructors stop the server
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  std::uint16_t port = 0;
  if (::read(to_parent[0], &port, sizeof port) != sizeof port) {
    std::fprintf(stderr, "k8s_list_bench: the fake API server did not start\n");
    return 1;
  }

  // One unpaged GET to size the LIST and time the parse alone.
  Probe probe = in_child<Probe>([&] {
    Probe p;
    boost::asio::io_context io;
    k8s::ApiClient client(io.get_executor(), config_for(port, pki.ca_pem));
    auto future = boost::asio::co_spawn(io, client.get("/api/v1/nodes"), boost::asio::use_future);
    io.run();
    k8s::ApiResponse response = future.get();
    if (!response.ok()) {
      std::fprintf(stderr, "k8s_list_bench: %s\n", response.error_message.c_str());
      std::exit(1);
    }
    p.body_bytes = response.body.size();
    std::vector<double> times;
    for (int i = 0; i < 5; ++i) {
      k8s::NodeListPage page;
      std::string error;
      auto start = Clock::now();
      k8s::parse_node_list(response.body, page, error);
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      p.nodes = page.nodes.size();
    }
    p.parse_ms = median(times);
    times.clear();
    for (int i = 0; i < 5; ++i) {
      std::string body = response.body;  // parsed in place: a fresh copy each time (not timed)
      k8s::NodeListPage page;
      std::string error;
      auto start = Clock::now();
      k8s::parse_node_list_in_place(body, page, error);
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (page.nodes.size() != p.nodes) std::exit(1);
    }
    p.parse_in_place_ms = median(times);
    times.clear();
    for (int i = 0; i < 5; ++i) {
      k8s::NodeListPage page;
      auto start = Clock::now();
      k8s::NodeListStreamParser parser(page);
      constexpr std::size_t kChunk = 64 * 1024;  // what the client hands over per read, about
      for (std::size_t at = 0; at < response.body.size(); at += kChunk)
        parser.feed(std::string_view(response.body).substr(at, kChunk));
      if (!parser.finish()) std::exit(1);
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      if (page.nodes.size() != p.nodes) std::exit(1);
    }
    p.parse_streamed_ms = median(times);
    return p;
  });

  std::printf("k8s_list_bench: %zu nodes, LIST body %.1f MB (%.0f bytes/node), TLS on loopback, gzip as kube-apiserver (>= 128 KiB), %zu runs each\n",
              node_count, probe.body_bytes / 1e6, double(probe.body_bytes) / std::max<std::size_t>(node_count, 1), runs);
  std::printf("parse only (SAX, parse_node_list over the whole body): %.1f ms median, %.0f MB/s, %zu nodes\n",
              probe.parse_ms, probe.body_bytes / 1e3 / probe.parse_ms, probe.nodes);
  std::printf("parse only, in place (parse_node_list_in_place): %.1f ms median, %.0f MB/s\n",
              probe.parse_in_place_ms, probe.body_bytes / 1e3 / probe.parse_in_place_ms);
  std::printf("parse only, streamed in 64 KiB chunks (NodeListStreamParser, what NodeWatcher uses): %.1f ms median, %.0f MB/s\n\n",
              probe.parse_streamed_ms, probe.body_bytes / 1e3 / probe.parse_streamed_ms);
  std::printf("%-14s %10s %10s %10s %12s %9s %16s %18s %15s\n", "mode", "median_ms", "min_ms", "max_ms", "client_cpu_ms",
              "requests", "peak_rss_MiB", "rss_before_MiB", "header_wait_ms");

  struct Mode {
    const char* name;
    std::size_t page_size;
  };
  std::string paged_name = "paged-" + std::to_string(page_size);
  std::vector<Mode> modes = {{paged_name.c_str(), page_size}, {"unpaged", 0}};
  int status = 0;
  for (const Mode& mode : modes) {
    std::vector<double> times, cpu, header_waits;
    std::vector<long> peaks, baselines;
    std::uint64_t requests = 0;
    for (std::size_t run = 0; run < runs; ++run) {
      RunResult result = in_child<RunResult>([&] { return measure_sync(port, pki.ca_pem, mode.page_size); });
      if (result.nodes != node_count) {
        std::fprintf(stderr, "k8s_list_bench: %s run %zu synced %llu nodes, expected %zu\n", mode.name, run,
                     static_cast<unsigned long long>(result.nodes), node_count);
        status = 1;
      }
      times.push_back(result.milliseconds);
      cpu.push_back(result.cpu_ms);
      header_waits.push_back(result.header_wait_ms);
      peaks.push_back(result.peak_rss_kib);
      baselines.push_back(result.baseline_rss_kib);
      requests = result.requests;
    }
    std::printf("%-14s %10.1f %10.1f %10.1f %12.1f %9llu %16.1f %18.1f %15.1f\n", mode.name, median(times),
                *std::min_element(times.begin(), times.end()), *std::max_element(times.begin(), times.end()),
                median(cpu), static_cast<unsigned long long>(requests), median(peaks) / 1024.0, median(baselines) / 1024.0,
                median(header_waits));
  }
  std::printf("\npeak_rss is the client process's VmHWM after the resynced event (it includes the %zu NodeInfos).\n",
              node_count);
  std::printf("header_wait is the time from each request to its response header, summed: the fake builds and\n"
              "gzips a whole page before its header, so this is time the client can only spend waiting.\n");

  ::close(to_child[1]);
  int server_status = 0;
  ::waitpid(server_pid, &server_status, 0);
  return status;
}
