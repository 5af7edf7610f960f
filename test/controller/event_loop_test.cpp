// The shutdown order of run_kube_hostgw(): a task cut off after the grace
// period (a coroutine suspended in a request that ignores cancellation, with
// a guard that touches the object it runs on when it unwinds, as the netlink
// socket's unlock guard does) must unwind while that object still exists.
// Under AddressSanitizer (scripts/test.sh's sanitized stage runs the unit
// label) the wrong order is a heap-use-after-free.

#include "controller/event_loop.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>

namespace hostgw::controller {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// What a request runs on (the socket and its lock).
struct Socket {
  explicit Socket(int& unwound_when_destroyed) : report(unwound_when_destroyed) {}
  ~Socket() { report = unwound; }
  bool locked = false;
  int unwound = 0;
  int& report;
};

// Unlocks the socket when the request's frame goes, however it goes.
struct UnlockGuard {
  Socket* socket;
  ~UnlockGuard() {
    socket->locked = false;
    ++socket->unwound;
  }
};

// A request that never completes and ignores cancellation.
asio::awaitable<void> stuck_request(Socket& socket) {
  socket.locked = true;
  UnlockGuard guard{&socket};
  asio::steady_timer never(co_await asio::this_coro::executor, std::chrono::hours(1));
  co_await never.async_wait(asio::use_awaitable);
}

TEST(EventLoopTest, RequestCutOffAtShutdownUnwindsWhileItsSocketStillExists) {
  int unwound_when_destroyed = -1;
  {
    EventLoop loop;
    auto socket = std::make_unique<Socket>(unwound_when_destroyed);
    EventLoop::PendingFirst pending_first(loop);  // as run_kube_hostgw() declares it
    asio::co_spawn(loop, stuck_request(*socket), asio::detached);
    const auto stop_requested = EventLoop::Clock::now();
    const auto started = EventLoop::Clock::now();
    EXPECT_EQ(loop.run_until_done([&] { return std::optional(stop_requested); }, 50ms), EventLoop::Ended::cut_off);
    EXPECT_LT(EventLoop::Clock::now() - started, 2s);
    EXPECT_TRUE(socket->locked);  // the request is still suspended, holding the lock
    EXPECT_EQ(socket->unwound, 0);
  }
  // The frame unwound (its guard ran once) before the socket was destroyed.
  EXPECT_EQ(unwound_when_destroyed, 1);
}

TEST(EventLoopTest, DestroyPendingRunsTheGuardsAtOnce) {
  int unwound_when_destroyed = -1;
  EventLoop loop;
  Socket socket(unwound_when_destroyed);
  asio::co_spawn(loop, stuck_request(socket), asio::detached);
  loop.run_for(10ms);
  ASSERT_TRUE(socket.locked);
  loop.destroy_pending();
  EXPECT_FALSE(socket.locked);
  EXPECT_EQ(socket.unwound, 1);
}

TEST(EventLoopTest, EndsWhenTheWorkIsDoneWithoutAStop) {
  EventLoop loop;
  bool ran = false;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
        co_await timer.async_wait(asio::use_awaitable);
        ran = true;
      },
      asio::detached);
  EXPECT_EQ(loop.run_until_done([] { return std::optional<EventLoop::Clock::time_point>(); }, 50ms),
            EventLoop::Ended::done);
  EXPECT_TRUE(ran);
}

TEST(EventLoopTest, AStopSetByAHandlerIsSeenAndAnIdleLoopIsNotWokenToLook) {
  EventLoop loop;
  std::optional<EventLoop::Clock::time_point> stop_requested;
  int asked = 0;
  asio::steady_timer stop_timer(loop, 350ms);
  stop_timer.async_wait([&](const boost::system::error_code&) { stop_requested = EventLoop::Clock::now(); });
  // Work that outlives the stop and ignores it: the cut-off ends the run.
  asio::steady_timer long_task(loop, std::chrono::hours(1));
  long_task.async_wait([](const boost::system::error_code&) {});
  const auto started = EventLoop::Clock::now();
  EXPECT_EQ(loop.run_until_done(
                [&] {
                  ++asked;
                  return stop_requested;
                },
                50ms),
            EventLoop::Ended::cut_off);
  EXPECT_GE(EventLoop::Clock::now() - started, 400ms);
  EXPECT_LT(EventLoop::Clock::now() - started, 2s);
  // Asked once at the start, once after the stop's handler, then while the cut-off runs
  // (a loop polling every 100 ms would have asked 3 more times before the stop).
  EXPECT_LE(asked, 3);
}

}  // namespace
}  // namespace hostgw::controller
