// Terminals. With --console-socket, as conmon and containerd use it: the
// pty master arrives over the socket (SCM_RIGHTS), typing reaches the
// container's shell, output comes back, and window size changes on the
// master reach the process in the guest. Without it in the foreground, as
// from a shell: runvm relays the caller's terminal (a pty we drive here).
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::accept_console_master;
using testing::Bundle;
using testing::listen_console;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

// Reads from the master until `needle` shows up or `seconds` pass.
std::string read_until(int fd, const std::string& needle, std::string& seen, int seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  char buf[4096];
  while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<size_t>(n));
  }
  return seen;
}

void type(int fd, const std::string& text) {
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// Asks the shell on `fd` for its size until it reports `want` ("rows cols"),
// up to 20 s: size changes travel asynchronously.
bool shell_size_becomes(int fd, const std::string& want, std::string& seen) {
  for (int i = 0; i < 20 && seen.find(want) == std::string::npos; ++i) {
    type(fd, "stty size\n");
    read_until(fd, want, seen, 1);
  }
  return seen.find(want) != std::string::npos;
}

// A command whose controlling terminal is a fresh pty, as a shell would
// start it: `master` is the user's side; `slave` is kept to check its mode.
struct OnTerminal {
  pid_t pid = -1;
  UniqueFd master, slave;
};

OnTerminal start_on_terminal(const std::vector<std::string>& argv, winsize size) {
  OnTerminal t;
  int m, sl;
  if (openpty(&m, &sl, nullptr, nullptr, &size) < 0) return t;
  t.master.reset(m);
  t.slave.reset(sl);
  fcntl(m, F_SETFD, FD_CLOEXEC);
  fcntl(sl, F_SETFD, FD_CLOEXEC);
  t.pid = fork();
  if (t.pid == 0) {
    setsid();
    ioctl(sl, TIOCSCTTY, 0);
    for (int fd = 0; fd < 3; ++fd) dup2(sl, fd);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  return t;
}

bool is_raw(int tty) {
  termios t{};
  return tcgetattr(tty, &t) == 0 && !(t.c_lflag & (ICANON | ECHO));
}

// Reads `fd` until EOF or EIO (the other side of a pty closed), up to 20 s.
bool reaches_end(int fd) {
  char buf[4096];
  for (int i = 0; i < 100; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno == EIO)) return true;
  }
  return false;
}

TEST(ConsoleTest, TerminalThroughTheConsoleSocket) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root, sockdir;
  Bundle b({.args = {"sh"}, .env = {"PATH=/bin", "TERM=dumb"}, .terminal = true});
  std::string sock = sockdir.path() + "/console.sock";
  UniqueFd listener = listen_console(sock);
  ASSERT_TRUE(listener.valid());

  int master = -1;
  std::thread receiver([&] { master = accept_console_master(listener.get()); });
  pid_t runvm = fork();
  if (runvm == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    execl(runvm_binary().c_str(), "runvm", "--root", root.path().c_str(), "run", "-b",
          b.dir().c_str(), "--console-socket", sock.c_str(), "tty", nullptr);
    _exit(127);
  }
  receiver.join();
  ASSERT_GE(master, 0) << "no pty master received";
  UniqueFd m(master);

  std::string seen;
  const char* cmd1 = "stty size; echo mark-$((6*7))\n";
  ASSERT_EQ(write(m.get(), cmd1, strlen(cmd1)), static_cast<ssize_t>(strlen(cmd1)));
  read_until(m.get(), "mark-42", seen);
  EXPECT_NE(seen.find("mark-42"), std::string::npos) << seen;

  winsize ws{33, 101, 0, 0};
  ASSERT_EQ(ioctl(m.get(), TIOCSWINSZ, &ws), 0);
  // The shim polls the size; give the guest a moment before asking.
  std::string after;
  for (int i = 0; i < 20 && after.find("33 101") == std::string::npos; ++i) {
    usleep(300 * 1000);
    const char* cmd2 = "stty size\n";
    ASSERT_EQ(write(m.get(), cmd2, strlen(cmd2)), static_cast<ssize_t>(strlen(cmd2)));
    read_until(m.get(), "\n", after);
    read_until(m.get(), "33 101", after);
  }
  EXPECT_NE(after.find("33 101"), std::string::npos) << after;

  const char* bye = "exit 7\n";
  ASSERT_EQ(write(m.get(), bye, strlen(bye)), static_cast<ssize_t>(strlen(bye)));
  int status = 0;
  ASSERT_EQ(waitpid(runvm, &status, 0), runvm);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
  EXPECT_TRUE(root.entries().empty());
}

// containerd's runc shim (go-runc) reads `create`'s stdout and stderr to EOF
// before it accepts the master: with a terminal, nothing runvm leaves
// running may hold them.
TEST(ConsoleTest, CreateWithConsoleSocketReleasesTheCallersPipes) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root, sockdir;
  Bundle b({.args = {"sh"}, .terminal = true});
  std::string sock = sockdir.path() + "/console.sock";
  UniqueFd listener = listen_console(sock);
  ASSERT_TRUE(listener.valid());
  int out[2];
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  UniqueFd out_r(out[0]), out_w(out[1]);
  pid_t create = fork();
  if (create == 0) {
    dup2(out[1], 1);
    dup2(out[1], 2);
    execl(runvm_binary().c_str(), "runvm", "--root", root.path().c_str(), "create", "-b",
          b.dir().c_str(), "--console-socket", sock.c_str(), "ct", nullptr);
    _exit(127);
  }
  out_w.reset();
  // EOF must come once create returned; a held pipe would keep it away.
  std::string output;
  bool eof = false;
  for (int i = 0; i < 600 && !eof; ++i) {
    pollfd p{out_r.get(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    ssize_t n = read(out_r.get(), buf, sizeof buf);
    if (n <= 0) eof = true;
    if (n > 0) output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  ASSERT_EQ(waitpid(create, &status, 0), create);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << output;
  EXPECT_TRUE(eof) << "create's stdout/stderr still open after 60 s: " << output;
  int master = accept_console_master(listener.get());
  EXPECT_GE(master, 0);
  if (master >= 0) close(master);
  auto del =
      testing::run_command({runvm_binary(), "--root", root.path(), "delete", "--force", "ct"});
  EXPECT_EQ(del.status, 0) << del.err;
  EXPECT_TRUE(root.entries().empty());
}

TEST(ConsoleTest, TerminalWithoutConsoleSocketIsRefusedLikeRunc) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root;
  Bundle b({.args = {"sh"}, .terminal = true});
  auto r = testing::run_command(
      {runvm_binary(), "--root", root.path(), "create", "-b", b.dir(), "notty"});
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_EQ(r.err,
            "runvm: create notty: cannot allocate tty if runvm will detach without setting "
            "console socket\n");
  EXPECT_TRUE(root.entries().empty());
}

TEST(ConsoleTest, ForegroundRunRelaysTheCallersTerminal) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root;
  Bundle b({.args = {"sh"}, .env = {"PATH=/bin", "TERM=dumb"}, .terminal = true});
  auto t = start_on_terminal({runvm_binary(), "--root", root.path(), "run", "-b", b.dir(), "fg"},
                             winsize{30, 100, 0, 0});
  ASSERT_GT(t.pid, 0);
  std::string seen;
  type(t.master.get(), "stty size; echo mark-$((6*7))\n");
  read_until(t.master.get(), "mark-42", seen);
  EXPECT_NE(seen.find("mark-42"), std::string::npos) << seen;
  EXPECT_NE(seen.find("30 100"), std::string::npos) << seen;
  EXPECT_TRUE(is_raw(t.slave.get()));  // the guest's pty echoes, not ours

  winsize ws{40, 120, 0, 0};
  ASSERT_EQ(ioctl(t.master.get(), TIOCSWINSZ, &ws), 0);  // SIGWINCH for runvm
  std::string after;
  EXPECT_TRUE(shell_size_becomes(t.master.get(), "40 120", after)) << after;

  type(t.master.get(), "exit 7\n");
  int status = 0;
  ASSERT_EQ(waitpid(t.pid, &status, 0), t.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7) << status;
  EXPECT_FALSE(is_raw(t.slave.get()));  // the caller's mode is back
  EXPECT_TRUE(root.entries().empty());
}

TEST(ConsoleTest, ForegroundRunWithoutAnyTerminalFailsLikeRunc) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root;
  Bundle b({.args = {"sh"}, .terminal = true});
  // A new session: no controlling terminal to fall back on.
  auto r = run_command(
      {"/usr/bin/setsid", "-w", runvm_binary(), "--root", root.path(), "run", "-b", b.dir(), "nt"});
  ASSERT_TRUE(WIFEXITED(r.status));
  EXPECT_EQ(WEXITSTATUS(r.status), 1);
  EXPECT_EQ(r.err, "runvm: run nt: open /dev/tty: No such device or address\n");
  EXPECT_TRUE(root.entries().empty());
}

// A running container to exec into.
class ExecTtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    bundle_ = std::make_unique<Bundle>(
        testing::BundleSpec{.args = {"sleep", "600"}, .env = {"PATH=/bin", "TERM=dumb"}});
    // The shim keeps run's stdio (the container's): not captured here.
    std::string cmd;
    for (const auto& a : runvm({"run", "-d", "-b", bundle_->dir(), "et"})) cmd += a + " ";
    ASSERT_EQ(system((cmd + "</dev/null >/dev/null 2>&1").c_str()), 0);
  }
  void TearDown() override {
    if (bundle_) (void)run_command(runvm({"delete", "--force", "et"}));
  }
  std::vector<std::string> runvm(std::vector<std::string> args) const {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  TempDir root_;
  std::unique_ptr<Bundle> bundle_;
};

TEST_F(ExecTtyTest, ForegroundUsesTheCallersTerminal) {
  auto t = start_on_terminal(runvm({"exec", "-t", "et", "sh"}), winsize{30, 100, 0, 0});
  ASSERT_GT(t.pid, 0);
  std::string seen;
  type(t.master.get(), "stty size; tty; echo mark-$((6*7))\n");
  read_until(t.master.get(), "mark-42", seen);
  EXPECT_NE(seen.find("mark-42"), std::string::npos) << seen;
  EXPECT_NE(seen.find("30 100"), std::string::npos) << seen;
  EXPECT_NE(seen.find("/dev/pts/"), std::string::npos) << seen;
  EXPECT_TRUE(is_raw(t.slave.get()));

  winsize ws{40, 120, 0, 0};
  ASSERT_EQ(ioctl(t.master.get(), TIOCSWINSZ, &ws), 0);
  std::string after;
  EXPECT_TRUE(shell_size_becomes(t.master.get(), "40 120", after)) << after;

  type(t.master.get(), "exit 3\n");
  int status = 0;
  ASSERT_EQ(waitpid(t.pid, &status, 0), t.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
  EXPECT_FALSE(is_raw(t.slave.get()));
}

// conmon's and containerd's call: -t -d --console-socket --pid-file.
TEST_F(ExecTtyTest, DetachedWithConsoleSocketLikeConmon) {
  TempDir tmp;
  std::string sock = tmp.path() + "/console.sock", pid_file = tmp.path() + "/exec.pid";
  UniqueFd listener = listen_console(sock);
  ASSERT_TRUE(listener.valid());
  // The pid standing for the process outlives runvm exec: adopt it.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct Unreap {
    ~Unreap() { prctl(PR_SET_CHILD_SUBREAPER, 0); }
  } unreap;
  int master = -1;
  std::thread receiver([&] { master = accept_console_master(listener.get()); });
  // Returns at once although the process runs on: its stdio is not ours.
  auto r = run_command(
      runvm({"exec", "-t", "-d", "--console-socket", sock, "--pid-file", pid_file, "et", "sh"}));
  receiver.join();
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.err;
  EXPECT_EQ(r.out + r.err, "");
  ASSERT_GE(master, 0) << "no pty master received";
  UniqueFd m(master);
  long pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);

  std::string seen;
  type(m.get(), "echo mark-$((6*7))\n");
  read_until(m.get(), "mark-42", seen);
  EXPECT_NE(seen.find("mark-42"), std::string::npos) << seen;
  winsize ws{33, 101, 0, 0};
  ASSERT_EQ(ioctl(m.get(), TIOCSWINSZ, &ws), 0);
  std::string after;
  EXPECT_TRUE(shell_size_becomes(m.get(), "33 101", after)) << after;

  type(m.get(), "exit 5\n");
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(pid), &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 5) << status;
  EXPECT_TRUE(reaches_end(m.get()));  // nothing holds the terminal any more
}

TEST_F(ExecTtyTest, TerminalFlagErrorsAreRuncs) {
  // Exit 255, as runc's "exec failed: ..."
  auto r = run_command(runvm({"exec", "-t", "-d", "et", "sh"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;
  EXPECT_EQ(r.err,
            "runvm: exec et: cannot allocate tty if runvm will detach without setting console "
            "socket\n");
  r = run_command(runvm({"exec", "--console-socket", "/nonexistent", "et", "true"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;
  EXPECT_EQ(r.err,
            "runvm: exec et: cannot use console socket if runvm will not detach or allocate "
            "tty\n");
  // In the foreground without any terminal (a new session has none).
  auto argv = runvm({"exec", "-t", "et", "sh"});
  argv.insert(argv.begin(), {"/usr/bin/setsid", "-w"});
  r = run_command(argv);
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;
  EXPECT_EQ(r.err, "runvm: exec et: open /dev/tty: No such device or address\n");
  r = run_command(runvm({"exec", "-t", "--console-socket", "/nonexistent/sock", "et", "sh"}));
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) << r.status;
  EXPECT_EQ(r.err,
            "runvm: exec et: connect to console socket /nonexistent/sock: No such file or "
            "directory\n");
}

}  // namespace
}  // namespace runvm
