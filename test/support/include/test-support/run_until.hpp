#pragma once

// Driving an io_context from a test thread, always with a deadline.

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace hostgw::test_support {

// Runs `io` until `done()` holds or `timeout` has passed; true if it holds.
template <typename Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
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
