#include "k8s-client/backoff.hpp"

#include <algorithm>

namespace hostgw::k8s {

Backoff::Backoff(BackoffOptions options, std::uint64_t seed) : options_(options), random_(seed) {
  if (options_.initial.count() <= 0) options_.initial = std::chrono::milliseconds(1);
  if (options_.max < options_.initial) options_.max = options_.initial;
}

std::chrono::milliseconds Backoff::current_base(Clock::time_point now) const {
  if (base_.count() == 0 || now - last_failure_ > options_.reset_after) return options_.initial;
  return std::min(base_ * 2, options_.max);
}

std::chrono::milliseconds Backoff::next_delay(Clock::time_point now) {
  base_ = current_base(now);
  last_failure_ = now;
  std::uniform_int_distribution<std::int64_t> jitter(base_.count(), 2 * base_.count());
  return std::chrono::milliseconds(jitter(random_));
}

}  // namespace hostgw::k8s
