#include "guest/agent/passwd.h"

#include <unistd.h>

#include <cerrno>

namespace runvm::agent {

namespace {

// bufio.Scanner's buffer (MaxScanTokenSize): a line must fit in it with its
// newline, so one of this many bytes or more before the newline (or EOF)
// fails, as bundles under runc 1.1.5 showed (65535 works, 65536 fails).
constexpr size_t kMaxLine = 64 * 1024;

// The UTF-8 encodings of what Go's unicode.IsSpace calls white space beyond
// ASCII (bytes.TrimSpace, with which runc trims each line): U+0085, U+00A0,
// U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
constexpr std::string_view kWideSpaces[] = {
    "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81",
    "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86",
    "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8",
    "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The length of the white space character `line` starts (front) or ends
// with, 0 if none. A whole encoding at the end starts at a lead byte (UTF-8
// resynchronises), so it is the character Go's DecodeLastRune finds there.
size_t space_at(std::string_view line, bool front) {
  if (line.empty()) return 0;
  if (is_ascii_space(front ? line.front() : line.back())) return 1;
  for (std::string_view sp : kWideSpaces)
    if (front ? line.starts_with(sp) : line.ends_with(sp)) return sp.size();
  return 0;
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
  // runc's libcontainer/user: the line trimmed of white space (Go's, the
  // Unicode one), an empty one skipped; missing fields are "" (a uid of 0).
  for (size_t n; (n = space_at(line, true)) != 0;) line.remove_prefix(n);
  for (size_t n; (n = space_at(line, false)) != 0;) line.remove_suffix(n);
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

Result<std::string> home_from_passwd(int fd, uint32_t uid) {
  char buf[4096];
  std::string partial;              // a line split across reads
  std::optional<std::string> home;  // the first matching line's
  auto take = [&](std::string_view line) {
    if (!home)
      if (auto h = passwd_home(line, uid)) home.emplace(*h);
  };
  auto too_long = [] {
    return make_error("/etc/passwd: a line of 64 KiB or more (token too long)");
  };
  for (;;) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_error("read /etc/passwd");
    if (got == 0) break;
    std::string_view chunk(buf, static_cast<size_t>(got));
    for (size_t nl; (nl = chunk.find('\n')) != std::string_view::npos;
         chunk.remove_prefix(nl + 1)) {
      std::string_view line = chunk.substr(0, nl);
      if (!partial.empty()) {
        partial.append(line);
        line = partial;
      }
      if (line.size() >= kMaxLine) return too_long();
      take(line);
      partial.clear();
    }
    partial.append(chunk);
    // Also what keeps a file with no newline (a link to /dev/zero) from
    // growing the init without bound.
    if (partial.size() >= kMaxLine) return too_long();
  }
  // The last line may have no newline.
  take(partial);
  return home ? std::move(*home) : std::string("/");
}

}  // namespace runvm::agent
