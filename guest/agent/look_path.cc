#include "guest/agent/look_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace runvm::agent {
namespace {

// Go's findExecutable: 0 or the errno explaining why `file` cannot be run.
int find_executable(const std::string& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return errno;
  if (S_ISDIR(st.st_mode)) return EISDIR;
  if (::faccessat(AT_FDCWD, file.c_str(), X_OK, AT_EACCESS) == 0) return 0;
  return errno == ENOSYS || errno == EPERM ? ((st.st_mode & 0111) ? 0 : EACCES) : errno;
}

// Go spells errno texts in lower case ("no such file or directory").
std::string go_strerror(int e) {
  std::string s = std::strerror(e);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

Error exec_error(std::string_view file, const std::string& why, uint8_t exit_code) {
  std::string quoted = "\"";
  for (char c : file) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return make_error("exec: " + quoted + ": " + why, exit_code);
}

}  // namespace

Result<std::string> look_path(std::string_view file, std::string_view path) {
  std::string name(file);
  if (name.find('/') != std::string::npos) {
    struct stat st {};
    if (::stat(name.c_str(), &st) != 0) {
      int e = errno;
      return exec_error(file, "stat " + name + ": " + go_strerror(e),
                        e == ENOENT || e == ENOTDIR ? kExitNotFound : kExitNotExecutable);
    }
    int e = find_executable(name);
    if (e == 0) return name;
    return exec_error(file, go_strerror(e), kExitNotExecutable);
  }
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find(':', start);
    if (end == std::string_view::npos) end = path.size();
    std::string dir(path.substr(start, end - start));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (!path.empty() && find_executable(candidate) == 0) return candidate;
    start = end + 1;
  }
  return exec_error(file, "executable file not found in $PATH", kExitNotFound);
}

std::string_view env_value(const std::vector<std::string>& env, std::string_view name,
                           bool* found) {
  // The last definition wins, as for a shell's environment.
  std::string_view value;
  bool seen = false;
  for (const auto& kv : env) {
    if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 &&
        kv[name.size()] == '=') {
      value = std::string_view(kv).substr(name.size() + 1);
      seen = true;
    }
  }
  if (found) *found = seen;
  return value;
}

}  // namespace runvm::agent
