#include "guest/agent/passwd.h"

#include <unistd.h>

#include <cerrno>

namespace runvm::agent {

namespace {

constexpr size_t kMaxLine = 64 * 1024;

bool is_go_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Go's strconv.Atoi as runc reads the uid field: an optional sign and
// decimal digits, else 0 ("", "7a", " 7" are uid 0); out of range it
// saturates, which no uid_t equals.
bool go_atoi_equals(std::string_view s, uint32_t uid) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
    if (s.empty()) return uid == 0;
  }
  if (s.empty()) return uid == 0;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return uid == 0;
    if (v <= UINT32_MAX) v = v * 10 + static_cast<uint64_t>(c - '0');  // saturates past uid_t
  }
  if (negative) return v == 0 && uid == 0;  // "-0"
  return v == uid;
}

}  // namespace

std::optional<std::string_view> passwd_home(std::string_view line, uint32_t uid) {
  // runc's libcontainer/user: the line trimmed of (ASCII) white space, an
  // empty one skipped; missing fields are "" (a uid of 0).
  while (!line.empty() && is_go_space(line.front())) line.remove_prefix(1);
  while (!line.empty() && is_go_space(line.back())) line.remove_suffix(1);
  if (line.empty()) return std::nullopt;
  std::string_view field[6];
  for (size_t n = 0; n < 6; ++n) {
    size_t end = line.find(':');
    field[n] = line.substr(0, end);
    if (end == std::string_view::npos) break;
    line.remove_prefix(end + 1);
  }
  if (!go_atoi_equals(field[2], uid)) return std::nullopt;
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
