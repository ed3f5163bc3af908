#include "guest/agent/container_cgroup.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <set>
#include <utility>

#include "guest/agent/kernel_file.h"

namespace runvm::agent {
namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status check_available(const std::set<std::string>& available, const proto::LinuxSpec& spec) {
  if (spec.pids_limit && !available.count("pids"))
    return make_error("linux.resources.pids: the guest kernel has no pids cgroup controller");
  if (spec.memory_limit && !available.count("memory"))
    return make_error("linux.resources.memory: the guest kernel has no memory cgroup controller");
  if ((spec.cpu_quota || spec.cpu_period || spec.cpu_weight) && !available.count("cpu"))
    return make_error("linux.resources.cpu: the guest kernel has no cpu cgroup controller");
  if (!spec.hugepage_limits.empty() && !available.count("hugetlb"))
    return make_error(
        "linux.resources.hugepageLimits: the guest kernel has no hugetlb cgroup controller");
  return {};
}

uint64_t total_ram() {
  struct sysinfo si;
  if (::sysinfo(&si) != 0) return 0;
  return static_cast<uint64_t>(si.totalram) * si.mem_unit;
}

Status write_cpu(const std::string& dir, const proto::LinuxSpec& spec) {
  if (spec.cpu_quota || spec.cpu_period) {
    // As runc: a period alone keeps the quota unlimited; a quota alone
    // takes the kernel's default period.
    std::string quota =
        spec.cpu_quota && *spec.cpu_quota > 0 ? std::to_string(*spec.cpu_quota) : "max";
    std::string v = quota + " " + std::to_string(spec.cpu_period.value_or(100000));
    RUNVM_CHECK(write_kernel_file(dir + "/cpu.max", v).context("linux.resources.cpu.quota"));
  }
  if (spec.cpu_weight)
    RUNVM_CHECK(write_kernel_file(dir + "/cpu.weight", std::to_string(*spec.cpu_weight))
                    .context("linux.resources.cpu.shares"));
  return {};
}

}  // namespace

Status ContainerCgroup::set_memory_max(std::optional<uint64_t> limit, uint64_t guest_ram) {
  if (path_.empty()) return make_error("memory.limit: the guest has no cgroups", ENOTSUP);
  return write_kernel_file(path_ + "/memory.max",
                           std::to_string(container_memory_max(limit, guest_ram)))
      .context("memory.limit");
}

Status ContainerCgroup::update(const proto::UpdateResources& u) {
  if (path_.empty()) return make_error("the guest has no cgroups", ENOTSUP);
  if (u.cpu_quota || u.cpu_period) {
    // cpu.max takes both: the host sends the container's merged values.
    std::string quota = u.cpu_quota && *u.cpu_quota > 0 ? std::to_string(*u.cpu_quota) : "max";
    RUNVM_CHECK(write_kernel_file(path_ + "/cpu.max",
                                  quota + " " + std::to_string(u.cpu_period.value_or(100000)))
                    .context(u.cpu_quota ? "cpu.quota" : "cpu.period"));
  }
  if (u.cpu_weight)
    RUNVM_CHECK(write_kernel_file(path_ + "/cpu.weight", std::to_string(*u.cpu_weight))
                    .context("cpu.shares"));
  if (u.pids_limit) {
    std::string v = *u.pids_limit > 0 ? std::to_string(*u.pids_limit) : "max";
    RUNVM_CHECK(write_kernel_file(path_ + "/pids.max", v).context("pids.limit"));
  }
  return {};
}

namespace {

// `memory_max_now`: memory.max as it is already (a spare's), not written again.
Status write_limits(const std::string& dir, const proto::LinuxSpec& spec,
                    const std::set<std::string>& available, uint64_t guest_ram,
                    uint64_t memory_max_now = 0) {
  if (available.count("memory")) {
    uint64_t max = container_memory_max(spec.memory_limit, guest_ram ? guest_ram : total_ram());
    if (max != memory_max_now)
      RUNVM_CHECK(write_kernel_file(dir + "/memory.max", std::to_string(max))
                      .context("linux.resources.memory.limit"));
  }
  RUNVM_CHECK(write_cpu(dir, spec));
  if (spec.pids_limit) {
    // runc: a negative limit means none.
    std::string v = *spec.pids_limit > 0 ? std::to_string(*spec.pids_limit) : "max";
    RUNVM_CHECK(write_kernel_file(dir + "/pids.max", v).context("linux.resources.pids.limit"));
  }
  for (size_t i = 0; i < spec.hugepage_limits.size(); ++i) {
    const proto::HugepageLimit& h = spec.hugepage_limits[i];
    std::string where = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
    // The parser allows only sizes ("2MB"): the name stays a file here.
    if (!proto::valid_hugepage_size(h.page_size))
      return make_error(where + ".pageSize: invalid size \"" + h.page_size + "\"");
    std::string file = dir + "/hugetlb." + h.page_size + ".max";
    if (!exists(file))
      return make_error(where + ".pageSize: the guest kernel has no " + h.page_size +
                        " huge pages");
    RUNVM_CHECK(write_kernel_file(file, std::to_string(h.limit)).context(where));
    // Reservations count too where the kernel tracks them (as runc).
    std::string rsvd = dir + "/hugetlb." + h.page_size + ".rsvd.max";
    if (exists(rsvd)) RUNVM_CHECK(write_kernel_file(rsvd, std::to_string(h.limit)).context(where));
  }
  return {};
}

}  // namespace

std::string cgroup_name(const std::string& id) {
  constexpr size_t kMaxPlain = 249;  // "runvm-" + id within NAME_MAX (255)
  if (id.size() <= kMaxPlain) return "runvm-" + id;
  // Longer ids are cut, so two in one VM could share a prefix: the hash of
  // the whole id (FNV-1a) keeps their cgroups apart.
  uint64_t h = 0xcbf29ce484222325;
  for (unsigned char ch : id) h = (h ^ ch) * 0x100000001b3;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "runvm-" + id.substr(0, 200) + "-" + hex;
}

uint64_t container_memory_max(std::optional<uint64_t> limit, uint64_t guest_ram) {
  // What the agent, its relays and the guest kernel's own allocations need
  // beyond the container (the agent is static and small; 128 MiB guests have
  // ~104 MiB available after boot): 16 MiB, or 1/32 of larger guests.
  constexpr uint64_t kMinReserve = 16ull << 20;
  uint64_t reserve = std::max(kMinReserve, guest_ram / 32);
  // A guest too small for the reserve: half of it, so the cgroup still caps.
  uint64_t cap = guest_ram > 2 * reserve ? guest_ram - reserve : guest_ram / 2;
  return limit ? std::min(*limit, cap) : cap;
}

std::optional<uint64_t> parse_events_value(std::string_view events, std::string_view key) {
  size_t at = 0;
  while (at < events.size()) {
    size_t end = events.find('\n', at);
    if (end == std::string_view::npos) end = events.size();
    std::string_view line = events.substr(at, end - at);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
      std::string_view digits = line.substr(key.size() + 1);
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
        return std::nullopt;
      return n;
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_oom_kills(std::string_view events) {
  return parse_events_value(events, "oom_kill");
}

Status ContainerCgroup::set_frozen(bool frozen) {
  if (path_.empty()) return make_error("the container has no cgroup to freeze", ENOTSUP);
  return write_kernel_file(path_ + "/cgroup.freeze", frozen ? "1" : "0");
}

Result<bool> ContainerCgroup::frozen() const {
  if (path_.empty()) return make_error("the container has no cgroup to freeze", ENOTSUP);
  std::string events = RUNVM_TRY(read_kernel_file(path_ + "/cgroup.events"));
  auto v = parse_events_value(events, "frozen");
  if (!v || *v > 1) return make_error(path_ + "/cgroup.events: no \"frozen\" line");
  return *v == 1;
}

namespace {

Result<std::set<std::string>> available_controllers(const std::string& root) {
  std::string controllers = RUNVM_TRY(read_kernel_file(root + "/cgroup.controllers"));
  // Split by hand: an istringstream here was the cold path's only use of
  // iostreams, a lot of libstdc++ for TCG to translate on first use.
  std::set<std::string> available;
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  std::string_view rest = controllers;
  for (size_t at; (at = rest.find_first_not_of(kSpace)) != std::string_view::npos;) {
    rest.remove_prefix(at);
    size_t end = std::min(rest.find_first_of(kSpace), rest.size());
    available.emplace(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  return available;
}

// One at a time: a controller the kernel will not delegate must not keep
// the others (and the limits asked for) from the container.
void enable_controllers(const std::string& root, const std::set<std::string>& available) {
  for (const auto& c : available)
    (void)write_kernel_file(root + "/cgroup.subtree_control", "+" + c);
}

}  // namespace

CgroupSpare::~CgroupSpare() {
  if (spare_) ::rmdir(spare_->path.c_str());
}

Status CgroupSpare::make(const std::string& root) {
  if (spare_) return {};
  Taken t;
  t.available = RUNVM_TRY(available_controllers(root));
  enable_controllers(root, t.available);
  // Not "runvm-...": no container id can name it (cgroup_name).
  t.path = root + "/spare-1";
  if (::mkdir(t.path.c_str(), 0755) != 0) return errno_error("creating the spare cgroup " + t.path);
  // What a container without a memory limit gets: its create then writes
  // nothing there.
  if (t.available.count("memory")) {
    uint64_t max = container_memory_max(std::nullopt, total_ram());
    if (write_kernel_file(t.path + "/memory.max", std::to_string(max)).ok()) t.memory_max = max;
  }
  spare_ = std::move(t);
  return {};
}

std::optional<CgroupSpare::Taken> CgroupSpare::take() {
  return std::exchange(spare_, std::nullopt);
}

Result<ContainerCgroup> ContainerCgroup::create(const std::string& root, const std::string& id,
                                                const proto::LinuxSpec& spec, uint64_t guest_ram,
                                                CgroupSpare* spare) {
  if (root.empty()) {
    RUNVM_CHECK(check_available({}, spec));
    return ContainerCgroup();
  }
  // The spare's controllers were enabled and read when it was made; it is
  // fresh, so none of the take-over below applies to it.
  std::optional<CgroupSpare::Taken> taken = spare ? spare->take() : std::nullopt;
  std::set<std::string> available =
      taken ? std::move(taken->available) : RUNVM_TRY(available_controllers(root));
  if (auto st = check_available(available, spec); !st.ok()) {
    if (taken) ::rmdir(taken->path.c_str());
    return st.error();
  }
  std::string dir;
  if (taken) {
    dir = taken->path;
  } else {
    enable_controllers(root, available);
    // Prefixed, so no id ("pids.max") can name an interface file.
    dir = root + "/" + cgroup_name(id);
    if (::mkdir(dir.c_str(), 0755) != 0) {
      if (errno != EEXIST) return errno_error("creating the container's cgroup " + dir);
      // Taken over from an earlier container of this id (processes it left
      // kept it): one paused when it ended must not freeze the new one.
      if (exists(dir + "/cgroup.freeze"))
        RUNVM_CHECK(write_kernel_file(dir + "/cgroup.freeze", "0"));
    }
  }
  ContainerCgroup cg(dir);
  RUNVM_CHECK(write_limits(dir, spec, available, guest_ram, taken ? taken->memory_max : 0));
  return cg;
}

uint64_t ContainerCgroup::oom_kills() const {
  if (path_.empty()) return 0;
  auto events = read_kernel_file(path_ + "/memory.events");
  if (!events.ok()) return 0;
  return parse_oom_kills(*events).value_or(0);
}

ContainerCgroup::~ContainerCgroup() {
  // Fails while processes remain (an exec'd one may outlive the main one):
  // the VM goes away with them.
  if (!path_.empty()) ::rmdir(path_.c_str());
}

Status enter_cgroup(const std::string& dir) {
  if (dir.empty()) return {};
  RUNVM_CHECK(
      write_kernel_file(dir + "/cgroup.procs", "0").context("joining the container's cgroup"));
  if (::unshare(CLONE_NEWCGROUP) < 0) return errno_error("unshare cgroup namespace");
  return {};
}

}  // namespace runvm::agent
