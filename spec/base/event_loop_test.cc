#include "spec/base/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace runvm {
namespace {

TEST(EventLoop, DispatchesAndToleratesRemovalDuringDispatch) {
  auto loop = *EventLoop::create();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  int calls = 0;
  ASSERT_TRUE(loop->add(a.get(), EPOLLIN,
                        [&](uint32_t) {
                          ++calls;
                          loop->remove(a.get());
                        })
                  .ok());
  EXPECT_FALSE(loop->add(a.get(), EPOLLIN, [](uint32_t) {}).ok());
  ASSERT_EQ(write(b.get(), "x", 1), 1);
  ASSERT_TRUE(loop->run_once(1000).ok());
  ASSERT_TRUE(loop->run_once(0).ok());
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(loop->contains(a.get()));
}

TEST(EventLoop, StopFromAnotherThread) {
  auto loop = *EventLoop::create();
  std::thread t([&] { loop->stop(); });
  EXPECT_TRUE(loop->run().ok());
  t.join();
}

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(EventLoop, TimersFireOnceInDeadlineOrder) {
  auto loop = *EventLoop::create();
  std::vector<int> fired;
  auto start = Clock::now();
  ASSERT_TRUE(loop->add_timer(milliseconds(60), [&] { fired.push_back(60); }).ok());
  ASSERT_TRUE(loop->add_timer(milliseconds(20), [&] { fired.push_back(20); }).ok());
  ASSERT_TRUE(loop->add_timer(milliseconds(0), [&] { fired.push_back(0); }).ok());
  EXPECT_EQ(loop->pending_timers(), 3u);
  while (fired.size() < 3 && Clock::now() - start < std::chrono::seconds(5))
    ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(fired, (std::vector<int>{0, 20, 60}));
  EXPECT_GE(Clock::now() - start, milliseconds(60));
  EXPECT_EQ(loop->pending_timers(), 0u);
  // Fired means gone: nothing more arrives.
  ASSERT_TRUE(loop->run_once(100).ok());
  EXPECT_EQ(fired.size(), 3u);
}

TEST(EventLoop, CancelledTimerNeverFires) {
  auto loop = *EventLoop::create();
  int early = 0, late = 0;
  auto id = *loop->add_timer(milliseconds(10), [&] { ++early; });
  ASSERT_TRUE(loop->add_timer(milliseconds(50), [&] { ++late; }).ok());
  loop->cancel_timer(id);
  loop->cancel_timer(id);     // twice: harmless
  loop->cancel_timer(12345);  // unknown: harmless
  auto start = Clock::now();
  while (late == 0 && Clock::now() - start < std::chrono::seconds(5))
    ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(early, 0);
  EXPECT_EQ(late, 1);
}

// A handler may cancel a timer that is due in the same turn and add new
// ones; one added with no delay waits for the next turn.
TEST(EventLoop, TimerHandlersMayAddAndCancel) {
  auto loop = *EventLoop::create();
  int second = 0, chained = 0;
  EventLoop::TimerId second_id = 0;
  ASSERT_TRUE(loop->add_timer(milliseconds(5),
                              [&] {
                                loop->cancel_timer(second_id);
                                ASSERT_TRUE(
                                    loop->add_timer(milliseconds(0), [&] { ++chained; }).ok());
                              })
                  .ok());
  second_id = *loop->add_timer(milliseconds(5), [&] { ++second; });
  std::this_thread::sleep_for(milliseconds(20));  // both due in one turn
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(second, 0);
  EXPECT_EQ(chained, 0);
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(chained, 1);
}

// Timers and fds in one loop: a timer does not hold up ready fds.
TEST(EventLoop, TimersAndFdsInterleave) {
  auto loop = *EventLoop::create();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  std::vector<std::string> order;
  ASSERT_TRUE(loop->add(a.get(), EPOLLIN,
                        [&](uint32_t) {
                          char c;
                          ASSERT_EQ(read(a.get(), &c, 1), 1);
                          order.push_back("fd");
                        })
                  .ok());
  ASSERT_TRUE(loop->add_timer(milliseconds(100), [&] { order.push_back("timer"); }).ok());
  ASSERT_EQ(write(b.get(), "x", 1), 1);
  auto start = Clock::now();
  while (order.size() < 2 && Clock::now() - start < std::chrono::seconds(5))
    ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(order, (std::vector<std::string>{"fd", "timer"}));
}

// --- Timer: the owning handle on the loop's timers ---------------------------

TEST(Timer, FiresOnceAfterItsDelay) {
  auto loop = *EventLoop::create();
  int fired = 0;
  Timer timer(*loop, [&] { ++fired; });
  auto t0 = Clock::now();
  timer.arm(milliseconds(30));
  EXPECT_TRUE(timer.armed());
  EXPECT_EQ(loop->pending_timers(), 1u);  // one of the loop's, no fd of its own
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(fired, 1);
  EXPECT_GE(Clock::now() - t0, milliseconds(30));
  EXPECT_FALSE(timer.armed());
  ASSERT_TRUE(loop->run_once(100).ok());  // one-shot: nothing more
  EXPECT_EQ(fired, 1);
}

TEST(Timer, PeriodicUntilDisarmed) {
  auto loop = *EventLoop::create();
  int fired = 0;
  Timer* self = nullptr;
  Timer timer(*loop, [&] {
    EXPECT_TRUE(self->armed()) << "periodic: the next round is already due";
    if (++fired == 3) self->disarm();
  });
  self = &timer;
  timer.arm(milliseconds(5), milliseconds(5));
  for (int i = 0; i < 20 && fired < 3; ++i) ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_EQ(fired, 3);
  EXPECT_FALSE(timer.armed());
  ASSERT_TRUE(loop->run_once(50).ok());
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(loop->pending_timers(), 0u);
}

TEST(Timer, RearmingReplacesAndDisarmedNeverFires) {
  auto loop = *EventLoop::create();
  int fired = 0;
  Timer timer(*loop, [&] { ++fired; });
  timer.arm(milliseconds(10));
  timer.arm(std::chrono::seconds(10));  // replaces the first setting
  EXPECT_EQ(loop->pending_timers(), 1u);
  ASSERT_TRUE(loop->run_once(60).ok());
  EXPECT_EQ(fired, 0);
  timer.disarm();
  EXPECT_FALSE(timer.armed());
  EXPECT_EQ(loop->pending_timers(), 0u);
  ASSERT_TRUE(loop->run_once(20).ok());
  EXPECT_EQ(fired, 0);
}

TEST(Timer, DestroyedArmedItNeverFires) {
  auto loop = *EventLoop::create();
  int fired = 0;
  auto timer = std::make_unique<Timer>(*loop, [&] { ++fired; });
  timer->arm(milliseconds(1), milliseconds(1));
  timer.reset();
  EXPECT_EQ(loop->pending_timers(), 0u);
  ASSERT_TRUE(loop->run_once(30).ok());
  EXPECT_EQ(fired, 0);
}

TEST(Timer, DestroyedFromItsOwnCallback) {
  auto loop = *EventLoop::create();
  std::unique_ptr<Timer> timer;
  bool fired = false;
  auto keep = std::make_shared<int>(7);
  timer = std::make_unique<Timer>(*loop, [&, keep] {
    timer.reset();
    fired = *keep == 7;  // its captures live on until it returns
  });
  keep.reset();
  timer->arm(milliseconds(1), milliseconds(1));
  ASSERT_TRUE(loop->run_once(1000).ok());
  EXPECT_TRUE(fired);
  EXPECT_FALSE(timer);
  EXPECT_EQ(loop->pending_timers(), 0u);  // its next round went with it
}

}  // namespace
}  // namespace runvm
