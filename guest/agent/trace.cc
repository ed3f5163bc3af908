#include "guest/agent/trace.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <string_view>

#include "guest/agent/kernel_cmdline.h"

namespace runvm::agent::trace {
namespace {

bool g_on = false;
// The console, above the fds a container's process gets (close-on-exec):
// its init traces its set-up after its stdio became the container's.
int g_fd = -1;
const char* g_prefix = nullptr;  // Prefix's, a literal

}  // namespace

void enable_from_cmdline() {
  int fd = ::open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n > 0) enable(cmdline_has_word(std::string_view(buf, static_cast<size_t>(n)), "runvm.debug"));
}

void enable(bool on) {
  g_on = on;
  if (on && g_fd < 0) g_fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 100);
}
bool enabled() { return g_on; }

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

void mark(std::string_view phase) {
  if (g_on) mark_at(phase, now_ns());
}

void mark_at(std::string_view phase, uint64_t boottime_ns) {
  if (!g_on || g_fd < 0) return;
  // By hand, not snprintf: the agent runs no printf otherwise, and a traced
  // run should not pay for translating vfprintf where an untraced one does
  // not. On the stack: in a container's init a heap page is a copy-on-write
  // fault of the agent's, which an untraced run would not take.
  char line[192];
  size_t n = 0;
  auto put = [&](std::string_view s) {
    s = s.substr(0, sizeof line - n);
    std::memcpy(line + n, s.data(), s.size());
    n += s.size();
  };
  put("runvm-agent: phase ");
  if (g_prefix) {
    put(g_prefix);
    put("/");
  }
  put(phase.substr(0, 64));
  const uint64_t tenths = (boottime_ns + 50'000) / 100'000;  // %.1f ms
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, tenths / 10);
  put(" ");
  put(std::string_view(num, static_cast<size_t>(end - num)));
  const char frac[2] = {'.', static_cast<char>('0' + tenths % 10)};
  put(std::string_view(frac, 2));
  put(" ms\n");
  // Best effort, as log_line: the console is all there is.
  [[maybe_unused]] ssize_t w = ::write(g_fd, line, n);
}

Prefix::Prefix(const char* prefix) : previous_(g_prefix) { g_prefix = prefix; }
Prefix::~Prefix() { g_prefix = previous_; }

}  // namespace runvm::agent::trace
