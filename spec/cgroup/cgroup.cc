#include "spec/cgroup/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "spec/base/unique_fd.h"

namespace runvm::cgroup {
namespace {

std::string read_small(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One value into a cgroup file. No O_CREAT: a file that is not there means
// its controller is not, which must fail rather than be made up.
Status write_file(const std::string& dir, const std::string& name, const std::string& value) {
  std::string path = dir + "/" + name;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return errno_error(path);
  ssize_t n = write(fd.get(), value.data(), value.size());
  if (n < 0) return errno_error("write " + value + " to " + path);
  if (static_cast<size_t>(n) != value.size()) return make_error("short write to " + path);
  return {};
}

// The directories from the hierarchy's mountpoint down to `dir`, top first
// (the mountpoint itself left out).
std::vector<std::string> levels(const std::string& mountpoint, const std::string& dir) {
  std::vector<std::string> out;
  size_t pos = mountpoint.size();
  while (pos < dir.size()) {
    size_t next = dir.find('/', pos + 1);
    if (next == std::string::npos) next = dir.size();
    out.push_back(dir.substr(0, next));
    pos = next;
  }
  return out;
}

std::string parent_of(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

// A new v1 cpuset cgroup has empty cpus and mems: take the parent's.
Status inherit_cpuset(const std::string& dir) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    if (!trimmed(read_small(dir + "/" + file)).empty()) continue;
    std::string from = trimmed(read_small(parent_of(dir) + "/" + file));
    RUNVM_CHECK(write_file(dir, file, from));
  }
  return {};
}

// v2: `dir`'s parent lets it have the hierarchy's controllers. Best effort:
// a parent with processes of its own cannot delegate (no internal
// processes), and a limit then fails in set(), naming its file.
void delegate(const Hierarchy& h, const std::string& dir) {
  std::string parent = parent_of(dir);
  for (const auto& c : h.controllers) (void)write_file(parent, "cgroup.subtree_control", "+" + c);
}

}  // namespace

uint64_t cpu_weight_of_shares(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

int64_t host_memory_limit(uint64_t guest_bytes, uint64_t overhead_mib) {
  return static_cast<int64_t>(guest_bytes + (overhead_mib << 20));
}

Result<std::string> clean_path(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..")
      return make_error("cgroup path " + std::string(path) + ": \"..\" is not allowed");
    if (!part.empty() && part != ".") {
      if (!out.empty() || path.starts_with('/')) out += '/';
      out += part;
    }
    start = end + 1;
  }
  if (out.empty() || out == "/")
    return make_error("cgroup path \"" + std::string(path) + "\" names no cgroup");
  return out;
}

Result<Cgroup> Cgroup::resolve(const Layout& layout, std::string_view path) {
  Cgroup cg;
  cg.path_ = RUNVM_TRY(clean_path(path));
  cg.mode_ = layout.mode;
  bool absolute = cg.path_[0] == '/';
  for (const auto& h : layout.hierarchies) {
    std::string dir = h.mountpoint;
    if (!absolute && h.own != "/") dir += h.own;
    dir += (absolute ? "" : "/") + cg.path_;
    cg.dirs_.push_back({&h, dir});
  }
  return cg;
}

Status Cgroup::create() const {
  // What this call made, removed again if a later step fails.
  std::vector<std::string> made;
  auto undo = [&](Error e) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) rmdir(it->c_str());
    return e;
  };
  for (const auto& d : dirs_) {
    for (const auto& level : levels(d.hierarchy->mountpoint, d.path)) {
      if (mkdir(level.c_str(), 0755) == 0) {
        made.push_back(level);
        if (mode_ == Mode::kV2) delegate(*d.hierarchy, level);
      } else if (errno != EEXIST) {
        return undo(errno_error("create cgroup " + level));
      }
      if (d.hierarchy->version == 1 && d.hierarchy->has("cpuset")) {
        auto inherited = inherit_cpuset(level);
        if (!inherited.ok()) return undo(std::move(inherited).error().wrap("create cgroup"));
      }
    }
  }
  return {};
}

Status Cgroup::join(pid_t pid) const {
  for (const auto& d : dirs_)
    RUNVM_CHECK(write_file(d.path, "cgroup.procs", std::to_string(pid)).context("join cgroup"));
  return {};
}

std::string Cgroup::dir_of(std::string_view controller) const {
  for (int version : {1, 2})
    for (const auto& d : dirs_)
      if (d.hierarchy->version == version && d.hierarchy->has(controller)) return d.path;
  return "";
}

Status Cgroup::set(const Limits& l) const {
  auto dir = [&](std::string_view controller) -> Result<std::pair<std::string, int>> {
    std::string d = dir_of(controller);
    if (d.empty())
      return make_error("no cgroup hierarchy has the " + std::string(controller) + " controller");
    for (const auto& x : dirs_)
      if (x.path == d) return std::pair{d, x.hierarchy->version};
    return make_error("unreachable");
  };
  if (l.memory_bytes) {
    auto [d, v] = RUNVM_TRY(dir("memory"));
    bool unlimited = *l.memory_bytes < 0;
    std::string value = unlimited ? (v == 1 ? "-1" : "max") : std::to_string(*l.memory_bytes);
    RUNVM_CHECK(write_file(d, v == 1 ? "memory.limit_in_bytes" : "memory.max", value));
  }
  if (l.cpu_shares && *l.cpu_shares > 0) {
    auto [d, v] = RUNVM_TRY(dir("cpu"));
    if (v == 1)
      RUNVM_CHECK(write_file(d, "cpu.shares", std::to_string(*l.cpu_shares)));
    else
      RUNVM_CHECK(write_file(d, "cpu.weight", std::to_string(cpu_weight_of_shares(*l.cpu_shares))));
  }
  if (l.cpu_quota_us || l.cpu_period_us) {
    auto [d, v] = RUNVM_TRY(dir("cpu"));
    if (v == 1) {
      // The period first: a quota is checked against the period in place.
      if (l.cpu_period_us)
        RUNVM_CHECK(write_file(d, "cpu.cfs_period_us", std::to_string(*l.cpu_period_us)));
      if (l.cpu_quota_us)
        RUNVM_CHECK(write_file(d, "cpu.cfs_quota_us",
                               std::to_string(*l.cpu_quota_us < 0 ? -1 : *l.cpu_quota_us)));
    } else {
      std::string quota =
          !l.cpu_quota_us || *l.cpu_quota_us < 0 ? "max" : std::to_string(*l.cpu_quota_us);
      RUNVM_CHECK(
          write_file(d, "cpu.max", quota + " " + std::to_string(l.cpu_period_us.value_or(100000))));
    }
  }
  if (l.cpuset_cpus || l.cpuset_mems) {
    auto [d, v] = RUNVM_TRY(dir("cpuset"));
    if (l.cpuset_cpus) RUNVM_CHECK(write_file(d, "cpuset.cpus", *l.cpuset_cpus));
    if (l.cpuset_mems) RUNVM_CHECK(write_file(d, "cpuset.mems", *l.cpuset_mems));
  }
  if (l.pids_max) {
    auto [d, v] = RUNVM_TRY(dir("pids"));
    RUNVM_CHECK(write_file(d, "pids.max", *l.pids_max <= 0 ? "max" : std::to_string(*l.pids_max)));
  }
  return {};
}

Result<int64_t> Cgroup::memory_usage() const {
  std::string d = dir_of("memory");
  if (d.empty()) return make_error("no cgroup hierarchy has the memory controller");
  bool v1 = false;
  for (const auto& x : dirs_)
    if (x.path == d) v1 = x.hierarchy->version == 1;
  std::string file = d + (v1 ? "/memory.usage_in_bytes" : "/memory.current");
  std::string text = trimmed(read_small(file));
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return make_error("cannot read " + file);
  return n;
}

std::vector<pid_t> Cgroup::pids() const {
  std::vector<pid_t> out;
  for (const auto& d : dirs_) {
    std::string procs = read_small(d.path + "/cgroup.procs");
    size_t start = 0;
    while (start < procs.size()) {
      size_t end = procs.find('\n', start);
      if (end == std::string::npos) end = procs.size();
      pid_t pid = static_cast<pid_t>(atol(procs.substr(start, end - start).c_str()));
      if (pid > 0 && std::find(out.begin(), out.end(), pid) == out.end()) out.push_back(pid);
      start = end + 1;
    }
  }
  return out;
}

Status Cgroup::remove() const {
  Status result;
  for (const auto& d : dirs_) {
    int tries = 0;
    while (rmdir(d.path.c_str()) != 0 && errno != ENOENT) {
      int e = errno;
      std::string procs = trimmed(read_small(d.path + "/cgroup.procs"));
      // An exited process leaves its cgroup when the kernel frees it, a
      // moment after it was reaped: EBUSY with no process listed is that.
      if (e == EBUSY && procs.empty() && ++tries < 100) {
        usleep(10 * 1000);
        continue;
      }
      if (result.ok()) {
        for (char& c : procs)
          if (c == '\n') c = ' ';
        result =
            e == EBUSY && !procs.empty()
                ? make_error("remove cgroup " + d.path + ": processes still in it: " + procs, EBUSY)
                : errno_error("remove cgroup " + d.path, e);
      }
      break;
    }
  }
  return result;
}

}  // namespace runvm::cgroup
