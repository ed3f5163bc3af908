#include "guest/agent/kernel_settings.h"

#include <cerrno>
#include <cstring>

#include "guest/agent/kernel_file.h"

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

}  // namespace

Status apply_sysctl(const std::map<std::string, std::string>& sysctl, const std::string& proc_sys) {
  for (const auto& [key, value] : sysctl) {
    std::string where = "linux.sysctl: \"" + key + "\"";
    if (!valid_key(key)) return make_error(where + ": invalid key");
    std::string rel = key;
    for (char& c : rel)
      if (c == '.') c = '/';
    RUNVM_CHECK(write_kernel_file(proc_sys + "/" + rel, value).context(where));
  }
  return {};
}

Status set_oom_score_adj(int32_t value) {
  return write_kernel_file("/proc/self/oom_score_adj", std::to_string(value))
      .context("oomScoreAdj");
}

}  // namespace runvm::agent
