// terminal: true with --console-socket, as conmon and containerd use it: the
// pty master arrives over the socket (SCM_RIGHTS), typing reaches the
// container's shell, output comes back, and window size changes on the
// master reach the process in the guest.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::runvm_binary;
using testing::TempDir;

// Receives one fd over an accepted connection on `listener`.
int receive_fd(int listener) {
  UniqueFd conn(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return -1;
  char name[256];
  iovec iov{name, sizeof name};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (recvmsg(conn.get(), &msg, 0) <= 0) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// Reads from the master until `needle` shows up or 20 s pass.
std::string read_until(int fd, const std::string& needle, std::string& seen) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
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

TEST(ConsoleTest, TerminalThroughTheConsoleSocket) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir root, sockdir;
  Bundle b({.args = {"sh"}, .env = {"PATH=/bin", "TERM=dumb"}, .terminal = true});
  std::string sock = sockdir.path() + "/console.sock";
  UniqueFd listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener.get(), 1), 0);

  int master = -1;
  std::thread receiver([&] { master = receive_fd(listener.get()); });
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

}  // namespace
}  // namespace runvm
