#include "shim/client/console.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "spec/base/unix_socket.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

// send_fd/receive_fd are tested with the base (spec/base/unix_socket_test.cc).

TEST(Console, MasterGoesToTheSocketAndItsSizeChangesAreSeen) {
  testing::TempDir dir("runvm-console-test");
  const std::string path = dir / "sock";
  auto listener = listen_unix(path, {.backlog = 1});
  ASSERT_TRUE(listener.ok()) << listener.error().message;

  auto console = Console::open_and_send(path, winsize{30, 90, 0, 0});
  ASSERT_TRUE(console.ok()) << console.error().message;
  UniqueFd conn(accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(conn.valid());
  auto master = receive_fd(conn.get());
  ASSERT_TRUE(master.ok()) << master.error().message;

  winsize ws{};
  ASSERT_EQ(ioctl(master->get(), TIOCGWINSZ, &ws), 0);
  EXPECT_EQ(ws.ws_row, 30);
  EXPECT_EQ(ws.ws_col, 90);
  EXPECT_FALSE(console->size_change());
  ws = {40, 120, 0, 0};
  ASSERT_EQ(ioctl(master->get(), TIOCSWINSZ, &ws), 0);
  auto changed = console->size_change();
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->ws_row, 40);
  EXPECT_EQ(changed->ws_col, 120);
  EXPECT_FALSE(console->size_change());

  // The slave is raw: bytes pass unchanged, no echo back to the master.
  ASSERT_EQ(write(master->get(), "a\r\n", 3), 3);
  char buf[8];
  ASSERT_EQ(read(console->slave(), buf, sizeof buf), 3);
  EXPECT_EQ(std::string(buf, 3), "a\r\n");
  pollfd p{master->get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 100), 0);
}

}  // namespace
}  // namespace runvm
