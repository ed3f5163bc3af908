#include "runtime/host_cgroup_memory.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace runvm::cli {
namespace {

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One number and a newline; "max" is 0 (none).
std::optional<uint64_t> read_value(const std::string& path) {
  auto text = slurp(path);
  if (!text) return std::nullopt;
  std::string_view v = *text;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
  if (v == "max") return 0;
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<HostCgroupMemory> read_host_cgroup_memory(const cgroup::Layout& layout) {
  const cgroup::Hierarchy* h = layout.with("memory");
  if (!h) return std::nullopt;
  std::string dir = h->mountpoint + (h->own == "/" ? "" : h->own);
  bool v1 = h->version == 1;
  auto usage = read_value(dir + (v1 ? "/memory.usage_in_bytes" : "/memory.current"));
  auto limit = read_value(dir + (v1 ? "/memory.limit_in_bytes" : "/memory.max"));
  if (!usage || !limit) return std::nullopt;
  return HostCgroupMemory{*usage, *limit};
}

std::optional<HostCgroupMemory> host_cgroup_memory(pid_t pid) {
  auto mountinfo = slurp("/proc/self/mountinfo");
  auto cgroups = slurp("/proc/" + std::to_string(pid) + "/cgroup");
  if (!mountinfo || !cgroups || cgroups->empty()) return std::nullopt;
  auto layout = cgroup::parse_layout(*mountinfo, *cgroups);
  if (!layout.ok()) return std::nullopt;
  return read_host_cgroup_memory(*layout);
}

}  // namespace runvm::cli
