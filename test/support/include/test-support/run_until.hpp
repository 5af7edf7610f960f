#pragma once

// Driving a test-owned io_context from the test thread, always with a deadline,
// so that a hung test fails instead of hanging.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <stdexcept>

namespace hostgw::test_support {

// Runs `io` until `done()` holds or `timeout` has passed; true if it holds.
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs `coroutine` on `io` and returns its result; throws std::runtime_error if
// it has not finished within `timeout` (and rethrows what it threw).
template <typename T>
T run_coroutine(boost::asio::io_context& io, boost::asio::awaitable<T> coroutine,
                std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  auto future = boost::asio::co_spawn(io, std::move(coroutine), boost::asio::use_future);
  const bool finished = run_until(
      io, [&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }, timeout);
  if (!finished) throw std::runtime_error("coroutine did not finish in time");
  return future.get();
}

// Runs every handler that is ready now (fakes that complete at once), and no more.
inline void settle(boost::asio::io_context& io) {
  io.restart();
  while (io.poll() > 0) {
  }
}

// Runs `io` for `duration` (timers included).
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  io.restart();
  io.run_for(duration);
}

}  // namespace hostgw::test_support
