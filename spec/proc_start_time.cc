#include "spec/proc_start_time.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

#include "spec/base/unique_fd.h"

namespace runvm::oci {

Result<uint64_t> parse_stat_start_time(std::string_view stat) {
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return make_error("malformed stat line");
  // After ") " come fields 3 (state), 4, ... ; starttime is field 22.
  std::string_view rest = stat.substr(close + 1);
  int field = 2;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t end = rest.find(' ', i);
    if (end == std::string_view::npos) end = rest.size();
    if (i == end) break;
    if (++field == 22) {
      std::string_view tok = rest.substr(i, end - i);
      while (!tok.empty() && (tok.back() == '\n')) tok.remove_suffix(1);
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (ec != std::errc() || p != tok.data() + tok.size())
        return make_error("malformed stat line");
      return v;
    }
    i = end;
  }
  return make_error("malformed stat line");
}

Result<uint64_t> process_start_time(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(path);
  char buf[1024];  // a stat line is well under this (comm is at most 16 bytes)
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error(path);
  return parse_stat_start_time(std::string_view(buf, static_cast<size_t>(n))).context(path);
}

}  // namespace runvm::oci
