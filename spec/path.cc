#include "spec/path.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace runvm::oci {

std::string clean_path(std::string_view p) {
  if (p.empty()) return ".";
  bool rooted = p.front() == '/';
  std::vector<std::string_view> parts;
  size_t climbs = 0;  // leading ".." kept in relative paths
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view part = p.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (parts.size() > climbs) {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(part);
        ++climbs;
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

Result<std::string> absolute_path(std::string_view p) {
  if (!p.empty() && p.front() == '/') return clean_path(p);
  std::unique_ptr<char, decltype(&free)> cwd(getcwd(nullptr, 0), &free);
  if (!cwd) return errno_error("getcwd");
  return clean_path(std::string(cwd.get()) + "/" + std::string(p));
}

}  // namespace runvm::oci
