/* Run inside containers by tests/integration/stdio_test.cc (static, so any
 * rootfs can hold it). Reports what fds 0-2 are, the way programs that
 * branch on them see it, or writes like Node.js does:
 *
 *   stdio-probe [report-fd]      one line "0:<kind> 1:<kind> 2:<kind>" on
 *                                report-fd (default 1), each kind one of
 *                                fifo sock reg null chr dir blk closed,
 *                                plus ",tty" when isatty(), ",append" when
 *                                O_APPEND is set and ",uid=N" (the owner)
 *   stdio-probe size             "<rows> <cols>" of fd 1's window (TIOCGWINSZ)
 *   stdio-probe flood <bytes>    sets O_NONBLOCK on stdout, writes <bytes>
 *                                of the pattern i % 251, waiting in poll()
 *                                on EAGAIN, and exits at once after the last
 *                                write (as Node.js does with a pipe)
 *   stdio-probe mmap-write <file> <text>
 *                                writes <text> into <file> through a shared
 *                                mapping only (no write(2), no msync), says
 *                                "mapped" on stdout and sleeps until killed:
 *                                the text is in the guest's page cache alone
 *                                until the guest syncs (pool_test.cc)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char* kind_of(const struct stat* st) {
  if (S_ISFIFO(st->st_mode)) return "fifo";
  if (S_ISSOCK(st->st_mode)) return "sock";
  if (S_ISREG(st->st_mode)) return "reg";
  if (S_ISDIR(st->st_mode)) return "dir";
  if (S_ISBLK(st->st_mode)) return "blk";
  if (S_ISCHR(st->st_mode))
    return major(st->st_rdev) == 1 && minor(st->st_rdev) == 3 ? "null" : "chr";
  return "other";
}

static int report(int out) {
  char line[256];
  size_t len = 0;
  for (int fd = 0; fd < 3; ++fd) {
    struct stat st;
    const char* sep = fd ? " " : "";
    if (fstat(fd, &st) < 0) {
      len += (size_t)snprintf(line + len, sizeof line - len, "%s%d:closed", sep, fd);
      continue;
    }
    int flags = fcntl(fd, F_GETFL);
    len += (size_t)snprintf(line + len, sizeof line - len, "%s%d:%s%s%s,uid=%u", sep, fd,
                            kind_of(&st), isatty(fd) ? ",tty" : "",
                            flags >= 0 && (flags & O_APPEND) ? ",append" : "", (unsigned)st.st_uid);
  }
  len += (size_t)snprintf(line + len, sizeof line - len, "\n");
  return write(out, line, len) == (ssize_t)len ? 0 : 1;
}

static int flood(size_t bytes) {
  static char buf[1 << 16];
  int flags = fcntl(1, F_GETFL);
  if (flags < 0 || fcntl(1, F_SETFL, flags | O_NONBLOCK) < 0) return 2;
  for (size_t off = 0; off < bytes;) {
    size_t n = bytes - off < sizeof buf ? bytes - off : sizeof buf;
    for (size_t i = 0; i < n; ++i) buf[i] = (char)((off + i) % 251);
    ssize_t w = write(1, buf, n);
    if (w < 0 && errno == EAGAIN) {
      struct pollfd p = {1, POLLOUT, 0};
      poll(&p, 1, -1);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 3;
    off += (size_t)w;
  }
  _exit(0); /* no flush, no waiting: the bytes are the kernel's now */
}

static int size(void) {
  struct winsize ws;
  if (ioctl(1, TIOCGWINSZ, &ws) < 0) return 1;
  printf("%u %u\n", ws.ws_row, ws.ws_col);
  return 0;
}

static int mmap_write(const char* file, const char* text) {
  size_t len = strlen(text);
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || len == 0 || ftruncate(fd, (off_t)len) < 0) return 2;
  char* p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return 3;
  memcpy(p, text, len);
  if (write(1, "mapped\n", 7) != 7) return 4;
  for (;;) pause();
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "size") == 0) return size();
  if (argc == 4 && strcmp(argv[1], "mmap-write") == 0) return mmap_write(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "flood") == 0) return flood(strtoull(argv[2], NULL, 10));
  return report(argc > 1 ? atoi(argv[1]) : 1);
}
