#include "guest/protocol/stdio_kind.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace runvm::proto {

std::optional<StdioKind> stdio_kind_of_fd(int fd) {
  struct stat st;
  if (::fstat(fd, &st) < 0) return std::nullopt;
  if (S_ISFIFO(st.st_mode)) return StdioKind::kPipe;
  if (S_ISSOCK(st.st_mode)) return StdioKind::kSocket;
  if (S_ISREG(st.st_mode)) {
    int flags = ::fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_APPEND) ? StdioKind::kAppendFile : StdioKind::kFile;
  }
  if (S_ISCHR(st.st_mode)) {
    if (major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) return std::nullopt;  // /dev/null
    if (::isatty(fd)) return StdioKind::kTty;
  }
  return StdioKind::kPipe;
}

std::optional<ConsoleSize> tty_stream_size(const StdioPorts& ports) {
  const uint32_t port[3] = {ports.stdin_port, ports.stdout_port, ports.stderr_port};
  const StdioKind kind[3] = {ports.stdin_kind, ports.stdout_kind, ports.stderr_kind};
  for (int fd = 0; fd < 3; ++fd) {
    winsize ws;
    if (port[fd] && kind[fd] == StdioKind::kTty && ::ioctl(fd, TIOCGWINSZ, &ws) == 0)
      return ConsoleSize{ws.ws_row, ws.ws_col};
  }
  return std::nullopt;
}

}  // namespace runvm::proto
