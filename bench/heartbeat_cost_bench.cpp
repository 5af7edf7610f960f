// heartbeat_cost_bench: what one irrelevant MODIFIED event (a kubelet
// heartbeat, ~8 KB of realistic Node JSON) costs the controller, in-process,
// through the real path: the watch-stream framer offering the whole event to
// parse_leading_watch_event_in_place() (one pass where it lies), the NodeWatcher's WatchEvent → NodeEvent step, and
// Reconciler::on_node_event()
// (ClusterView::apply + metrics) with a cluster view of --view nodes.
//
//   heartbeat_cost_bench EVENTS [VIEW_NODES=5000] [READ_BYTES=0]
//
// READ_BYTES 0: each event arrives alone in one read (a heartbeat on a quiet
// watch). READ_BYTES N: the events arrive back to back in reads of N bytes (a
// burst; 16384 is one TLS record), so most are cut by a read boundary; the
// copy that builds the stream is counted too. HEARTBEAT_BENCH_NO_TAKER=1
// frames every event first (the path before the one-pass taker), to compare.
//
// Meant to run under `valgrind --tool=callgrind` twice, with EVENTS=N and
// EVENTS=0: instructions per event = (Ir(N) - Ir(0)) / N (scripts/bench.sh does
// this). Run natively it also prints the wall-clock time per event. Each event
// carries its own resourceVersion, as a heartbeat does. No network, no root.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/log.hpp"
#include "controller/metrics.hpp"
#include "controller/reconciler.hpp"
#include "fake-apiserver/fake_apiserver.hpp"
#include "k8s-client/json_framer.hpp"
#include "k8s-client/node_json.hpp"
#include "routing/fake_route_table.hpp"

namespace {

using namespace hostgw;

// A heartbeat as the watch stream carries it: {"type":"MODIFIED","object":{...}}\n,
// with a 10-digit resourceVersion at `rv_offset` that each event overwrites.
struct EventTemplate {
  std::string text;
  std::size_t rv_offset = 0;
};

EventTemplate make_heartbeat(const testing::NodeSpec& spec) {
  std::string node = testing::make_node_json(spec);
  const std::string anchor = "\"metadata\":{";
  const auto at = node.find(anchor);
  if (at == std::string::npos) throw std::runtime_error("generated node JSON has no \"metadata\":{");
  const std::string rv = "\"resourceVersion\":\"1000000000\",";
  node.insert(at + anchor.size(), rv);
  EventTemplate event;
  event.text = R"({"type":"MODIFIED","object":)" + node + "}\n";
  event.rv_offset = event.text.find("1000000000");
  return event;
}

void set_rv(EventTemplate& event, std::uint64_t rv) {
  char digits[11];
  std::snprintf(digits, sizeof digits, "%010llu", static_cast<unsigned long long>(rv % 10000000000ULL));
  std::memcpy(event.text.data() + event.rv_offset, digits, 10);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: heartbeat_cost_bench EVENTS [VIEW_NODES=5000] [READ_BYTES=0]\n");
    return 2;
  }
  const long events = std::atol(argv[1]);
  const long view_nodes = argc > 2 ? std::atol(argv[2]) : 5000;
  const long read_bytes = argc > 3 ? std::atol(argv[3]) : 0;
  const bool use_taker = std::getenv("HEARTBEAT_BENCH_NO_TAKER") == nullptr;
  if (events < 0 || view_nodes < 2 || view_nodes > 60000 || read_bytes < 0) {
    std::fprintf(stderr, "heartbeat_cost_bench: EVENTS must be >= 0, VIEW_NODES 2..60000, READ_BYTES >= 0\n");
    return 2;
  }
  log::set_sink([](std::string_view) {});

  // The controller's side: a reconciler over a fake table, fed one full list.
  boost::asio::io_context io;
  routing::FakeRouteTable table(io.get_executor());
  controller::MetricsRegistry registry;
  controller::ControllerMetrics metrics(registry);
  controller::ReconcilerOptions options;
  options.node_name = "node-0";
  options.routes.cluster_cidrs = {routing::IpPrefix::parse("10.244.0.0/16")};
  controller::Reconciler reconciler(io.get_executor(), table, options, metrics);

  testing::GenerateOptions generate;
  generate.count = static_cast<std::size_t>(view_nodes);
  generate.pod_cidr_size = view_nodes > 8192 ? 0 : 29;
  generate.realistic = true;
  const auto specs = testing::make_node_specs(generate);
  {
    k8s::NodeEvent list;
    list.type = k8s::NodeEvent::Type::resynced;
    for (const auto& spec : specs) {
      k8s::NodeInfo info;
      info.name = k8s::NodeName(spec.name);
      info.resource_version = "1";
      info.pod_cidrs = spec.pod_cidrs;
      info.internal_ips = spec.internal_ips;
      info.external_ips = spec.external_ips;
      list.nodes.push_back(std::move(info));
    }
    reconciler.on_node_event(list);
  }
  // The heartbeat of one node in the middle of the view.
  EventTemplate heartbeat = make_heartbeat(specs[specs.size() / 2]);

  // The watch path, as NodeWatcher::watch() runs it for each frame.
  k8s::JsonObjectFramer framer;
  k8s::NodeJsonLimits limits;
  std::uint64_t delivered = 0, relevant_errors = 0;
  auto deliver = [&](k8s::WatchEventParseResult& parsed) {
    if (!parsed.ok() || parsed.event->type != k8s::WatchEvent::Type::modified) {
      ++relevant_errors;
      return;
    }
    k8s::NodeEvent out;
    out.type = k8s::NodeEvent::Type::modified;
    out.node = std::move(parsed.event->node);
    reconciler.on_node_event(out);
    ++delivered;
  };
  // An event cut by a read boundary: framed, then parsed over the framer's buffer.
  auto on_frame = [&](const k8s::JsonObjectFramer::Frame& frame) {
    k8s::WatchEventParseResult parsed = k8s::parse_watch_event_in_place(*frame.buffer, limits);
    deliver(parsed);
  };
  // A whole event in one read (a heartbeat always is): parsed where it lies.
  auto take_whole = [&](char* begin, char* end) -> std::size_t {
    k8s::WatchEventParseResult parsed;
    const std::size_t size = k8s::parse_leading_watch_event_in_place(begin, end, parsed, limits);
    if (size > 0) deliver(parsed);
    return size;
  };

  const std::size_t passes_before = reconciler.passes();
  const auto start = std::chrono::steady_clock::now();
  auto feed = [&](std::string_view piece) {
    const bool ok = use_taker ? framer.feed(piece, on_frame, take_whole) : framer.feed(piece, on_frame);
    if (!ok) std::fprintf(stderr, "heartbeat_cost_bench: framing error: %s\n", framer.error().c_str());
    return ok;
  };
  std::string stream;  // READ_BYTES > 0: what has not been read yet
  for (long i = 0; i < events; ++i) {
    set_rv(heartbeat, 2000000000ULL + static_cast<std::uint64_t>(i));
    if (read_bytes == 0) {
      if (!feed(heartbeat.text)) return 1;
      continue;
    }
    stream += heartbeat.text;
    std::size_t at = 0;
    for (; stream.size() - at >= static_cast<std::size_t>(read_bytes); at += static_cast<std::size_t>(read_bytes))
      if (!feed(std::string_view(stream).substr(at, static_cast<std::size_t>(read_bytes)))) return 1;
    stream.erase(0, at);
  }
  if (!stream.empty() && !feed(stream)) return 1;
  const double elapsed_ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();

  const k8s::NodeInfo* node = reconciler.view().find(specs[specs.size() / 2].name);
  if (relevant_errors != 0 || delivered != static_cast<std::uint64_t>(events) || !node ||
      (events > 0 && node->resource_version != std::to_string(2000000000ULL + events - 1)) ||
      reconciler.passes() != passes_before) {
    std::fprintf(stderr, "heartbeat_cost_bench: the events did not go through as heartbeats (%llu errors)\n",
                 static_cast<unsigned long long>(relevant_errors));
    return 1;
  }
  std::printf("heartbeat_cost_bench: %ld events of %zu bytes, view of %ld nodes: %.0f ns per event (wall clock)\n",
              events, heartbeat.text.size(), view_nodes, events ? elapsed_ns / events : 0.0);
  std::printf("FIGURE heartbeat_event_bytes=%zu\n", heartbeat.text.size());
  return 0;
}
