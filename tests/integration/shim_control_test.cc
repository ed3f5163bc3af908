// The shim's control socket on a real VM: one exec whose set-up stalls
// holds up no other request. The stall is real: an exec without HOME in its
// env has the agent's child read /etc/passwd (guest/agent/process_init.cc,
// home_of), which in this bundle is a FIFO, so that set-up waits until
// another exec writes the passwd line into it.
//
// KillAndResize... and StalledExec... need the guest agent to serve other
// requests while an exec's set-up is pending (issue 11's agent side); with
// an agent that waits for each exec's report they fail by timing out.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "guest/protocol/frame.h"
#include "shim/client/control.h"
#include "spec/base/state_layout.h"
#include "spec/base/unix_socket.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Bundle;
using testing::read_file;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

// What "promptly" means for one control request on TCG.
constexpr auto kPrompt = 5s;

class ShimControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    // A terminal, so that a resize shows: the process writes its pty's size
    // to /size once a second (the file lands in the bundle's rootfs).
    bundle_ = std::make_unique<Bundle>(testing::BundleSpec{
        .args = {"sh", "-c", "while :; do stty size >/size.new; mv /size.new /size; sleep 1; done"},
        .env = {"PATH=/bin", "HOME=/root"},  // HOME: its own set-up reads no passwd
        .terminal = true});
    ASSERT_EQ(mkfifo((bundle_->rootfs() + "/etc/passwd").c_str(), 0644), 0) << strerror(errno);
    std::string console = sockdir_.path() + "/console.sock";
    UniqueFd listener = testing::listen_console(console);
    ASSERT_TRUE(listener.valid());
    int master = -1;
    std::thread receiver([&] { master = testing::accept_console_master(listener.get()); });
    auto run = run_command({runvm_binary(), "--root", root_.path(), "run", "-d", "--console-socket",
                            console, "-b", bundle_->dir(), "ct"});
    receiver.join();
    master_.reset(master);
    ASSERT_EQ(run.status, 0) << run.err;
    ASSERT_TRUE(master_.valid());
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_.path()))
      if (e.path().filename() == layout::kShimSocket) sock_ = e.path();
    ASSERT_FALSE(sock_.empty());
  }
  void TearDown() override {
    if (bundle_)
      (void)run_command({runvm_binary(), "--root", root_.path(), "delete", "--force", "ct"});
  }

  // Sends an exec of `args` without HOME (its set-up reads /etc/passwd) and
  // returns its connection without waiting for the reply.
  UniqueFd stalled_exec(std::vector<std::string> args) {
    auto conn = connect_unix(sock_);
    EXPECT_TRUE(conn.ok());
    if (!conn.ok()) return {};
    control::Exec e;
    e.process.args = std::move(args);
    e.process.env = {"PATH=/bin"};
    EXPECT_TRUE(proto::write_frame(conn->get(), control::encode(control::Addressed{"ct", e})).ok());
    return std::move(*conn);
  }
  // The next frame on `fd` within `timeout`.
  static std::optional<std::string> frame_within(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    auto f = proto::read_frame(fd);
    if (!f.ok() || !*f) return std::nullopt;
    return **f;
  }
  bool becomes(const std::function<bool()>& cond, std::chrono::seconds within) {
    for (auto end = Clock::now() + within; Clock::now() < end; std::this_thread::sleep_for(100ms))
      if (cond()) return true;
    return false;
  }
  bool stopped() {
    return run_command({runvm_binary(), "--root", root_.path(), "state", "ct"})
               .out.find("\"stopped\"") != std::string::npos;
  }

  TempDir root_, sockdir_;
  std::unique_ptr<Bundle> bundle_;
  UniqueFd master_;
  std::string sock_;
};

TEST_F(ShimControlTest, KillAndResizeAnsweredWhileAnExecIsBeingSetUp) {
  UniqueFd pending = stalled_exec({"true"});
  std::this_thread::sleep_for(500ms);  // on its way through the agent
  EXPECT_FALSE(frame_within(pending.get(), 0ms)) << "the exec did not stall";

  auto t0 = Clock::now();
  Status resized = control::call(sock_, "ct", control::Resize{33, 111}, 20000);
  EXPECT_TRUE(resized.ok()) << resized.error().message;
  EXPECT_LT(Clock::now() - t0, kPrompt);
  std::string size_file = bundle_->rootfs() + "/size";
  EXPECT_TRUE(becomes([&] { return read_file(size_file) == "33 111\n"; }, 15s))
      << read_file(size_file);

  UniqueFd silent = *connect_unix(sock_);  // and sends nothing
  t0 = Clock::now();
  Status killed = control::call(sock_, "ct", control::Kill{SIGKILL, false}, 20000);
  EXPECT_TRUE(killed.ok()) << killed.error().message;
  EXPECT_LT(Clock::now() - t0, kPrompt);
  EXPECT_TRUE(becomes([&] { return stopped(); }, 15s));
  // The stalled exec is answered too: the container it was for is gone.
  EXPECT_TRUE(frame_within(pending.get(), 15s)) << "the stalled exec was never answered";
}

TEST_F(ShimControlTest, StalledExecGoesOnOnceAnotherExecFeedsIt) {
  UniqueFd pending = stalled_exec({"sh", "-c", "exit 3"});
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(frame_within(pending.get(), 0ms)) << "the exec did not stall";
  // The feeder has HOME: its own set-up reads no passwd.
  control::Exec feeder;
  feeder.process.args = {"sh", "-c", "echo root:x:0:0:root:/root:/bin/sh >/etc/passwd"};
  feeder.process.env = {"PATH=/bin", "HOME=/"};
  auto session = control::open_exec(sock_, "ct", feeder, 20000);
  ASSERT_TRUE(session.ok()) << session.error().message;
  ASSERT_TRUE(session->reply.status.ok()) << session->reply.status.error().message;
  auto fed = frame_within(session->conn.get(), 20s);
  ASSERT_TRUE(fed);
  EXPECT_EQ(control::parse_exec_exit(*fed).value_or(control::ExecExit{-1}).wait_status, 0);

  auto reply = frame_within(pending.get(), 20s);
  ASSERT_TRUE(reply) << "the stalled exec did not go on";
  auto parsed = control::parse_exec_reply(*reply);
  ASSERT_TRUE(parsed.ok() && parsed->status.ok()) << *reply;
  auto exit = frame_within(pending.get(), 20s);
  ASSERT_TRUE(exit);
  EXPECT_EQ(control::parse_exec_exit(*exit).value_or(control::ExecExit{-1}).wait_status, 3 << 8);
}

TEST_F(ShimControlTest, SilentClientDoesNotBlockKill) {
  auto silent = connect_unix(sock_);  // connects and sends nothing
  ASSERT_TRUE(silent.ok());
  auto t0 = Clock::now();
  auto r = run_command({runvm_binary(), "--root", root_.path(), "kill", "ct", "KILL"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LT(Clock::now() - t0, 3s);
  EXPECT_TRUE(becomes([&] { return stopped(); }, 15s));
}

TEST_F(ShimControlTest, RequestsForAnotherContainerAreRefused) {
  Status r = control::call(sock_, "other", control::Kill{SIGKILL, false}, 20000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "container \"other\" is not in this shim");
  control::Exec e;
  e.process.args = {"true"};
  auto exec = control::open_exec(sock_, "other", e, 20000);
  ASSERT_TRUE(exec.ok()) << exec.error().message;
  EXPECT_FALSE(exec->reply.status.ok());
  EXPECT_FALSE(stopped());  // and "ct" is untouched
}

}  // namespace
}  // namespace runvm
