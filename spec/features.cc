#include "spec/features.h"

#include <seccomp.h>

#include <string_view>

#include "spec/base/json.h"
#include "spec/json_indent.h"
#include "spec/seccomp_names.h"

namespace runvm::oci {

namespace {

// In runc's order (mount options sorted, as runc sorts them).
constexpr std::string_view kHooks[] = {"prestart",       "createRuntime", "createContainer",
                                       "startContainer", "poststart",     "poststop"};

constexpr std::string_view kMountOptions[] = {
    "async",         "atime",      "bind",       "defaults",   "dev",
    "diratime",      "dirsync",    "exec",       "iversion",   "lazytime",
    "loud",          "mand",       "noatime",    "nodev",      "nodiratime",
    "noexec",        "noiversion", "nolazytime", "nomand",     "norelatime",
    "nostrictatime", "nosuid",     "private",    "rbind",      "relatime",
    "remount",       "ro",         "rprivate",   "rshared",    "rslave",
    "runbindable",   "rw",         "shared",     "silent",     "slave",
    "strictatime",   "suid",       "sync",       "unbindable",
};

constexpr std::string_view kNamespaces[] = {"cgroup", "ipc",  "mount", "network",
                                            "pid",    "time", "user",  "uts"};

// Every capability of the guest kernel (Linux 6.1), CAP_LAST_CAP included.
constexpr std::string_view kCapabilities[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

template <class Range>
void string_array(json::Writer& w, const Range& items) {
  w.begin_array();
  for (std::string_view s : items) w.string(s);
  w.end_array();
}

}  // namespace

std::string features_json() {
  json::Writer w;
  w.begin_object();
  w.key("ociVersionMin").string("1.0.0");
  w.key("ociVersionMax").string("1.1.0");
  w.key("hooks");
  string_array(w, kHooks);
  w.key("mountOptions");
  string_array(w, kMountOptions);

  w.key("linux").begin_object();
  w.key("namespaces");
  string_array(w, kNamespaces);
  w.key("capabilities");
  string_array(w, kCapabilities);
  // Cgroups are the guest's own (v2 inside the VM); systemd drivers apply to the host side.
  w.key("cgroup").begin_object();
  w.key("v1").boolean(false).key("v2").boolean(true);
  w.key("systemd").boolean(false).key("systemdUser").boolean(false);
  w.end_object();
  w.key("seccomp").begin_object();
  w.key("enabled").boolean(true);
  w.key("actions");
  string_array(w, kSeccompActions);
  w.key("operators");
  string_array(w, kSeccompOperators);
  w.key("archs");
  string_array(w, kSeccompArchs);
  w.key("knownFlags");
  string_array(w, kSeccompFlags);
  w.key("supportedFlags").begin_array();
  w.string("SECCOMP_FILTER_FLAG_TSYNC").string("SECCOMP_FILTER_FLAG_LOG");
  w.string("SECCOMP_FILTER_FLAG_SPEC_ALLOW");
  w.end_array();
  w.end_object();
  w.key("apparmor").begin_object().key("enabled").boolean(false).end_object();
  w.key("selinux").begin_object().key("enabled").boolean(false).end_object();
  w.end_object();

  const scmp_version* v = seccomp_version();
  w.key("annotations").begin_object();
  w.key("io.github.runvm.microvm").string("true");
  if (v) {
    w.key("io.github.seccomp.libseccomp.version")
        .string(std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                std::to_string(v->micro));
  }
  w.end_object();
  w.end_object();
  return indent_json(w.str(), "    ") + "\n";
}

}  // namespace runvm::oci
