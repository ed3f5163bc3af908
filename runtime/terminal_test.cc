#include "runtime/terminal.h"

#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

namespace runvm::cli {
namespace {

struct Pty {
  Pty() {
    int m, s;
    EXPECT_EQ(openpty(&m, &s, nullptr, nullptr, nullptr), 0);
    master.reset(m);
    slave.reset(s);
  }
  UniqueFd master, slave;
};

TEST(HostTerminal, TakesTheFirstTerminalAndRestoresItsMode) {
  Pty pty;
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  winsize ws{25, 81, 0, 0};
  ASSERT_EQ(ioctl(pty.slave.get(), TIOCSWINSZ, &ws), 0);
  termios before;
  ASSERT_EQ(tcgetattr(pty.slave.get(), &before), 0);
  ASSERT_TRUE(before.c_lflag & ICANON);
  {
    auto t = HostTerminal::find_among({wr.get(), pty.slave.get()}, "/nonexistent");
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->fd(), pty.slave.get());
    auto size = t->size();
    ASSERT_TRUE(size);
    EXPECT_EQ(size->ws_row, 25);
    EXPECT_EQ(size->ws_col, 81);
    ASSERT_TRUE(t->make_raw().ok());
    termios raw;
    ASSERT_EQ(tcgetattr(pty.slave.get(), &raw), 0);
    EXPECT_FALSE(raw.c_lflag & (ICANON | ECHO | ISIG));
    EXPECT_FALSE(raw.c_oflag & OPOST);
    HostTerminal moved(std::move(*t));  // restoring is the new owner's job
  }
  termios after;
  ASSERT_EQ(tcgetattr(pty.slave.get(), &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
}

TEST(HostTerminal, FallsBackToThePathThenFails) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  Pty pty;
  char name[128];
  ASSERT_EQ(ttyname_r(pty.slave.get(), name, sizeof name), 0);
  auto t = HostTerminal::find_among({rd.get(), wr.get()}, name);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_NE(t->fd(), pty.slave.get());
  EXPECT_TRUE(isatty(t->fd()));

  auto none = HostTerminal::find_among({rd.get(), wr.get()}, "/nonexistent/tty");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().message, "open /nonexistent/tty: No such file or directory");
  auto not_tty = HostTerminal::find_among({rd.get()}, "/dev/null");
  EXPECT_FALSE(not_tty.ok());
}

}  // namespace
}  // namespace runvm::cli
