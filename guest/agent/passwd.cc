#include "guest/agent/passwd.h"

#include <unistd.h>

#include <cerrno>

namespace runvm::agent {

namespace {
constexpr size_t kMaxLine = 64 * 1024;
}  // namespace

std::optional<std::string_view> passwd_home(std::string_view line, uint32_t uid) {
  std::string_view field[6];
  size_t n = 0;
  while (n < 6) {
    size_t end = line.find(':');
    field[n++] = line.substr(0, end);
    if (end == std::string_view::npos) break;
    line.remove_prefix(end + 1);
  }
  if (n < 6 || field[5].empty() || field[2] != std::to_string(uid)) return std::nullopt;
  return field[5];
}

std::string home_from_passwd(int fd, uint32_t uid) {
  char buf[4096];
  std::string partial;  // a line split across reads
  for (;;) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    std::string_view chunk(buf, static_cast<size_t>(got));
    for (size_t nl; (nl = chunk.find('\n')) != std::string_view::npos;
         chunk.remove_prefix(nl + 1)) {
      std::string_view line = chunk.substr(0, nl);
      if (!partial.empty()) {
        partial.append(line);
        line = partial;
      }
      if (auto home = passwd_home(line, uid)) return std::string(*home);
      partial.clear();
    }
    partial.append(chunk);
    // runc gives up on a line over 64 KiB ("token too long"): a file with no
    // newline (a link to /dev/zero) must not grow the init without bound.
    if (partial.size() > kMaxLine) return "/";
  }
  // The last line may have no newline.
  if (auto home = passwd_home(partial, uid)) return std::string(*home);
  return "/";
}

}  // namespace runvm::agent
