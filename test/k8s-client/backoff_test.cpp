#include "k8s-client/backoff.hpp"

#include <gtest/gtest.h>

namespace hostgw::k8s {
namespace {

using namespace std::chrono_literals;
using Clock = Backoff::Clock;

TEST(BackoffTest, EachDelayIsBetweenBaseAndTwiceBaseAndBaseDoublesToTheCap) {
  Backoff backoff({800ms, 30000ms, 120000ms}, 42);
  Clock::time_point now{};
  std::chrono::milliseconds expected_base = 800ms;
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(backoff.current_base(now), expected_base) << "failure " << i;
    auto delay = backoff.next_delay(now);
    EXPECT_GE(delay, expected_base) << "failure " << i;
    EXPECT_LE(delay, 2 * expected_base) << "failure " << i;
    expected_base = std::min(expected_base * 2, std::chrono::milliseconds(30000));
    now += 1s;
  }
  EXPECT_EQ(backoff.current_base(now), 30000ms);
}

TEST(BackoffTest, ResetsAfterTwoMinutesWithoutFailure) {
  Backoff backoff({}, 7);
  Clock::time_point now{};
  for (int i = 0; i < 5; ++i) backoff.next_delay(now += 10s);
  EXPECT_EQ(backoff.current_base(now + 119s), 25600ms);
  EXPECT_EQ(backoff.current_base(now + 121s), 800ms);
  auto delay = backoff.next_delay(now + 121s);
  EXPECT_GE(delay, 800ms);
  EXPECT_LE(delay, 1600ms);
}

TEST(BackoffTest, JitterCoversTheRange) {
  Backoff backoff({1000ms, 1000ms, 120000ms}, 3);
  Clock::time_point now{};
  std::chrono::milliseconds lowest = 10s, highest = 0ms;
  for (int i = 0; i < 2000; ++i) {
    auto delay = backoff.next_delay(now);
    lowest = std::min(lowest, delay);
    highest = std::max(highest, delay);
  }
  EXPECT_LT(lowest, 1100ms);
  EXPECT_GT(highest, 1900ms);
  EXPECT_GE(lowest, 1000ms);
  EXPECT_LE(highest, 2000ms);
}

TEST(BackoffTest, SameSeedSameDelays) {
  Backoff a({}, 99), b({}, 99);
  Clock::time_point now{};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_delay(now), b.next_delay(now));
}

}  // namespace
}  // namespace hostgw::k8s
