#pragma once

// Timing helpers shared by the bench programs: wall-clock seconds since a
// point, and median / min / max of repeated measurements.

#include <algorithm>
#include <chrono>
#include <vector>

namespace hostgw::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

// `values` must not be empty.
inline Stats stats(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  Stats s;
  s.min = values.front();
  s.max = values.back();
  const std::size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return s;
}

}  // namespace hostgw::bench
