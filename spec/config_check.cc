#include "spec/config_check.h"

#include <seccomp.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "spec/rlimit_names.h"
#include "spec/vm_annotations.h"

namespace runvm::oci {
namespace {

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string at(std::string_view list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

runvm::Status check_capability_list(std::string_view path, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    cap_value_t value;
    // runc's names are upper case with the CAP_ prefix; libcap alone would
    // also take "cap_kill" or "12".
    bool ok = names[i].starts_with("CAP_") && std::none_of(names[i].begin(), names[i].end(),
                                                           [](char c) { return std::islower(c); });
    if (!ok || cap_from_name(names[i].c_str(), &value) != 0)
      return make_error(at(path, i) + ": unknown capability " + quote(names[i]));
  }
  return {};
}

// runc's rules, plus what no Linux kernel implements.
runvm::Status check_scheduler(const Scheduler& s) {
  const std::string& policy = s.policy;
  if (policy == "SCHED_ISO")
    return make_error("process.scheduler.policy: SCHED_ISO is not implemented by Linux");
  bool realtime = policy == "SCHED_FIFO" || policy == "SCHED_RR";
  if (s.priority != 0 && !realtime)
    return make_error("process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR policy");
  if (realtime && (s.priority < 1 || s.priority > 99))
    return make_error("process.scheduler.priority: must be between 1 and 99 for " + policy);
  if (policy != "SCHED_DEADLINE" && (s.runtime != 0 || s.deadline != 0 || s.period != 0))
    return make_error(
        "process.scheduler: runtime, deadline and period are only valid with SCHED_DEADLINE");
  return {};
}

runvm::Status check_process(const Process& p) {
  if (p.capabilities) {
    const Capabilities& c = *p.capabilities;
    RUNVM_CHECK(check_capability_list("process.capabilities.bounding", c.bounding));
    RUNVM_CHECK(check_capability_list("process.capabilities.effective", c.effective));
    RUNVM_CHECK(check_capability_list("process.capabilities.inheritable", c.inheritable));
    RUNVM_CHECK(check_capability_list("process.capabilities.permitted", c.permitted));
    RUNVM_CHECK(check_capability_list("process.capabilities.ambient", c.ambient));
  }
  for (size_t i = 0; i < p.rlimits.size(); ++i)
    if (!rlimit_from_name(p.rlimits[i].type))
      return make_error(at("process.rlimits", i) + ".type: unknown rlimit " +
                        quote(p.rlimits[i].type));
  if (p.scheduler) RUNVM_CHECK(check_scheduler(*p.scheduler));
  return {};
}

// "SCMP_ARCH_X86_64" -> libseccomp's "x86_64".
std::string seccomp_arch_token(std::string_view name) {
  std::string s(name.substr(std::string_view("SCMP_ARCH_").size()));
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

runvm::Status check_seccomp(const Seccomp& s) {
  if (!s.listener_path.empty())
    return make_error("linux.seccomp.listenerPath: seccomp notify is not supported");
  for (size_t i = 0; i < s.architectures.size(); ++i)
    if (seccomp_arch_resolve_name(seccomp_arch_token(s.architectures[i]).c_str()) == 0)
      return make_error(at("linux.seccomp.architectures", i) + ": unknown architecture " +
                        quote(s.architectures[i]));
  for (size_t i = 0; i < s.syscalls.size(); ++i)
    if (s.syscalls[i].action == "SCMP_ACT_NOTIFY")
      return make_error(at("linux.seccomp.syscalls", i) +
                        ".action: SCMP_ACT_NOTIFY is not supported");
  return {};
}

constexpr std::string_view kMountTypes[] = {"proc",   "sysfs",  "tmpfs",   "devpts",
                                            "mqueue", "cgroup", "cgroup2", "none"};

runvm::Status check_mounts(const std::vector<Mount>& mounts) {
  for (size_t i = 0; i < mounts.size(); ++i) {
    const Mount& m = mounts[i];
    std::string path = at("mounts", i);
    if (is_bind_mount(m)) {
      // load_bundle made a relative source the bundle's.
      if (m.source.empty() || m.source[0] != '/')
        return make_error(path + ".source: a bind mount needs a host path");
      struct stat st;
      if (::stat(m.source.c_str(), &st) != 0)
        return errno_error(path + ".source: " + quote(m.source));
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return make_error(path + ".source: " + quote(m.source) +
                          " is neither a directory nor a regular file");
      continue;
    }
    if (std::find(std::begin(kMountTypes), std::end(kMountTypes), m.type) == std::end(kMountTypes))
      return make_error(path + ".type: unsupported mount type " + quote(m.type));
  }
  return {};
}

}  // namespace

bool valid_sysctl_key(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  bool component_empty = true;
  for (char c : key) {
    if (c == '.' || c == '/') {
      if (component_empty) return false;
      component_empty = true;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
    component_empty = false;
  }
  return !component_empty;
}

bool is_bind_mount(const Mount& m) {
  if (m.type == "bind") return true;
  return std::any_of(m.options.begin(), m.options.end(),
                     [](const std::string& o) { return o == "bind" || o == "rbind"; });
}

// A hook that cannot run fails create: found here, before a VM boots for
// nothing, rather than when its turn comes. Hooks run on the host as the
// caller, who chose them; they are not the bundle's to reach.
runvm::Status check_hooks(const Hooks& hooks) {
  const std::pair<const char*, const std::vector<Hook>*> lists[] = {
      {"hooks.prestart", &hooks.prestart},
      {"hooks.createRuntime", &hooks.create_runtime},
      {"hooks.createContainer", &hooks.create_container},
      {"hooks.startContainer", &hooks.start_container},
      {"hooks.poststart", &hooks.poststart},
      {"hooks.poststop", &hooks.poststop}};
  for (const auto& [name, list] : lists)
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string& path = (*list)[i].path;
      std::string where = at(name, i) + ".path: " + quote(path);
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) return errno_error(where);
      if (!S_ISREG(st.st_mode)) return make_error(where + " is not a regular file");
      if (::access(path.c_str(), X_OK) != 0) return errno_error(where);
    }
  return {};
}

runvm::Status check_supported(const Config& config) {
  if (config.process) RUNVM_CHECK(check_process(*config.process));
  RUNVM_CHECK(check_mounts(config.mounts));
  RUNVM_CHECK(check_hooks(config.hooks));
  if (config.domainname.size() > 64) return make_error("domainname: longer than 64 bytes");
  RUNVM_CHECK(parse_vm_annotations(config.annotations));
  if (!config.linux_) return {};
  const Linux& l = *config.linux_;
  for (const auto& [key, value] : l.sysctl)
    if (!valid_sysctl_key(key)) return make_error("linux.sysctl: invalid key " + quote(key));
  if (l.seccomp) RUNVM_CHECK(check_seccomp(*l.seccomp));
  // Decided: no user namespaces. The VM already separates the container from
  // the host, and shifting ownership through virtio-fs would make the files in
  // the bundle disagree with what the container sees. Refuse rather than
  // ignore the mappings silently.
  for (size_t i = 0; i < l.namespaces.size(); ++i) {
    if (l.namespaces[i].type == NamespaceType::kUser)
      return make_error(at("linux.namespaces", i) +
                        ".type: user namespaces are not supported: the microVM is the isolation "
                        "boundary (run rootful, without uid/gid mappings)");
  }
  if (!l.uid_mappings.empty() || !l.gid_mappings.empty())
    return make_error(
        "linux.uidMappings: id mappings need a user namespace, which runvm does not "
        "support");
  return {};
}

std::vector<std::string> ignored_settings(const Config& config) {
  std::vector<std::string> out;
  if (config.process && !config.process->apparmor_profile.empty())
    out.push_back("process.apparmorProfile " + quote(config.process->apparmor_profile) +
                  " ignored: the VM is the isolation boundary");
  if (config.process && !config.process->selinux_label.empty())
    out.push_back("process.selinuxLabel " + quote(config.process->selinux_label) +
                  " ignored: the VM is the isolation boundary");
  return out;
}

}  // namespace runvm::oci
