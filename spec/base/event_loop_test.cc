#include "spec/base/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <thread>

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

}  // namespace
}  // namespace runvm
