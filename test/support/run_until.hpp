#pragma once

// Driving a test-owned io_context: until a condition holds, or until a
// coroutine finishes, each with a deadline so a hung test fails instead of
// hanging.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>

namespace hostgw::testing {

// Runs `io` until `done()` or `limit`; false on timeout.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_for(std::chrono::milliseconds(5));
    io.restart();
  }
  return true;
}

// Runs `coroutine` on `io` and returns its result; throws std::runtime_error
// if it has not finished within `limit` (and rethrows what it threw).
template <typename T>
T run_coroutine(boost::asio::io_context& io, boost::asio::awaitable<T> coroutine,
                std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  auto future = boost::asio::co_spawn(io, std::move(coroutine), boost::asio::use_future);
  const bool finished = run_until(
      io, [&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }, limit);
  if (!finished) throw std::runtime_error("coroutine did not finish in time");
  return future.get();
}

}  // namespace hostgw::testing
