#include "guest/agent/kernel_settings.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "spec/base/unique_fd.h"

namespace runvm::agent {
namespace {

bool valid_key(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  bool empty = true;
  for (char c : key) {
    if (c == '.' || c == '/') {
      if (empty) return false;
      empty = true;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
    empty = false;
  }
  return !empty;
}

Status write_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return errno_error("open " + path);
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error("write " + path);
  if (static_cast<size_t>(n) != value.size()) return make_error("short write to " + path);
  return {};
}

}  // namespace

Status apply_sysctl(const std::map<std::string, std::string>& sysctl, const std::string& proc_sys) {
  for (const auto& [key, value] : sysctl) {
    std::string where = "linux.sysctl: \"" + key + "\"";
    if (!valid_key(key)) return make_error(where + ": invalid key");
    std::string rel = key;
    for (char& c : rel)
      if (c == '.') c = '/';
    RUNVM_CHECK(write_file(proc_sys + "/" + rel, value).context(where));
  }
  return {};
}

Status set_oom_score_adj(int32_t value) {
  return write_file("/proc/self/oom_score_adj", std::to_string(value)).context("oomScoreAdj");
}

}  // namespace runvm::agent
