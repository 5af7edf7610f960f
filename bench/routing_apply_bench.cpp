// routing_apply_bench: NetlinkRouteTable against `ip -batch`, side by side.
//
// In a network namespace of its own (created here, deleted at exit, also on
// failure), with 5000 next hops in 100.64.0.0/16 on one veth and 5000
// destinations 10.244.x.y/30:
//   - add 5000 routes, delete 5000 routes: ours (one apply() batch) and
//     `ip -n NS -batch FILE` doing the same, alternating who goes first, for
//     several repetitions; medians, min/max and the ratio ours/ip-batch;
//   - dump of the 5000 owned routes: time and heap allocations (counted by the
//     replaced global operator new below).
// Needs root. Usage: routing_apply_bench [repetitions=7] [routes=5000]

#include "bench_stats.hpp"
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "routing/netlink_route_table.hpp"
#include "test-support/netns_fixture.hpp"

// --- allocation counting ---------------------------------------------------

namespace {
std::atomic<std::uint64_t> g_allocations{0};
std::atomic<std::uint64_t> g_allocated_bytes{0};

void* counted_allocation(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* counted_aligned_allocation(std::size_t size, std::align_val_t alignment) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_allocated_bytes.fetch_add(size, std::memory_order_relaxed);
  const auto align = static_cast<std::size_t>(alignment);
  if (void* p = std::aligned_alloc(align, (size + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) {
  return counted_allocation(size);
}
void* operator new[](std::size_t size) {
  return counted_allocation(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void* operator new(std::size_t size, std::align_val_t alignment) {
  return counted_aligned_allocation(size, alignment);
}
void* operator new[](std::size_t size, std::align_val_t alignment) {
  return counted_aligned_allocation(size, alignment);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

// --- the benchmark ---------------------------------------------------------

namespace {

namespace asio = boost::asio;
using hostgw::routing::ChangeKind;
using hostgw::routing::IpAddress;
using hostgw::routing::IpPrefix;
using hostgw::routing::NetlinkRouteTable;
using hostgw::routing::Route;
using hostgw::routing::RouteChange;
using hostgw::bench::Clock;

using hostgw::bench::seconds_since;
using hostgw::bench::Stats;
using hostgw::bench::stats;

std::string destination(int i) {
  return "10.244." + std::to_string(i / 64) + "." + std::to_string((i % 64) * 4) + "/30";
}
std::string next_hop(int i) {
  return "100.64." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2);
}

// Runs `ip -n NS -batch FILE` directly (no shell); returns its exit status.
int run_ip_batch(const std::string& netns, const std::string& file) {
  std::vector<std::string> args = {"ip", "-n", netns, "-batch", file};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> work) {
  auto future = asio::co_spawn(io, std::move(work), asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

int bench(int repetitions, int count) {
  hostgw::testing::ScopedNetns netns;
  netns.must("link add v0 type veth peer name v1");
  netns.must("link set v0 up");
  netns.must("link set v1 up");
  netns.must("addr add 100.64.0.1/16 dev v0");

  asio::io_context io;
  NetlinkRouteTable table(io.get_executor());

  std::vector<RouteChange> adds, removes;
  const std::string add_file = "/tmp/khg-routing-bench-add-" + std::to_string(getpid()) + ".batch";
  const std::string del_file = "/tmp/khg-routing-bench-del-" + std::to_string(getpid()) + ".batch";
  {
    std::ofstream add_out(add_file), del_out(del_file);
    for (int i = 0; i < count; ++i) {
      Route r;
      r.destination = IpPrefix::parse(destination(i));
      r.gateway = IpAddress::parse(next_hop(i));
      adds.push_back({ChangeKind::add, r});
      removes.push_back({ChangeKind::remove, r});
      add_out << "route add " << destination(i) << " via " << next_hop(i) << " proto 44\n";
      del_out << "route del " << destination(i) << " proto 44\n";
    }
  }
  struct RemoveFiles {
    std::string a, b;
    ~RemoveFiles() {
      std::remove(a.c_str());
      std::remove(b.c_str());
    }
  } remove_files{add_file, del_file};

  auto count_owned = [&]() -> std::size_t {
    auto result = run(io, table.dump_routes(hostgw::routing::kMainTable, hostgw::routing::kDefaultRouteProtocol));
    return result ? result->size() : static_cast<std::size_t>(-1);
  };
  auto ours = [&](const std::vector<RouteChange>& changes) {
    auto start = Clock::now();
    auto results = run(io, table.apply(changes));
    double elapsed = seconds_since(start);
    for (const auto& result : results) {
      if (!result.ok()) {
        // Thrown, not exit(): the namespace must be deleted on the way out.
        throw std::runtime_error(std::string(to_string(result.change.kind)) + " " + result.change.route.to_string() +
                                 ": " + std::strerror(result.error) + " " + result.message);
      }
    }
    return elapsed;
  };
  auto theirs = [&](const std::string& file) {
    auto start = Clock::now();
    int status = run_ip_batch(netns.name(), file);
    double elapsed = seconds_since(start);
    if (status != 0) {
      throw std::runtime_error("ip -batch " + file + " exited with " + std::to_string(status));
    }
    return elapsed;
  };

  std::vector<double> ours_add, ours_del, ip_add, ip_del;
  for (int rep = 0; rep < repetitions; ++rep) {
    // Alternate who goes first so neither always meets a warm (or cold) kernel.
    for (int turn = 0; turn < 2; ++turn) {
      const bool ours_turn = (turn == 0) == (rep % 2 == 0);
      if (ours_turn) {
        ours_add.push_back(ours(adds));
        if (count_owned() != static_cast<std::size_t>(count)) {
          std::cerr << "error: after our add the table does not hold " << count << " routes\n";
          return 1;
        }
        ours_del.push_back(ours(removes));
      } else {
        ip_add.push_back(theirs(add_file));
        if (count_owned() != static_cast<std::size_t>(count)) {
          std::cerr << "error: after ip -batch add the table does not hold " << count << " routes\n";
          return 1;
        }
        ip_del.push_back(theirs(del_file));
      }
      if (count_owned() != 0) {
        std::cerr << "error: routes left after delete\n";
        return 1;
      }
    }
  }

  // Dump: 5000 owned routes installed, plus a few foreign ones to filter out.
  ours(adds);
  netns.must("route add 10.244.255.0/24 via 100.64.0.9 proto static");
  std::vector<double> dump_times;
  std::uint64_t dump_allocations = 0, dump_bytes = 0;
  for (int rep = 0; rep < repetitions; ++rep) {
    const std::uint64_t allocations_before = g_allocations.load();
    const std::uint64_t bytes_before = g_allocated_bytes.load();
    auto start = Clock::now();
    auto result = run(io, table.dump_routes(hostgw::routing::kMainTable, hostgw::routing::kDefaultRouteProtocol));
    dump_times.push_back(seconds_since(start));
    dump_allocations = g_allocations.load() - allocations_before;
    dump_bytes = g_allocated_bytes.load() - bytes_before;
    if (!result) {
      std::cerr << "error: " << result.error().message << "\n";
      return 1;
    }
    if (result->size() != static_cast<std::size_t>(count)) {
      std::cerr << "error: dump returned " << result->size() << " routes\n";
      return 1;
    }
  }
  ours(removes);

  const Stats oa = stats(ours_add), od = stats(ours_del), ia = stats(ip_add), id = stats(ip_del),
              dt = stats(dump_times);
  std::printf("routing_apply_bench: %d routes, %d repetitions, window %zu messages, strict dump filter %s\n", count,
              repetitions, table.window(), table.strict_checking() ? "yes" : "no");
  std::printf("%-22s %10s %10s %10s\n", "", "median s", "min s", "max s");
  std::printf("%-22s %10.4f %10.4f %10.4f\n", "add    ours", oa.median, oa.min, oa.max);
  std::printf("%-22s %10.4f %10.4f %10.4f\n", "add    ip -batch", ia.median, ia.min, ia.max);
  std::printf("%-22s %10.4f %10.4f %10.4f\n", "delete ours", od.median, od.min, od.max);
  std::printf("%-22s %10.4f %10.4f %10.4f\n", "delete ip -batch", id.median, id.min, id.max);
  std::printf("%-22s %10.4f %10.4f %10.4f\n", "dump   ours", dt.median, dt.min, dt.max);
  std::printf("ratio ours/ip-batch (median): add %.2f, delete %.2f (target <= 1.0)\n", oa.median / ia.median,
              od.median / id.median);
  std::printf("dump of %d owned routes: %llu allocations, %llu bytes (%.2f allocations per route)\n", count,
              static_cast<unsigned long long>(dump_allocations), static_cast<unsigned long long>(dump_bytes),
              static_cast<double>(dump_allocations) / count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::cerr << "routing_apply_bench needs root (it creates a network namespace)\n";
    return 2;
  }
  const int repetitions = argc > 1 ? std::atoi(argv[1]) : 7;
  const int count = argc > 2 ? std::atoi(argv[2]) : 5000;
  if (repetitions < 1 || count < 1 || count > 16384) {
    std::cerr << "usage: routing_apply_bench [repetitions >= 1] [routes 1..16384]\n";
    return 2;
  }
  try {
    return bench(repetitions, count);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
