#include "guest/agent/cgroup_stats.h"

#include <dirent.h>
#include <sys/stat.h>

#include <charconv>
#include <memory>

#include "guest/agent/kernel_file.h"
#include "guest/protocol/linux_spec.h"

namespace runvm::agent {
namespace {

std::optional<uint64_t> parse_u64(std::string_view digits) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
    return std::nullopt;
  return n;
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > proto::kMaxStatKeyLength) return false;
  for (char c : key)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// One "key value" file as a lookup; missing file: empty.
std::vector<std::pair<std::string, uint64_t>> read_keyed(const std::string& path) {
  auto text = read_kernel_file(path);
  return text.ok() ? parse_flat_keyed(*text) : std::vector<std::pair<std::string, uint64_t>>{};
}

uint64_t lookup(const std::vector<std::pair<std::string, uint64_t>>& kv, std::string_view key) {
  for (const auto& [k, v] : kv)
    if (k == key) return v;
  return 0;
}

// A single-number file (memory.current, a limit); missing or bad: 0.
uint64_t read_number(const std::string& path) {
  auto text = read_kernel_file(path);
  return text.ok() ? parse_cgroup_limit(*text).value_or(0) : 0;
}

// The page sizes of hugetlb.<size>.current files in `dir`, as the kernel
// names them ("2MB").
std::vector<std::string> hugepage_sizes(const std::string& dir) {
  std::vector<std::string> sizes;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return sizes;
  constexpr std::string_view kPrefix = "hugetlb.", kSuffix = ".current";
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) continue;
    std::string size(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()));
    if (proto::valid_hugepage_size(size) && sizes.size() < proto::kMaxHugepageSizes)
      sizes.push_back(std::move(size));
  }
  return sizes;
}

}  // namespace

std::vector<std::pair<std::string, uint64_t>> parse_flat_keyed(std::string_view text,
                                                               size_t max_keys) {
  std::vector<std::pair<std::string, uint64_t>> out;
  size_t at = 0;
  while (at < text.size() && out.size() < max_keys) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view key = line.substr(0, space);
    auto value = parse_u64(line.substr(space + 1));
    if (!valid_key(key) || !value) continue;
    bool seen = false;
    for (const auto& kv : out) seen = seen || kv.first == key;
    if (!seen) out.emplace_back(std::string(key), *value);
  }
  return out;
}

std::optional<uint64_t> parse_cgroup_limit(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text == "max") return 0;
  return parse_u64(text);
}

Result<proto::ContainerStats> read_cgroup_stats(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return errno_error("container cgroup " + dir);
  proto::ContainerStats s;
  // cgroup2 counts CPU time in microseconds; runc reports nanoseconds.
  auto cpu = read_keyed(dir + "/cpu.stat");
  s.cpu_usage_ns = lookup(cpu, "usage_usec") * 1000;
  s.cpu_user_ns = lookup(cpu, "user_usec") * 1000;
  s.cpu_system_ns = lookup(cpu, "system_usec") * 1000;
  s.cpu_periods = lookup(cpu, "nr_periods");
  s.cpu_throttled_periods = lookup(cpu, "nr_throttled");
  s.cpu_throttled_ns = lookup(cpu, "throttled_usec") * 1000;
  s.memory_usage = read_number(dir + "/memory.current");
  s.memory_max_usage = read_number(dir + "/memory.peak");
  s.memory_limit = read_number(dir + "/memory.max");
  auto events = read_keyed(dir + "/memory.events");
  s.memory_failcnt = lookup(events, "max");
  s.oom_kills = lookup(events, "oom_kill");
  s.memory_stat = read_keyed(dir + "/memory.stat");
  s.pids_current = read_number(dir + "/pids.current");
  s.pids_limit = read_number(dir + "/pids.max");
  for (auto& size : hugepage_sizes(dir)) {
    proto::HugetlbUsage h;
    h.usage = read_number(dir + "/hugetlb." + size + ".current");
    h.failcnt = lookup(read_keyed(dir + "/hugetlb." + size + ".events"), "max");
    h.page_size = std::move(size);
    s.hugetlb.push_back(std::move(h));
  }
  return s;
}

}  // namespace runvm::agent
