#include "runtime/released_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include "runtime/config_snapshot.h"
#include "spec/base/log.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

namespace {

// A cgroup file's text; nullopt when there is none (not this controller's,
// or not this version's).
std::optional<std::string> read_limit(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[4096];  // a cpuset's list of a many-CPU host
  ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n < 0) return std::nullopt;
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Status write_limit(const std::string& path, const std::string& value) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd || write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return errno_error("write " + path);
  return {};
}

}  // namespace

Status place_released_in(const cgroup::Layout& layout, const std::string& container_path,
                         const std::string& unit, const std::vector<pid_t>& pids) {
  if (!validate_id(unit).ok()) return make_error("pool unit name \"" + unit + "\" is invalid");
  auto from = RUNVM_TRY(cgroup::Cgroup::resolve(layout, container_path));
  auto to = RUNVM_TRY(cgroup::Cgroup::resolve(layout, std::string(kReleasedCgroup) + "/" + unit));
  // The container's limits, read before its cgroup goes.
  std::vector<std::pair<std::string, std::string>> limits;  // (file in `to`, value)
  for (size_t i = 0; i < from.dirs().size(); ++i)
    for (const char* name : kCopiedLimits) {
      std::string file = from.dirs()[i].path + "/" + name;
      // cgroup v2: the cpus and mems in force are the .effective ones; the
      // container's own may be empty (its parent's) or wider than its
      // parent lets it have, neither of which holds under /runvm-released.
      // v1 has no such file: its cpuset.cpus is in force.
      std::optional<std::string> v;
      if (std::string_view(name).starts_with("cpuset.")) v = read_limit(file + ".effective");
      if (!v || v->empty()) v = read_limit(file);
      if (v && !v->empty()) limits.emplace_back(to.dirs()[i].path + "/" + name, *v);
    }
  // A sweep removes an empty released cgroup: ours, between its mkdir and
  // the first pid joining it, would be gone (ENOENT). Made again then.
  for (int attempt = 0;; ++attempt) {
    Status s = to.create();
    for (const auto& [path, value] : limits)
      if (s.ok()) s = write_limit(path, value);
    for (pid_t pid : pids) {
      if (!s.ok()) break;
      s = to.join(pid);
      if (!s.ok() && s.error().code == ESRCH) s = {};  // it ended meanwhile
    }
    // Only a cgroup that is gone is made again: a limit file missing in one
    // that is there is a controller it lacks, for good.
    bool swept = !s.ok() && s.error().code == ENOENT &&
                 std::any_of(to.dirs().begin(), to.dirs().end(),
                             [](const auto& d) { return access(d.path.c_str(), F_OK) != 0; });
    if (s.ok() || !swept || attempt == 2) return std::move(s).context("released pool unit " + unit);
  }
}

Result<bool> place_released(const ContainerDir& container, const std::string& unit,
                            const std::vector<pid_t>& pids) {
  auto config = RUNVM_TRY(load_config_snapshot(container));
  if (!config.linux_ || config.linux_->cgroups_path.empty()) return false;
  auto layout = RUNVM_TRY(cgroup::detect_layout());
  sweep_released_cgroups(layout);
  RUNVM_CHECK(place_released_in(layout, config.linux_->cgroups_path, unit, pids));
  return true;
}

void sweep_released_cgroups(const cgroup::Layout& layout) {
  std::set<std::string> names;
  for (const auto& h : layout.hierarchies) {
    DIR* d = opendir((h.mountpoint + kReleasedCgroup).c_str());
    if (!d) continue;
    while (dirent* e = readdir(d))
      if (e->d_type == DT_DIR && validate_id(e->d_name).ok()) names.insert(e->d_name);
    closedir(d);
  }
  for (const auto& n : names) {
    // Refused while a process is in it (EBUSY): only ended units' go.
    auto cg = cgroup::Cgroup::resolve(layout, std::string(kReleasedCgroup) + "/" + n);
    if (!cg.ok()) continue;
    if (auto s = cg->remove(); !s.ok() && s.error().code != EBUSY) log::debug(s.error().message);
  }
}

void sweep_released_cgroups() {
  if (auto layout = cgroup::detect_layout(); layout.ok()) sweep_released_cgroups(*layout);
}

}  // namespace runvm::cli
