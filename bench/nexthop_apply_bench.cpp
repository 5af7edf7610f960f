// nexthop_apply_bench: plain gateway routes against routes through nexthop
// objects (one per peer, RTA_NH_ID), through NetlinkRouteTable, side by side.
//
// In a network namespace of its own (created here, deleted at exit, also on
// failure), next hops in 100.64.0.0/16 on one veth, destinations 10.244.x.y/30,
// for each table size N (default 1000, 5000, 10000), `repetitions` times,
// alternating which variant goes first:
//   - install:  N routes (plain: N route adds; nexthop: N nexthop adds, then
//               N route adds naming them), from an empty table;
//   - +100:     100 more peers next to the N (plain: 100 route adds; nexthop:
//               100 nexthop adds + 100 route adds);
//   - address:  one peer's new address (plain: one route replace; nexthop:
//               one nexthop replace, its route untouched);
//   - read:     what every full pass reads (plain: the owned-route dump;
//               nexthop: the same plus the nexthop dump);
// then the table is emptied (not timed). Medians, min/max and the ratio
// nexthop/plain of the medians.
// Needs root. Usage: nexthop_apply_bench [repetitions=5] [N...]

#include "bench_stats.hpp"
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "routing/netlink_route_table.hpp"
#include "routing/nexthop.hpp"
#include "test-support/netns_fixture.hpp"

namespace {

namespace asio = boost::asio;
using hostgw::routing::ChangeKind;
using hostgw::routing::IpAddress;
using hostgw::routing::IpPrefix;
using hostgw::routing::NetlinkRouteTable;
using hostgw::routing::Nexthop;
using hostgw::routing::NexthopChange;
using hostgw::routing::Route;
using hostgw::routing::RouteChange;
using hostgw::bench::Clock;

constexpr int kMoreAdds = 100;

using hostgw::bench::seconds_since;
using hostgw::bench::Stats;
using hostgw::bench::stats;

IpPrefix destination(int i) {
  return IpPrefix::parse("10.244." + std::to_string(i / 64) + "." + std::to_string((i % 64) * 4) + "/30");
}
IpAddress next_hop(int i) {
  return IpAddress::parse("100.64." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2));
}

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> work) {
  auto future = asio::co_spawn(io, std::move(work), asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

class Bench {
 public:
  Bench(asio::io_context& io, NetlinkRouteTable& table, std::uint32_t oif) : io_(io), table_(table), oif_(oif) {}

  Route plain_route(int i) const {
    Route route;
    route.destination = destination(i);
    route.gateway = next_hop(i);
    route.oif = oif_;
    return route;
  }
  Nexthop nexthop(int i) const {
    return {hostgw::routing::kNexthopIdFirst + static_cast<std::uint32_t>(i), next_hop(i), oif_};
  }
  Route nexthop_route(int i) const {
    Route route;
    route.destination = destination(i);
    route.nexthop_id = nexthop(i).id;
    return route;
  }

  // Plain: routes [from, to). Nexthop: their nexthops, then their routes.
  double add(bool nexthops, int from, int to) {
    std::vector<RouteChange> routes;
    std::vector<NexthopChange> objects;
    for (int i = from; i < to; ++i) {
      if (nexthops) {
        objects.push_back({ChangeKind::add, nexthop(i)});
        routes.push_back({ChangeKind::add, nexthop_route(i)});
      } else {
        routes.push_back({ChangeKind::add, plain_route(i)});
      }
    }
    const auto start = Clock::now();
    if (nexthops) check(run(io_, table_.apply_nexthops(std::move(objects))));
    check(run(io_, table_.apply(std::move(routes))));
    return seconds_since(start);
  }

  // Peer 0's new address: one route replace, or one nexthop replace.
  double move_peer(bool nexthops, int generation) {
    const IpAddress moved = IpAddress::parse("100.64.250." + std::to_string(1 + generation % 2));
    const auto start = Clock::now();
    if (nexthops) {
      Nexthop object = nexthop(0);
      object.gateway = moved;
      check(run(io_, table_.apply_nexthops({{ChangeKind::replace, object}})));
    } else {
      Route route = plain_route(0);
      route.gateway = moved;
      check(run(io_, table_.apply({{ChangeKind::replace, route}})));
    }
    return seconds_since(start);
  }

  // Empties the table: routes (plain) or nexthops (their routes go with them).
  void clear(bool nexthops, int count) {
    if (nexthops) {
      std::vector<NexthopChange> removes;
      for (int i = 0; i < count; ++i) removes.push_back({ChangeKind::remove, nexthop(i)});
      check(run(io_, table_.apply_nexthops(std::move(removes))));
    } else {
      std::vector<RouteChange> removes;
      for (int i = 0; i < count; ++i) removes.push_back({ChangeKind::remove, plain_route(i)});
      check(run(io_, table_.apply(std::move(removes))));
    }
    auto owned = run(io_, table_.dump_routes(hostgw::routing::kMainTable, hostgw::routing::kDefaultRouteProtocol));
    if (!owned || !owned->empty()) throw std::runtime_error("routes left after clearing the table");
  }

  // A full pass's reads: the owned routes, and the nexthops when they are used.
  double read(bool nexthops, std::size_t want) {
    const auto start = Clock::now();
    auto owned = run(io_, table_.dump_routes(hostgw::routing::kMainTable, hostgw::routing::kDefaultRouteProtocol));
    if (nexthops) {
      auto objects = run(io_, table_.dump_nexthops(hostgw::routing::kDefaultRouteProtocol));
      if (!objects || objects->owned.size() != want) throw std::runtime_error("nexthop dump incomplete");
    }
    const double elapsed = seconds_since(start);
    if (!owned || owned->size() != want) throw std::runtime_error("route dump incomplete");
    return elapsed;
  }

  std::size_t owned_routes() {
    auto owned = run(io_, table_.dump_routes(hostgw::routing::kMainTable, hostgw::routing::kDefaultRouteProtocol));
    return owned ? owned->size() : 0;
  }

 private:
  template <typename Result>
  static void check(const std::vector<Result>& results) {
    for (const auto& result : results) {
      // Thrown, not exit(): the namespace must be deleted on the way out.
      if (!result.ok()) throw std::runtime_error(std::string(std::strerror(result.error)) + " " + result.message);
    }
  }

  asio::io_context& io_;
  NetlinkRouteTable& table_;
  std::uint32_t oif_;
};

struct Series {
  std::vector<double> install, more, address, read;
};

int bench(int repetitions, const std::vector<int>& sizes) {
  hostgw::testing::ScopedNetns netns;
  netns.must("link add v0 type veth peer name v1");
  netns.must("link set v0 up");
  netns.must("link set v1 up");
  netns.must("addr add 100.64.0.1/16 dev v0");
  netns.must("nexthop add id 1 via 100.64.0.9 dev v0");  // the probe: this kernel has nexthop objects
  netns.must("nexthop del id 1");

  asio::io_context io;
  NetlinkRouteTable table(io.get_executor());
  const std::uint32_t oif = if_nametoindex("v0");  // the fixture entered the namespace
  Bench b(io, table, oif);

  std::printf("nexthop_apply_bench: %d repetitions, window %zu messages\n", repetitions, table.window());
  std::printf("%-8s %-9s %-8s %10s %10s %10s   %s\n", "N", "step", "variant", "median s", "min s", "max s",
              "nexthop/plain (medians)");
  for (int count : sizes) {
    Series series[2];  // [0] plain, [1] nexthop
    for (int rep = 0; rep < repetitions; ++rep) {
      for (int turn = 0; turn < 2; ++turn) {
        const bool nexthops = (turn == 0) == (rep % 2 == 0);
        Series& s = series[nexthops ? 1 : 0];
        s.install.push_back(b.add(nexthops, 0, count));
        s.more.push_back(b.add(nexthops, count, count + kMoreAdds));
        if (b.owned_routes() != static_cast<std::size_t>(count + kMoreAdds)) {
          throw std::runtime_error("the table does not hold " + std::to_string(count + kMoreAdds) + " routes");
        }
        s.address.push_back(b.move_peer(nexthops, rep));
        s.read.push_back(b.read(nexthops, static_cast<std::size_t>(count + kMoreAdds)));
        b.clear(nexthops, count + kMoreAdds);
      }
    }
    auto line = [&](const char* step, std::vector<double> Series::*values) {
      const Stats plain = stats(series[0].*values), nh = stats(series[1].*values);
      std::printf("%-8d %-9s %-8s %10.5f %10.5f %10.5f\n", count, step, "plain", plain.median, plain.min, plain.max);
      std::printf("%-8d %-9s %-8s %10.5f %10.5f %10.5f   %.2f\n", count, step, "nexthop", nh.median, nh.min, nh.max,
                  nh.median / plain.median);
    };
    line("install", &Series::install);
    line("+100", &Series::more);
    line("address", &Series::address);
    line("read", &Series::read);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::cerr << "nexthop_apply_bench needs root (it creates a network namespace)\n";
    return 2;
  }
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 5;
  std::vector<int> sizes;
  for (int a = 2; a < argc; ++a) sizes.push_back(std::atoi(argv[a]));
  if (sizes.empty()) sizes = {1000, 5000, 10000};
  for (int size : sizes) {
    if (size < 1 || size + kMoreAdds > 16384) {
      std::cerr << "usage: nexthop_apply_bench [repetitions >= 1] [N 1..16284 ...]\n";
      return 2;
    }
  }
  if (repetitions < 1) return 2;
  try {
    return bench(repetitions, sizes);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
