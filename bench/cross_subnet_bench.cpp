// cross_subnet_bench: the Reconciler's first pass for N peers on another
// subnet (--cross-subnet=vxlan: the device, N neighbour + N FDB entries, N
// onlink routes) against N peers on the same subnet (N direct routes), with
// the real netlink tables.
//
// Each run gets a network namespace of its own (created here, deleted at the
// end of the run, also on failure) holding one veth link "eth0" (its peer in
// the same namespace) with
// 100.64.0.1: /16 for the direct case (every peer 100.64.4.0+ is connected),
// /24 for the VXLAN case (none is). Peers' podCIDRs are 10.244.x.y/28. Nothing
// leaves the namespace: the VXLAN device's peers do not exist and nothing is sent.
//
// Figures: time from the complete node list to the end of the first pass
// (read, compute, device, entries, routes), median over the runs, and the
// following no-op pass. Needs root.
//   cross_subnet_bench [peers=1000] [runs=5]

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/log.hpp"
#include "controller/reconciler.hpp"
#include "routing/netlink_overlay_table.hpp"
#include "routing/netlink_route_table.hpp"
#include "test-support/netns_fixture.hpp"

namespace {

namespace asio = boost::asio;
using namespace hostgw;
using Clock = std::chrono::steady_clock;

struct RunResult {
  double first_pass_ms = 0;
  double noop_pass_ms = 0;
  std::size_t routes = 0;
  std::size_t neighbours = 0;
  std::size_t fdb = 0;
};

std::vector<k8s::NodeInfo> cluster(int peers) {
  std::vector<k8s::NodeInfo> nodes;
  k8s::NodeInfo self;
  self.name = "node-self";
  self.resource_version = "1";
  self.pod_cidrs = {"10.244.255.240/28"};
  self.internal_ips = {"100.64.0.1"};
  nodes.push_back(self);
  for (int i = 0; i < peers; ++i) {
    k8s::NodeInfo node;
    node.name = k8s::NodeName("node-" + std::to_string(i));
    node.resource_version = "1";
    node.pod_cidrs = {"10.244." + std::to_string(i / 16) + "." + std::to_string((i % 16) * 16) + "/28"};
    node.internal_ips = {"100.64." + std::to_string(4 + i / 250) + "." + std::to_string(1 + i % 250)};
    nodes.push_back(std::move(node));
  }
  return nodes;
}

template <typename T>
T run_coroutine(asio::io_context& io, asio::awaitable<T> task) {
  auto future = asio::co_spawn(io, std::move(task), asio::use_future);
  io.restart();
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
  return future.get();
}

RunResult one_run(bool vxlan, int peers) {
  testing::ScopedNetns ns;
  ns.must("link add eth0 type veth peer name eth0p");
  ns.must("link set eth0p up");
  ns.must(std::string("addr add 100.64.0.1/") + (vxlan ? "24" : "16") + " dev eth0");
  ns.must("link set eth0 up");

  asio::io_context io(1);
  routing::NetlinkRouteTable table(io.get_executor());
  routing::NetlinkOverlayTable overlay(io.get_executor());
  controller::MetricsRegistry registry;
  controller::ControllerMetrics metrics(registry);
  controller::ReconcilerOptions options;
  options.node_name = "node-self";
  options.resync_period = std::chrono::hours(1);
  options.min_pass_interval = std::chrono::milliseconds(0);
  options.routes.cross_subnet = vxlan ? controller::CrossSubnet::vxlan : controller::CrossSubnet::skip;
  controller::Reconciler reconciler(io.get_executor(), table, options, metrics, &overlay);
  asio::co_spawn(io, reconciler.run(), asio::detached);

  k8s::NodeEvent list;
  list.type = k8s::NodeEvent::Type::resynced;
  list.nodes = cluster(peers);
  RunResult result;
  const auto started = Clock::now();
  reconciler.on_node_event(list);
  io.restart();
  while (!reconciler.ready()) io.run_one();
  result.first_pass_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();

  const auto passes = reconciler.passes();
  const auto noop_started = Clock::now();
  reconciler.request_pass("bench");
  while (reconciler.passes() == passes || reconciler.pass_started()) io.run_one();
  result.noop_pass_ms = std::chrono::duration<double, std::milli>(Clock::now() - noop_started).count();

  const auto installed = run_coroutine(io, table.dump_routes(routing::kMainTable, routing::kDefaultRouteProtocol));
  if (!installed) throw std::runtime_error(installed.error().message);
  result.routes = installed->size();
  if (vxlan) {
    auto index = run_coroutine(io, overlay.device_index(std::string(routing::kVxlanDeviceName)));
    if (!index) throw std::runtime_error("no hostgw.vxlan after the first pass");
    auto dump = run_coroutine(io, overlay.dump(*index));
    if (!dump) throw std::runtime_error(dump.error().message);
    result.neighbours = dump->neighbours.size();
    result.fdb = dump->fdb.size();
  }
  reconciler.stop();
  io.restart();
  io.poll();
  return result;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int peers = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  if (peers < 1 || peers > 4000 || runs < 1) {
    std::fprintf(stderr, "usage: cross_subnet_bench [peers 1-4000] [runs]\n");
    return 2;
  }
  if (geteuid() != 0) {
    std::printf("cross_subnet_bench: needs root (it creates network namespaces); skipped\n");
    return 77;
  }
  log::set_sink([](std::string_view) {});  // one log line per route and entry: not part of the figure
  try {
    for (bool vxlan : {false, true}) {
      std::vector<double> first, noop;
      RunResult last;
      for (int run = 0; run < runs; ++run) {
        last = one_run(vxlan, peers);
        first.push_back(last.first_pass_ms);
        noop.push_back(last.noop_pass_ms);
      }
      const char* name = vxlan ? "vxlan" : "direct";
      std::printf("%s: %d peers, %d runs: first pass %.1f ms median (min %.1f, max %.1f), no-op pass %.2f ms; "
                  "routes %zu, neighbours %zu, fdb %zu\n",
                  name, peers, runs, median(first), *std::min_element(first.begin(), first.end()),
                  *std::max_element(first.begin(), first.end()), median(noop), last.routes, last.neighbours, last.fdb);
      if (last.routes != static_cast<std::size_t>(peers) ||
          (vxlan && (last.neighbours != static_cast<std::size_t>(peers) || last.fdb != static_cast<std::size_t>(peers)))) {
        std::fprintf(stderr, "cross_subnet_bench: %s: not every peer was programmed\n", name);
        return 1;
      }
      std::printf("FIGURE %s_first_pass_%d_peers_ms=%.1f ms\n", name, peers, median(first));
      std::printf("FIGURE %s_noop_pass_%d_peers_ms=%.2f ms\n", name, peers, median(noop));
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cross_subnet_bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
