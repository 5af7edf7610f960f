#include "controller/event_loop.hpp"

#include <algorithm>

namespace hostgw::controller {

EventLoop::Ended EventLoop::run_until_done(const std::function<std::optional<Clock::time_point>()>& stop_requested,
                                           std::chrono::milliseconds cut_off) {
  const auto slice = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(100), cut_off);
  while (!stopped()) {
    run_for(slice);
    auto since = stop_requested();
    if (since && Clock::now() - *since > cut_off) return Ended::cut_off;
  }
  return Ended::done;
}

}  // namespace hostgw::controller
