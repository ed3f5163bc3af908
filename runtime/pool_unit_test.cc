// The warm pool's directory and claim rule (pool_unit.h), with stand-in
// processes for units' shims: states as `pool status` reports them, one
// owner per unit whatever the race, dead and old units drained on a claim.
#include "runtime/pool_unit.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "runtime/pool.h"
#include "spec/base/atomic_file.h"
#include "spec/proc_start_time.h"
#include "tests/support/temp_dir.h"

namespace runvm::cli::pool {
namespace {

TEST(PoolUnitRecord, RoundTripsAndRefusesAnythingElse) {
  UnitRecord r{1234, 98765, 1700000000};
  EXPECT_EQ(parse_unit_record(format_unit_record(r)), r);
  for (const char* bad : {"", "1 2 3", "1 2 3\n\n", "0 2 3\n", "-1 2 3\n", "1  2 3\n", "1 2\n",
                          "1 2 3 4\n", "01 2 3\n", "1 2 -3\n", "2 7 -0\n", "1 +2 3\n", "1 x 3\n",
                          "99999999999999999999999 2 3\n", "1 2 3 \n"})
    EXPECT_EQ(parse_unit_record(bad), std::nullopt) << bad;
}

class PoolUnitTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t p : children_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }
  // A stand-in shim: a child that waits to be killed. Reaped by a thread
  // once it dies, as a unit's real shim is by its parent (init).
  // `stuck`: one that ignores SIGTERM, as a wedged shim does not end on it.
  pid_t stand_in(bool stuck = false) {
    pid_t p = fork();
    if (p == 0) {
      // Ended by SIGTERM as a shim is, whatever earlier tests in this
      // process blocked (the stdio relay's forwarded signals).
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGTERM, stuck ? SIG_IGN : SIG_DFL);
      pause();
      _exit(0);
    }
    children_.push_back(p);
    return p;
  }
  // A unit dir as `pool fill` leaves it.
  Unit make_unit(const std::string& name, pid_t pid, bool ready, int64_t created_s = 0) {
    std::string cls_dir = root_.path() + "/" + kPoolDir + "/c1";
    std::filesystem::create_directories(cls_dir);
    Unit u{root_.path(), "c1", name, std::nullopt, UnitState::kStarting, "", 0};
    EXPECT_TRUE(u.dir().create().ok());
    if (pid > 0) {
      if (created_s == 0)
        created_s = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      UnitRecord r{pid, oci::process_start_time(pid).value_or(0), created_s};
      EXPECT_TRUE(write_file_atomic(u.dir().file(kUnitFile), format_unit_record(r)).ok());
    }
    if (ready) {
      EXPECT_TRUE(write_file_atomic(u.dir().file(kReadyFile), "").ok());
    }
    return read_unit(root_.path(), "c1", name);
  }
  pid_t dead_pid() {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, nullptr, 0);
    return p;
  }
  testing::TempDir root_{"runvm-pool"};
  std::vector<pid_t> children_;
};

TEST_F(PoolUnitTest, StatesAreWhatTheFilesAndProcessesSay) {
  make_unit("starting", 0, false);
  make_unit("booting", stand_in(), false);
  make_unit("idle", stand_in(), true);
  Unit claimed = make_unit("claimed", stand_in(), true);
  ASSERT_TRUE(take(claimed, "ctr"));
  make_unit("dead", dead_pid(), true);
  auto units = list_units(root_.path());
  ASSERT_EQ(units.size(), 5u);
  std::map<std::string, std::string> got;
  for (const auto& u : units) got[u.name] = to_string(u.state) + (":" + u.owner);
  EXPECT_EQ(got, (std::map<std::string, std::string>{{"booting", "booting:"},
                                                     {"claimed", "claimed:ctr"},
                                                     {"dead", "dead:"},
                                                     {"idle", "idle:"},
                                                     {"starting", "starting:"}}));
}

TEST_F(PoolUnitTest, OneOwnerWhateverTheRace) {
  Unit u = make_unit("u1", stand_in(), true);
  std::atomic<int> won{0};
  std::vector<std::thread> takers;
  for (int i = 0; i < 8; ++i)
    takers.emplace_back([&, i] { won += take(u, "c" + std::to_string(i)) ? 1 : 0; });
  for (auto& t : takers) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_FALSE(take(u, "late"));
  EXPECT_EQ(read_unit(root_.path(), "c1", "u1").state, UnitState::kClaimed);
}

TEST_F(PoolUnitTest, ClaimTakesIdleUnitsOnceAndDrainsDeadOnes) {
  make_unit("a-dead", dead_pid(), true);
  make_unit("b-booting", stand_in(), false);
  make_unit("c-idle", stand_in(), true);
  auto first = claim(root_.path(), "c1", "ctr1", 0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->name, "c-idle");
  EXPECT_EQ(first->state, UnitState::kClaimed);
  EXPECT_EQ(first->owner, "ctr1");
  EXPECT_EQ(claim(root_.path(), "c1", "ctr2", 0), std::nullopt);
  // The dead unit was removed with its socket dir; the others stay.
  std::map<std::string, std::string> left;
  for (const auto& u : list_units(root_.path())) left[u.name] = to_string(u.state);
  EXPECT_EQ(left,
            (std::map<std::string, std::string>{{"b-booting", "booting"}, {"c-idle", "claimed"}}));
}

TEST_F(PoolUnitTest, OldIdleUnitsAreDrainedNotClaimed) {
  pid_t shim = stand_in();
  Unit old = make_unit("old", shim, true, 1000);
  std::string sockets = old.dir().socket_dir();
  EXPECT_EQ(claim(root_.path(), "c1", "ctr", 3600), std::nullopt);
  // Its shim was ended and everything of it removed.
  int status = 0;
  ASSERT_EQ(waitpid(shim, &status, 0), shim);
  EXPECT_TRUE(WIFSIGNALED(status));
  children_.clear();
  struct stat st;
  EXPECT_NE(stat(old.dir().path().c_str(), &st), 0);
  EXPECT_NE(stat(sockets.c_str(), &st), 0);
  EXPECT_TRUE(list_units(root_.path()).empty());
}

TEST_F(PoolUnitTest, DrainedUnitsWatcherEndsWithItAndOneRefillPerClaim) {
  Unit u = make_unit("u1", stand_in(), true);
  pid_t watcher = stand_in();
  UnitRecord w{watcher, oci::process_start_time(watcher).value_or(0), 1};
  ASSERT_TRUE(write_file_atomic(u.dir().file(kWatcherFile), format_unit_record(w)).ok());
  u = read_unit(root_.path(), "c1", "u1");
  EXPECT_EQ(u.watcher, w);
  EXPECT_TRUE(u.watcher_alive());
  EXPECT_TRUE(take_refill(u));
  EXPECT_FALSE(take_refill(u));
  ASSERT_TRUE(take(u, kDrainOwner));
  remove_unit(u, std::chrono::seconds(0));
  int status = 0;
  ASSERT_EQ(waitpid(watcher, &status, 0), watcher);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(list_units(root_.path()).empty());
}

// The pool's own files (its lock, its generation and that file's
// temporaries) are no classes; a unit records the generation it was booted in.
TEST_F(PoolUnitTest, ThePoolsFilesAreNoUnitsAndAUnitKnowsItsGeneration) {
  Unit u = make_unit("u1", stand_in(), true);
  ASSERT_TRUE(write_file_atomic(u.dir().file(kGenerationFile), "0123abcd", false).ok());
  std::string pool = root_.path() + "/" + kPoolDir + "/";
  for (std::string f : {kFillLock, kGenerationFile, "generation.77.feed.tmp", "stray"})
    ASSERT_TRUE(write_file_atomic(pool + f, "x", false).ok()) << f;
  auto units = list_units(root_.path());
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].rel(), "c1/u1");
  EXPECT_EQ(units[0].state, UnitState::kIdle);
  EXPECT_EQ(units[0].generation, "0123abcd");
}

// A refill that finds the pool drained boots nothing, and leaves nothing
// of the pool: one that comes while the drain removes the pool dir (its
// generation and lock unlinked, the dir still there) opens its lock with
// O_CREAT, and removes that lock and the dir again.
TEST_F(PoolUnitTest, ARefillAfterADrainLeavesNoPoolDir) {
  std::string pool = root_.path() + "/" + kPoolDir;
  GlobalOptions g;
  g.root = root_.path();
  // Drained away: not made again.
  auto r = fill(g, false, std::string("0123abcd"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->cancelled);
  struct stat st;
  EXPECT_NE(stat(pool.c_str(), &st), 0);
  // Being drained: its dir empty but for what the refill makes.
  ASSERT_EQ(mkdir(pool.c_str(), 0711), 0);
  r = fill(g, false, std::string("0123abcd"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->cancelled);
  EXPECT_NE(stat(pool.c_str(), &st), 0) << "the refill left the pool dir";
}

// A first fill's lock while cancelled refills come and go: each refill that
// finds the pool dir without a generation removes its lock and the dir
// (above), which can land between the fill's mkdir and its open of the
// lock in it (ENOENT): the fill makes the dir again and gets its lock.
TEST_F(PoolUnitTest, AFillGetsItsLockWhileRefillsRemoveThePoolDir) {
  std::string pool = root_.path() + "/" + kPoolDir;
  GlobalOptions g;
  g.root = root_.path();
  std::atomic<bool> stop{false};
  std::thread refills([&] {
    while (!stop) (void)fill(g, false, std::string("0123abcd"));
  });
  int failed = 0;
  std::string first_error;
  for (int i = 0; i < 5000; ++i) {
    auto lock = lock_pool(pool, true);
    if (!lock.ok() || !*lock) {
      if (failed++ == 0) first_error = lock.ok() ? "no lock" : lock.error().message;
      continue;
    }
    // As a drain that found nothing: the dir left empty for a refill to remove.
    unlink((pool + "/" + kFillLock).c_str());
  }
  stop = true;
  refills.join();
  EXPECT_EQ(failed, 0) << first_error;
}

// Released units (their containers deleted, their VMs ending on their own)
// are waited for together: a drain that finds several stuck ones waits its
// deadline once, not once per unit, then ends them; one that ends on its
// own meanwhile (its shim removes its dir) is neither ended nor counted.
TEST_F(PoolUnitTest, DrainWaitsForReleasedUnitsTogether) {
  auto release = [&](const std::string& name, pid_t shim) {
    Unit u = make_unit(name, shim, true);
    ASSERT_TRUE(take(u, "deleted-ctr"));
    ASSERT_TRUE(write_file_atomic(u.dir().file(kReleasedFile), "", false).ok());
  };
  for (const char* name : {"r1", "r2", "r3"}) release(name, stand_in());
  const std::string ends_dir = root_.path() + "/" + kPoolDir + "/c1/r0";
  // It ends 200 ms after its dir is complete (the pipe's EOF), not after
  // its fork: a loaded host may take longer than that to write the dir.
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t ends = fork();
  if (ends == 0) {
    ::close(go[1]);
    char c;
    while (::read(go[0], &c, 1) < 0 && errno == EINTR) {
    }
    usleep(200'000);
    std::error_code ec;
    std::filesystem::remove_all(ends_dir, ec);
    _exit(0);
  }
  ::close(go[0]);
  children_.push_back(ends);
  release("r0", ends);
  ::close(go[1]);
  GlobalOptions g;
  g.root = root_.path();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(drain(g, std::chrono::milliseconds(1000)), 3);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(1000));
  EXPECT_LT(took, std::chrono::milliseconds(2500)) << "a wait per unit";
  EXPECT_TRUE(list_units(root_.path()).empty());
}

// Units that do not end on SIGTERM cost a drain one grace for all of them,
// not one each, whether idle or released (and still running after their
// wait): each group is told to end together, then killed together.
TEST_F(PoolUnitTest, DrainEndsStuckUnitsTogether) {
  for (const char* name : {"i1", "i2"}) make_unit(name, stand_in(true), true);
  for (const char* name : {"r1", "r2"}) {
    Unit u = make_unit(name, stand_in(true), true);
    ASSERT_TRUE(take(u, "deleted-ctr"));
    ASSERT_TRUE(write_file_atomic(u.dir().file(kReleasedFile), "", false).ok());
  }
  GlobalOptions g;
  g.root = root_.path();
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(drain(g, std::chrono::milliseconds(300), std::chrono::milliseconds(1000)), 4);
  auto took = std::chrono::steady_clock::now() - start;
  // 1 s for the idle pair, 0.3 s of waiting and 1 s for the released pair;
  // a grace per unit would be 4.3 s.
  EXPECT_GE(took, std::chrono::milliseconds(2300));
  EXPECT_LT(took, std::chrono::milliseconds(3500)) << "a grace per unit";
  EXPECT_TRUE(list_units(root_.path()).empty());
  for (pid_t p : children_) {
    std::string stat = "/proc/" + std::to_string(p) + "/stat";
    // Killed (a zombie until the fixture reaps it), not left running.
    std::ifstream f(stat);
    std::string line;
    std::getline(f, line);
    auto paren = line.rfind(')');
    ASSERT_NE(paren, std::string::npos) << stat;
    EXPECT_EQ(line[paren + 2], 'Z') << line;
  }
}

TEST(PoolGeneration, OnlyShortLowercaseHexIsOne) {
  for (const char* ok : {"0", "0123456789abcdef", "ffffffffffffffffffffffffffffffff"})
    EXPECT_TRUE(valid_generation(ok)) << ok;
  for (const char* bad :
       {"", "ABCDEF", "12 34", "-1", "../x", "0123456789abcdef0123456789abcdef0", "12\n", "g"})
    EXPECT_FALSE(valid_generation(bad)) << bad;
}

TEST(PoolFillAction, DrainsWhatNoContainerWillUseAndOrphansOnly) {
  auto unit = [](UnitState s, const std::string& cls, int64_t age, const std::string& owner = "") {
    Unit u{"/r", cls, "u", std::nullopt, s, owner, age};
    return u;
  };
  using enum UnitState;
  EXPECT_EQ(fill_action(unit(kIdle, "c", 10), "c", 60, false), FillAction::kKeep);
  EXPECT_EQ(fill_action(unit(kBooting, "c", 10), "c", 60, false), FillAction::kKeep);
  EXPECT_EQ(fill_action(unit(kIdle, "c", 61), "c", 60, false), FillAction::kDrain);
  EXPECT_EQ(fill_action(unit(kIdle, "c", 1000), "c", 0, false), FillAction::kKeep);  // no limit
  EXPECT_EQ(fill_action(unit(kIdle, "old", 10), "c", 60, false), FillAction::kDrain);
  EXPECT_EQ(fill_action(unit(kBooting, "old", 10), "c", 60, false), FillAction::kDrain);
  EXPECT_EQ(fill_action(unit(kDead, "c", 10), "c", 60, false), FillAction::kDrain);
  EXPECT_EQ(fill_action(unit(kStarting, "c", 10), "c", 60, false), FillAction::kDrain);
  // A container's unit is its own, whatever its class or age, while it lives.
  EXPECT_EQ(fill_action(unit(kClaimed, "old", 9999, "ctr"), "c", 60, true), FillAction::kKeep);
  EXPECT_EQ(fill_action(unit(kClaimed, "c", 10, "ctr"), "c", 60, false), FillAction::kKeep);
  EXPECT_EQ(fill_action(unit(kDead, "c", 10, "ctr"), "c", 60, true), FillAction::kKeep);
  EXPECT_EQ(fill_action(unit(kDead, "c", 10, "ctr"), "c", 60, false), FillAction::kRemoveOrphan);
  EXPECT_EQ(fill_action(unit(kDead, "c", 10, "@drain"), "c", 60, true), FillAction::kRemoveOrphan);
  EXPECT_EQ(fill_action(unit(kDead, "c", 10, "../x"), "c", 60, true), FillAction::kRemoveOrphan);
  // A live unit whose taker is gone: abandoned once taken long enough ago
  // (its create was killed between the take and its container's dir).
  auto taken = [&](const std::string& owner, int64_t owned_s) {
    Unit u = unit(kClaimed, "c", 10, owner);
    u.owned_s = owned_s;
    return u;
  };
  int64_t long_ago = kAbandonedClaim.count() + 1;
  EXPECT_EQ(fill_action(taken("ctr", 1), "c", 60, false), FillAction::kKeep);
  EXPECT_EQ(fill_action(taken("ctr", long_ago), "c", 60, false), FillAction::kRemoveOrphan);
  EXPECT_EQ(fill_action(taken("ctr", long_ago), "c", 60, true), FillAction::kKeep);
  EXPECT_EQ(fill_action(taken("@drain", 1), "c", 60, true), FillAction::kKeep);
  EXPECT_EQ(fill_action(taken("@drain", long_ago), "c", 60, true), FillAction::kRemoveOrphan);
  // Released by its container's delete (taken long ago, its VM still
  // ending while a slow reader takes its output): kept for kReleasedGrace.
  Unit released = taken("ctr", long_ago);
  released.released_s = 1;
  EXPECT_EQ(fill_action(released, "c", 60, false), FillAction::kKeep);
  released.released_s = kReleasedGrace.count() + 1;
  EXPECT_EQ(fill_action(released, "c", 60, false), FillAction::kRemoveOrphan);
}

}  // namespace
}  // namespace runvm::cli::pool
