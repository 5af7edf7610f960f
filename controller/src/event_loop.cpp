#include "controller/event_loop.hpp"

namespace hostgw::controller {

EventLoop::Ended EventLoop::run_until_done(const std::function<std::optional<Clock::time_point>()>& stop_requested,
                                           std::chrono::milliseconds cut_off) {
  while (!stopped()) {
    const auto since = stop_requested();
    if (!since) {
      // No stop yet: block until a handler runs (no idle wake-ups), then look again.
      run_one();
      continue;
    }
    const auto left = *since + cut_off - Clock::now();
    if (left <= Clock::duration::zero()) return Ended::cut_off;
    run_for(left);
  }
  return Ended::done;
}

}  // namespace hostgw::controller
