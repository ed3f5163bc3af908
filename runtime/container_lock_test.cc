// The container lock that `create` holds from its first mkdir until its
// state is final: what other callers see meanwhile (issue 15's race, where
// a `delete -f` removed a container that was still being created).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "runtime/container.h"
#include "spec/base/state_layout.h"
#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

class ContainerLockTest : public ::testing::Test {
 protected:
  GlobalOptions g() {
    GlobalOptions o;
    o.root = root_.path();
    return o;
  }
  // What `create` has done before it launches the shim: the directories, the
  // lock, state.json saying "creating".
  UniqueFd begin_create(const std::string& id) {
    Container c{ContainerDir(root_.path(), id), {}};
    auto lock = c.dir.create();
    EXPECT_TRUE(lock.ok()) << lock.error().message;
    if (!lock.ok()) return {};
    c.state.id = id;
    c.state.status = oci::Status::kCreating;
    c.state.bundle = "/b";
    EXPECT_TRUE(save_state(c).ok());
    return std::move(*lock);
  }
  testing::TempDir root_{"runvm-lock"};
};

TEST_F(ContainerLockTest, ACreateInProgressReadsCreatingAndADeadOneStopped) {
  UniqueFd lock = begin_create("c1");
  ASSERT_TRUE(lock);
  auto ct = load_container(g(), "c1");
  ASSERT_TRUE(ct.ok()) << ct.error().message;
  EXPECT_EQ(ct->state.status, oci::Status::kCreating);
  EXPECT_EQ(ct->state.pid, 0);
  // The creator died: its lock went with it, and what it left is stopped.
  lock.reset();
  ct = load_container(g(), "c1");
  ASSERT_TRUE(ct.ok()) << ct.error().message;
  EXPECT_EQ(ct->state.status, oci::Status::kStopped);
  // The lock's holder reads it stopped too: nobody else is creating it.
  auto locked = lock_container(g(), "c1");
  ASSERT_TRUE(locked.ok()) << locked.error().message;
  EXPECT_EQ(locked->ct.state.status, oci::Status::kStopped);
}

TEST_F(ContainerLockTest, TheIdIsTakenWhileCreating) {
  UniqueFd lock = begin_create("c1");
  auto again = ContainerDir(root_.path(), "c1").create();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
}

TEST_F(ContainerLockTest, LockingWaitsForCreateAndSeesWhatItWrote) {
  UniqueFd lock = begin_create("c1");
  std::atomic<bool> got{false};
  Result<LockedContainer> locked = make_error("not yet");
  std::thread waiter([&] {
    locked = lock_container(g(), "c1");
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(got) << "took the lock of a container being created";
  // create finishes: the state it writes is what the waiter reads.
  Container c{ContainerDir(root_.path(), "c1"), {}};
  c.state.id = "c1";
  c.state.status = oci::Status::kCreated;
  c.state.bundle = "/b2";
  ASSERT_TRUE(save_state(c).ok());
  lock.reset();
  waiter.join();
  ASSERT_TRUE(locked.ok()) << locked.error().message;
  EXPECT_EQ(locked->ct.state.bundle, "/b2");
}

TEST_F(ContainerLockTest, ACreateThatFailsWhileOthersWaitLeavesThemNothing) {
  UniqueFd lock = begin_create("c1");
  Result<LockedContainer> locked = make_error("not yet");
  std::thread waiter([&] { locked = lock_container(g(), "c1"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // create's failure path: remove under the lock, then let go.
  ASSERT_TRUE(ContainerDir(root_.path(), "c1").remove().ok());
  lock.reset();
  waiter.join();
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().code, ENOENT);
  EXPECT_EQ(locked.error().message, "container does not exist");
  // And no caller put anything back: the root is as it was.
  EXPECT_TRUE(root_.entries().empty());
}

TEST_F(ContainerLockTest, LockingNeverMakesALockFileOfAContainerBeingRemoved) {
  // A directory with neither state.json nor lock: what a removal in
  // progress looks like to a second caller.
  ASSERT_EQ(mkdir((root_.path() + "/c1").c_str(), 0711), 0);
  auto lock = ContainerDir(root_.path(), "c1").lock();
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.error().code, ENOENT);
  EXPECT_TRUE(std::filesystem::is_empty(root_.path() + "/c1"));
}

}  // namespace
}  // namespace runvm::cli
