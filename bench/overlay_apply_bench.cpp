// overlay_apply_bench: the cross-subnet set-up of one node with N VXLAN peers,
// NetlinkOverlayTable + NetlinkRouteTable against `ip -batch` + `bridge -batch`.
//
// In a network namespace of its own (created here, deleted at exit, also on
// failure), one veth with 100.64.0.1/16; N peers at 100.64.x.y whose podCIDRs
// are the /26s of 10.244.0.0/16. One timed run, from no device at all:
//   - ours:  ensure_device (create hostgw.vxlan, VNI 4097, port 4790, MTU,
//            MAC, VTEP /32, up) + one OverlayTable::apply of N neighbour and
//            N FDB entries + one RouteTable::apply of N onlink routes;
//   - theirs: `ip -n NS -batch` (link add, addr add, N neigh replace, N route
//            add) then `bridge -n NS -batch` (N fdb replace): the same state.
// Both are checked (our dumps: N neighbours, N FDB entries, N routes) and the
// device deleted after every run. Who goes first alternates; several
// repetitions give median/min/max and the ratio. Also timed: ensure_device
// and the apply with nothing to change (the steady state), and the dump.
// Needs root. Usage: overlay_apply_bench [repetitions=7] [peers=1000]

#include "bench_stats.hpp"
#include <net/if.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "routing/netlink_overlay_table.hpp"
#include "routing/netlink_route_table.hpp"
#include "test-support/netns_fixture.hpp"

namespace {

namespace asio = boost::asio;
using namespace hostgw::routing;
using hostgw::bench::Clock;

using hostgw::bench::seconds_since;
using hostgw::bench::Stats;
using hostgw::bench::stats;

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> work) {
  auto future = asio::co_spawn(io, std::move(work), asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

// Runs a program directly (no shell); returns its exit status.
int spawn(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Peer {
  IpAddress underlay;
  IpPrefix pod_cidr;
  MacAddress mac;
};

int bench(int repetitions, int count) {
  hostgw::testing::ScopedNetns netns;
  netns.must("link add v0 type veth peer name v1");
  netns.must("link set v0 up");
  netns.must("link set v1 up");
  netns.must("addr add 100.64.0.1/16 dev v0");
  const std::uint32_t v0 = if_nametoindex("v0");
  if (v0 == 0) throw std::runtime_error("v0 has no index in the bench namespace");

  const std::string device(kVxlanDeviceName);
  VxlanDeviceSpec spec;
  spec.vni = 4097;
  spec.port = 4790;
  spec.local = IpAddress::parse("100.64.0.1");
  spec.underlay_oif = v0;
  spec.mtu = 1500 - kVxlanOverheadV4;
  spec.mac = *vtep_mac(spec.local);
  spec.address = IpPrefix::parse("10.244.255.192/32");  // this node's podCIDR 10.244.255.192/26

  std::vector<Peer> peers;
  for (int i = 0; i < count; ++i) {
    const int n = i + 2;  // 100.64.0.2 ...
    IpAddress underlay =
        IpAddress::v4({100, 64, static_cast<std::uint8_t>(n / 250), static_cast<std::uint8_t>(n % 250 + 2)});
    IpPrefix cidr(IpAddress::v4({10, 244, static_cast<std::uint8_t>(i / 4), static_cast<std::uint8_t>((i % 4) * 64)}),
                  26);
    peers.push_back({underlay, cidr, *vtep_mac(underlay)});
  }

  const std::string ip_file = "/tmp/khg-overlay-bench-ip-" + std::to_string(getpid()) + ".batch";
  const std::string bridge_file = "/tmp/khg-overlay-bench-bridge-" + std::to_string(getpid()) + ".batch";
  {
    std::ofstream ip_out(ip_file), bridge_out(bridge_file);
    ip_out << "link add " << device << " mtu " << spec.mtu << " address " << spec.mac.to_string() << " type vxlan id "
           << spec.vni << " dstport " << spec.port << " local " << spec.local.to_string() << " dev v0 nolearning\n";
    ip_out << "addr add " << spec.address.to_string() << " dev " << device << "\n";
    ip_out << "link set " << device << " up\n";
    for (const Peer& peer : peers) {
      ip_out << "neigh replace " << vtep_address(peer.pod_cidr).to_string() << " lladdr " << peer.mac.to_string()
             << " dev " << device << " nud permanent\n";
      ip_out << "route add " << peer.pod_cidr.to_string() << " via " << vtep_address(peer.pod_cidr).to_string()
             << " dev " << device << " onlink proto 44\n";
      bridge_out << "fdb replace " << peer.mac.to_string() << " dev " << device << " dst " << peer.underlay.to_string()
                 << " self permanent\n";
    }
  }
  struct RemoveFiles {
    std::string a, b;
    ~RemoveFiles() {
      std::remove(a.c_str());
      std::remove(b.c_str());
    }
  } remove_files{ip_file, bridge_file};

  asio::io_context io;
  NetlinkOverlayTable overlay(io.get_executor());
  NetlinkRouteTable routes(io.get_executor());

  std::vector<OverlayChange> entries;
  entries.reserve(2 * peers.size());
  for (const Peer& peer : peers) {
    entries.push_back({ChangeKind::replace, NeighbourEntry{vtep_address(peer.pod_cidr), peer.mac}});
    entries.push_back({ChangeKind::replace, FdbEntry{peer.mac, peer.underlay}});
  }
  auto route_changes = [&](std::uint32_t index) {
    std::vector<RouteChange> changes;
    changes.reserve(peers.size());
    for (const Peer& peer : peers) {
      Route route;
      route.destination = peer.pod_cidr;
      route.gateway = vtep_address(peer.pod_cidr);
      route.oif = index;
      route.onlink = true;
      changes.push_back({ChangeKind::add, route});
    }
    return changes;
  };
  auto check_all = [&](const char* who) {
    auto index = run(io, overlay.device_index(device));
    if (!index) throw std::runtime_error(std::string(who) + ": no device");
    auto dumped = run(io, overlay.dump(*index));
    if (!dumped) throw std::runtime_error(std::string(who) + ": " + dumped.error().message);
    auto installed = run(io, routes.dump_routes(kMainTable, kDefaultRouteProtocol));
    if (!installed) throw std::runtime_error(std::string(who) + ": " + installed.error().message);
    if (dumped->neighbours.size() != peers.size() || dumped->fdb.size() != peers.size() ||
        installed->size() != peers.size()) {
      throw std::runtime_error(std::string(who) + ": expected " + std::to_string(peers.size()) + " of each, found " +
                               std::to_string(dumped->neighbours.size()) + " neighbours, " +
                               std::to_string(dumped->fdb.size()) + " FDB entries, " +
                               std::to_string(installed->size()) + " routes");
    }
  };
  auto delete_device = [&] {
    if (auto deleted = run(io, overlay.delete_device(device)); !deleted) {
      throw std::runtime_error(deleted.error().message);
    }
    if (auto left = run(io, routes.dump_routes(kMainTable, kDefaultRouteProtocol)); !left || !left->empty()) {
      throw std::runtime_error("routes left after the device was deleted");
    }
  };
  auto fail_on = [](const auto& results, const char* what) {
    for (const auto& result : results) {
      if (!result.ok()) {
        throw std::runtime_error(std::string(what) + ": " + std::strerror(result.error) + " " + result.message);
      }
    }
  };

  double ensure_s = 0, entries_s = 0, routes_s = 0;
  auto ours = [&] {
    auto start = Clock::now();
    auto ensured = run(io, overlay.ensure_device(spec));
    ensure_s = seconds_since(start);
    if (!ensured) throw std::runtime_error("ensure_device: " + ensured.error().message);
    auto mark = Clock::now();
    fail_on(run(io, overlay.apply(ensured->index, entries)), "overlay apply");
    entries_s = seconds_since(mark);
    mark = Clock::now();
    fail_on(run(io, routes.apply(route_changes(ensured->index))), "route apply");
    routes_s = seconds_since(mark);
    return seconds_since(start);
  };
  auto theirs = [&] {
    auto start = Clock::now();
    if (int status = spawn({"ip", "-n", netns.name(), "-batch", ip_file}); status != 0) {
      throw std::runtime_error("ip -batch exited with " + std::to_string(status));
    }
    if (int status = spawn({"bridge", "-n", netns.name(), "-batch", bridge_file}); status != 0) {
      throw std::runtime_error("bridge -batch exited with " + std::to_string(status));
    }
    return seconds_since(start);
  };

  std::vector<double> ours_total, ours_ensure, ours_entries, ours_routes, ip_total;
  for (int rep = 0; rep < repetitions; ++rep) {
    for (int turn = 0; turn < 2; ++turn) {
      const bool ours_turn = (turn == 0) == (rep % 2 == 0);
      if (ours_turn) {
        ours_total.push_back(ours());
        ours_ensure.push_back(ensure_s);
        ours_entries.push_back(entries_s);
        ours_routes.push_back(routes_s);
        check_all("ours");
      } else {
        ip_total.push_back(theirs());
        check_all("ip/bridge -batch");
      }
      delete_device();
    }
  }

  // Steady state: everything in place; ensure_device finds nothing to fix,
  // the same entries again change nothing; a dump of both tables.
  ours();
  std::vector<double> noop_ensure, noop_apply, dump_s;
  for (int rep = 0; rep < repetitions; ++rep) {
    auto start = Clock::now();
    auto ensured = run(io, overlay.ensure_device(spec));
    noop_ensure.push_back(seconds_since(start));
    if (!ensured) throw std::runtime_error("steady-state ensure_device: " + ensured.error().message);
    if (ensured->changed) throw std::runtime_error("steady-state ensure_device changed something");
    start = Clock::now();
    fail_on(run(io, overlay.apply(ensured->index, entries)), "steady-state apply");
    noop_apply.push_back(seconds_since(start));
    start = Clock::now();
    auto dumped = run(io, overlay.dump(ensured->index));
    dump_s.push_back(seconds_since(start));
    if (!dumped) throw std::runtime_error("steady-state dump: " + dumped.error().message);
    if (dumped->neighbours.size() != peers.size()) throw std::runtime_error("steady-state dump is short");
  }
  delete_device();

  const Stats ot = stats(ours_total), oe = stats(ours_ensure), on = stats(ours_entries), orr = stats(ours_routes),
              it = stats(ip_total), ne = stats(noop_ensure), na = stats(noop_apply), ds = stats(dump_s);
  std::printf(
      "overlay_apply_bench: %d peers (%d neighbour + %d FDB entries + %d onlink routes + the device), "
      "%d repetitions\n",
      count, count, count, count, repetitions);
  std::printf("%-44s %10s %10s %10s\n", "", "median s", "min s", "max s");
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "ours: ensure_device + apply, total", ot.median, ot.min, ot.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "  ensure_device (create)", oe.median, oe.min, oe.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "  overlay apply (neighbours + FDB)", on.median, on.min, on.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "  route apply (onlink routes)", orr.median, orr.min, orr.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "ip -batch + bridge -batch, total", it.median, it.min, it.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "steady state: ensure_device (no change)", ne.median, ne.min, ne.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "steady state: overlay apply (same entries)", na.median, na.min, na.max);
  std::printf("%-44s %10.4f %10.4f %10.4f\n", "overlay dump", ds.median, ds.min, ds.max);
  std::printf("ratio ours/ip-batch (median): %.2f\n", ot.median / it.median);
  std::printf("FIGURE overlay_peers=%d\n", count);
  std::printf("FIGURE overlay_apply_ms=%.2f\n", ot.median * 1000);
  std::printf("FIGURE overlay_apply_min_ms=%.2f\n", ot.min * 1000);
  std::printf("FIGURE overlay_apply_max_ms=%.2f\n", ot.max * 1000);
  std::printf("FIGURE overlay_ip_batch_ms=%.2f\n", it.median * 1000);
  std::printf("FIGURE overlay_ratio=%.2f\n", ot.median / it.median);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::cerr << "overlay_apply_bench needs root (it creates a network namespace)\n";
    return 2;
  }
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 7;
  const int count = argc > 2 ? std::atoi(argv[2]) : 1000;
  if (repetitions < 1 || count < 1 || count > 1020) {
    std::cerr << "usage: overlay_apply_bench [repetitions >= 1] [peers 1..1020]\n";
    return 2;
  }
  try {
    return bench(repetitions, count);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
