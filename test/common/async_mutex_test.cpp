#include "common/async_mutex.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace hostgw::common {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Holds the mutex across a suspension, recording when it enters and leaves.
asio::awaitable<void> hold(AsyncMutex& mutex, std::vector<std::string>& trace, std::string name) {
  AsyncMutex::Guard guard = co_await mutex.lock();
  trace.push_back(name + " in");
  asio::steady_timer pause(co_await asio::this_coro::executor, 5ms);
  co_await pause.async_wait(asio::use_awaitable);
  trace.push_back(name + " out");
}

TEST(AsyncMutexTest, OneHolderAtATime) {
  asio::io_context io;
  AsyncMutex mutex(io.get_executor());
  std::vector<std::string> trace;
  for (const char* name : {"a", "b", "c"}) asio::co_spawn(io, hold(mutex, trace, name), asio::detached);
  io.run();
  ASSERT_EQ(trace.size(), 6u);
  for (std::size_t i = 0; i < trace.size(); i += 2) {
    // Every "in" is followed by the same holder's "out": no two inside at once.
    EXPECT_EQ(trace[i].substr(0, 1), trace[i + 1].substr(0, 1));
    EXPECT_EQ(trace[i].substr(2), "in");
    EXPECT_EQ(trace[i + 1].substr(2), "out");
  }
  EXPECT_FALSE(mutex.locked());
}

TEST(AsyncMutexTest, ReleaseFreesItForTheNextOne) {
  asio::io_context io;
  AsyncMutex mutex(io.get_executor());
  bool second = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        AsyncMutex::Guard guard = co_await mutex.lock();
        EXPECT_TRUE(mutex.locked());
        EXPECT_TRUE(guard.holds());
        guard.release();
        EXPECT_FALSE(mutex.locked());
        EXPECT_FALSE(guard.holds());
        AsyncMutex::Guard again = co_await mutex.lock();
        second = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(second);
  EXPECT_FALSE(mutex.locked());
}

// The shutdown order of the daemon: the object owning the mutex goes first,
// the io_context (and with it the suspended holder's frame) after. The
// holder's guard must not touch the destroyed mutex.
TEST(AsyncMutexTest, AGuardMayOutliveItsMutex) {
  auto io = std::make_unique<asio::io_context>();
  auto mutex = std::make_unique<AsyncMutex>(io->get_executor());
  bool holding = false;
  asio::co_spawn(
      *io,
      [&]() -> asio::awaitable<void> {
        AsyncMutex::Guard guard = co_await mutex->lock();
        holding = true;
        asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(1));
        co_await forever.async_wait(asio::use_awaitable);
      },
      asio::detached);
  io->poll();  // runs it until it waits on the timer (no wall-clock bound: sanitizers are slow)
  ASSERT_TRUE(holding);
  mutex.reset();
  io.reset();  // destroys the suspended frame and its guard (ASan would see a use after free)
  SUCCEED();
}

TEST(AsyncMutexTest, WaitersResumeWithAnErrorWhenTheMutexGoes) {
  asio::io_context io;
  auto mutex = std::make_unique<AsyncMutex>(io.get_executor());
  std::string waiter_saw;
  // The holder keeps the lock until the test cancels this timer.
  asio::steady_timer until_cancelled(io, asio::steady_timer::time_point::max());
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        AsyncMutex::Guard guard = co_await mutex->lock();
        co_await until_cancelled.async_wait(asio::as_tuple(asio::use_awaitable));
        guard.release();  // the mutex is gone by now: a no-op
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          AsyncMutex::Guard guard = co_await mutex->lock();
          waiter_saw = "the lock";
        } catch (const boost::system::system_error& error) {
          waiter_saw = error.code() == asio::error::operation_aborted ? "aborted" : error.what();
        }
      },
      asio::detached);
  // Both run until they wait: the first holds the lock, the second waits for
  // it. (A wall-clock bound here let a slow sanitized run destroy the mutex
  // before the second had called lock().)
  io.poll();
  ASSERT_TRUE(mutex->locked());
  ASSERT_TRUE(waiter_saw.empty());
  mutex.reset();
  until_cancelled.cancel();
  io.run();
  EXPECT_EQ(waiter_saw, "aborted");
}

}  // namespace
}  // namespace hostgw::common
