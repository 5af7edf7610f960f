#pragma once

// Backoff: the delay before the next attempt after a failure, as a pure value
// type (the clock and the random source are passed in, so tests are exact).
//
// Jittered exponential backoff like client-go's reflector: the base delay d
// starts at `initial` and doubles after each failure up to `max`; each delay
// is drawn uniformly from [d, 2d]. After `reset_after` without a failure (the
// connection was healthy that long), d starts again from `initial`.

#include <chrono>
#include <cstdint>
#include <random>

namespace hostgw::k8s {

struct BackoffOptions {
  std::chrono::milliseconds initial{800};
  std::chrono::milliseconds max{30000};
  std::chrono::milliseconds reset_after{120000};
};

class Backoff {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Backoff(BackoffOptions options = {}, std::uint64_t seed = std::random_device{}());

  // A failure happened at `now`: returns how long to wait before retrying.
  std::chrono::milliseconds next_delay(Clock::time_point now);

  // The base delay the next failure starts from (before jitter), given `now`.
  std::chrono::milliseconds current_base(Clock::time_point now) const;

  const BackoffOptions& options() const { return options_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 random_;
  std::chrono::milliseconds base_{0};  // 0: no failure yet
  Clock::time_point last_failure_{};
};

}  // namespace hostgw::k8s
