/* A hostile guest program for tests/integration/fault_test.cc (static, so
 * any rootfs can hold it): the largest and oddest FUSE requests a guest
 * process can make the guest kernel send to the host's virtio-fs backend
 * (below the kernel's FUSE client a process cannot go; malformed requests
 * are the fuzz targets' part, tests/fuzz/fuse_request_fuzz.cc).
 *
 *   fuse-abuse DIR   in DIR (on a virtio-fs share), one after another:
 *     huge writes     64 MiB in 4 MiB write(2)s (the kernel splits them
 *                     into max_write requests), and one byte written at
 *                     1 TiB (a sparse file the host must not fill);
 *     huge readdir    3,000 entries, listed with 1 MiB getdents64 buffers;
 *     long names      255 bytes (the limit, created) and 256 (which the
 *                     guest's FUSE client sends on: the host refuses it);
 *     deep paths      400 levels of 200-byte names (80 KB, far beyond
 *                     PATH_MAX on the host), made and removed by openat;
 *     many open files 4,000 files held open at once (the host holds one
 *                     descriptor each), then closed;
 *     huge xattrs     setxattr of 64 KiB values (XATTR_SIZE_MAX) and of
 *                     larger ones (refused by the guest kernel), getxattr
 *                     and listxattr with 64 KiB buffers.
 *   Each step's outcome must be a result or an errno, never a hang; prints
 *   one line "<step>=<result> ..." and exits 0, or exits 1 on a step whose
 *   result is wrong (data read back differs, a count is off).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

static char report[4096];

static void note(const char* step, const char* what) {
  size_t n = strlen(report);
  snprintf(report + n, sizeof report - n, "%s%s=%s", n ? " " : "", step, what);
}

static int fail(const char* step, const char* what) {
  fprintf(stderr, "fuse-abuse: %s: %s (errno %d: %s)\n", step, what, errno, strerror(errno));
  return 1;
}

static int huge_writes(int dir) {
  int fd = openat(dir, "huge", O_CREAT | O_TRUNC | O_RDWR, 0600);
  if (fd < 0) return fail("write", "create");
  size_t chunk = 4 << 20;
  char* buf = malloc(chunk);
  if (!buf) return fail("write", "malloc");
  for (size_t i = 0; i < chunk; ++i) buf[i] = (char)(i * 7);
  for (int i = 0; i < 16; ++i)
    if (write(fd, buf, chunk) != (ssize_t)chunk) return fail("write", "4 MiB write");
  char* back = malloc(chunk);
  if (!back || pread(fd, back, chunk, 15 * (off_t)chunk) != (ssize_t)chunk ||
      memcmp(buf, back, chunk) != 0)
    return fail("write", "read back");
  free(back);
  free(buf);
  /* One byte at 1 TiB: sparse on the host (or EFBIG where it cannot be). */
  ssize_t far = pwrite(fd, "x", 1, (off_t)1 << 40);
  note("write", far == 1 ? "64MiB+1TiB-sparse" : "64MiB+1TiB-refused");
  close(fd);
  if (unlinkat(dir, "huge", 0) != 0) return fail("write", "unlink");
  return 0;
}

static int huge_readdir(int dir) {
  if (mkdirat(dir, "many", 0700) != 0) return fail("readdir", "mkdir");
  int many = openat(dir, "many", O_RDONLY | O_DIRECTORY);
  if (many < 0) return fail("readdir", "open");
  char name[32];
  for (int i = 0; i < 3000; ++i) {
    snprintf(name, sizeof name, "entry-%05d", i);
    int fd = openat(many, name, O_CREAT | O_WRONLY, 0600);
    if (fd < 0) return fail("readdir", "create");
    close(fd);
  }
  size_t size = 1 << 20;
  char* buf = malloc(size);
  long entries = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, many, buf, size);
    if (n < 0) return fail("readdir", "getdents64");
    if (n == 0) break;
    for (long off = 0; off < n;) {
      struct dirent64* d = (struct dirent64*)(buf + off);
      if (strncmp(d->d_name, "entry-", 6) == 0) ++entries;
      off += d->d_reclen;
    }
  }
  free(buf);
  if (entries != 3000) {
    errno = 0;
    return fail("readdir", "entry count");
  }
  for (int i = 0; i < 3000; ++i) {
    snprintf(name, sizeof name, "entry-%05d", i);
    unlinkat(many, name, 0);
  }
  close(many);
  if (unlinkat(dir, "many", AT_REMOVEDIR) != 0) return fail("readdir", "rmdir");
  note("readdir", "3000");
  return 0;
}

static int long_names(int dir) {
  char name[300];
  memset(name, 'n', 255);
  name[255] = 0;
  int fd = openat(dir, name, O_CREAT | O_WRONLY, 0600);
  if (fd < 0) return fail("names", "255 bytes");
  close(fd);
  unlinkat(dir, name, 0);
  memset(name, 'n', 256);
  name[256] = 0;
  /* The guest's FUSE client passes up to 1024 bytes on (FUSE_NAME_MAX):
   * the host must refuse what its file systems cannot hold. */
  fd = openat(dir, name, O_CREAT | O_WRONLY, 0600);
  if (fd >= 0) return fail("names", "256 bytes accepted");
  char what[64];
  snprintf(what, sizeof what, "255ok-256%s",
           errno == ENAMETOOLONG ? "ENAMETOOLONG"
           : errno == EINVAL     ? "EINVAL"
                                 : "refused");
  note("names", what);
  return 0;
}

static int deep_paths(int dir) {
  enum { kDepth = 400 };
  char name[201];
  memset(name, 'd', 200);
  name[200] = 0;
  int fds[kDepth + 1];
  fds[0] = dup(dir);
  int depth = 0;
  for (; depth < kDepth; ++depth) {
    if (mkdirat(fds[depth], name, 0700) != 0) break;
    fds[depth + 1] = openat(fds[depth], name, O_RDONLY | O_DIRECTORY);
    if (fds[depth + 1] < 0) break;
  }
  int reached = depth;
  /* Back up, removing on the way. */
  for (; depth > 0; --depth) {
    close(fds[depth]);
    if (unlinkat(fds[depth - 1], name, AT_REMOVEDIR) != 0) return fail("deep", "rmdir");
  }
  close(fds[0]);
  if (reached != kDepth) return fail("deep", "mkdir");
  note("deep", "400x200B");
  return 0;
}

static int many_open(int dir) {
  enum { kFiles = 4000 };
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < kFiles + 64) {
    rl.rlim_cur = rl.rlim_max < kFiles + 64 ? rl.rlim_max : kFiles + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (mkdirat(dir, "open", 0700) != 0) return fail("open", "mkdir");
  int od = openat(dir, "open", O_RDONLY | O_DIRECTORY);
  static int fds[kFiles];
  int n = 0;
  char name[32];
  for (; n < kFiles; ++n) {
    snprintf(name, sizeof name, "f%d", n);
    fds[n] = openat(od, name, O_CREAT | O_RDWR, 0600);
    if (fds[n] < 0) break;
  }
  int held = n;
  int saved = errno;
  for (int i = 0; i < held; ++i) close(fds[i]);
  for (int i = 0; i < held; ++i) {
    snprintf(name, sizeof name, "f%d", i);
    unlinkat(od, name, 0);
  }
  close(od);
  unlinkat(dir, "open", AT_REMOVEDIR);
  char what[64];
  /* The guest's own limit may stop it first; the host must not. */
  if (held < kFiles && saved != EMFILE) {
    errno = saved;
    return fail("open", "open failed before the guest's limit");
  }
  snprintf(what, sizeof what, "%d", held);
  note("open", what);
  return 0;
}

static int huge_xattrs(int dir) {
  int fd = openat(dir, "x", O_CREAT | O_RDWR, 0600);
  if (fd < 0) return fail("xattr", "create");
  size_t size = 64 << 10;
  char* value = malloc(size + 4096);
  memset(value, 'v', size + 4096);
  /* What the host's file system makes of it (ext4 without ea_inode keeps
   * a block's worth): an errno is a fine answer, a hang or crash is not. */
  int big = fsetxattr(fd, "user.big", value, size, 0);
  int big_errno = errno;
  int over = fsetxattr(fd, "user.over", value, size + 4096, 0);
  if (over == 0 || errno != E2BIG) return fail("xattr", "over XATTR_SIZE_MAX accepted");
  char* back = malloc(size);
  ssize_t got = fgetxattr(fd, "user.big", back, size);
  if (big == 0 && (got != (ssize_t)size || memcmp(back, value, size) != 0))
    return fail("xattr", "read back");
  ssize_t list = flistxattr(fd, back, size);
  char what[96];
  snprintf(what, sizeof what, "64KiB-%s-list%zd", big == 0 ? "stored" : strerror(big_errno), list);
  for (char* c = what; *c; ++c)
    if (*c == ' ') *c = '_';
  note("xattr", what);
  free(back);
  free(value);
  close(fd);
  unlinkat(dir, "x", 0);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuse-abuse DIR\n");
    return 2;
  }
  int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
  if (dir < 0) return fail("open", argv[1]);
  if (huge_writes(dir) || huge_readdir(dir) || long_names(dir) || deep_paths(dir) ||
      many_open(dir) || huge_xattrs(dir))
    return 1;
  printf("%s\n", report);
  return 0;
}
