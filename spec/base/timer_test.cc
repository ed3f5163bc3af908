#include "spec/base/timer.h"

#include <gtest/gtest.h>

#include <chrono>

namespace runvm {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Timer, FiresOnceAfterItsDelay) {
  auto loop = *EventLoop::create();
  int fired = 0;
  auto timer = *Timer::create(*loop, [&] { ++fired; });
  auto t0 = Clock::now();
  timer->arm(30ms);
  EXPECT_TRUE(timer->armed());
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(fired, 1);
  EXPECT_GE(Clock::now() - t0, 30ms);
  EXPECT_FALSE(timer->armed());
  ASSERT_TRUE(loop->run_once(100).ok());  // one-shot: nothing more
  EXPECT_EQ(fired, 1);
}

TEST(Timer, PeriodicUntilDisarmed) {
  auto loop = *EventLoop::create();
  int fired = 0;
  std::unique_ptr<Timer> timer;
  timer = *Timer::create(*loop, [&] {
    if (++fired == 3) timer->disarm();
  });
  timer->arm(5ms, 5ms);
  for (int i = 0; i < 20 && fired < 3; ++i) ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(fired, 3);
  ASSERT_TRUE(loop->run_once(50).ok());
  EXPECT_EQ(fired, 3);
}

TEST(Timer, RearmingReplacesAndDisarmedNeverFires) {
  auto loop = *EventLoop::create();
  int fired = 0;
  auto timer = *Timer::create(*loop, [&] { ++fired; });
  timer->arm(10ms);
  timer->arm(10s);  // replaces the first setting
  ASSERT_TRUE(loop->run_once(60).ok());
  EXPECT_EQ(fired, 0);
  timer->disarm();
  EXPECT_FALSE(timer->armed());
  ASSERT_TRUE(loop->run_once(20).ok());
  EXPECT_EQ(fired, 0);
}

TEST(Timer, DestroyedFromItsOwnCallback) {
  auto loop = *EventLoop::create();
  std::unique_ptr<Timer> timer;
  bool fired = false;
  timer = *Timer::create(*loop, [&] {
    fired = true;
    timer.reset();
  });
  timer->arm(1ms);
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_TRUE(fired);
  EXPECT_FALSE(timer);
}

}  // namespace
}  // namespace runvm
