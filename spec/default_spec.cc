#include "spec/default_spec.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <initializer_list>
#include <string_view>

#include "spec/base/json.h"
#include "spec/json_indent.h"

namespace runvm::oci {

namespace {

struct DefaultMount {
  std::string_view destination, type, source;
  std::initializer_list<std::string_view> options;
};

// specconv.Example()'s mounts, in order.
const DefaultMount kMounts[] = {
    {"/proc", "proc", "proc", {}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
    {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
};

// ToRootless() binds the host's /sys instead of a new sysfs.
const DefaultMount kRootlessSys = {
    "/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};

constexpr std::string_view kCaps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};

constexpr std::string_view kMaskedPaths[] = {
    "/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/sys/firmware",       "/proc/scsi",
};

constexpr std::string_view kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                               "/proc/sysrq-trigger"};

template <class Range>
void string_array(json::Writer& w, const Range& items) {
  w.begin_array();
  for (std::string_view s : items) w.string(s);
  w.end_array();
}

void write_mount(json::Writer& w, const DefaultMount& m, bool rootless) {
  w.begin_object();
  w.key("destination").string(m.destination);
  w.key("type").string(m.type);
  w.key("source").string(m.source);
  bool any = false;
  for (std::string_view o : m.options) {
    // ToRootless() drops uid=/gid= options: those ids are not mapped.
    if (rootless && (o.starts_with("uid=") || o.starts_with("gid="))) continue;
    if (!any) w.key("options").begin_array();
    any = true;
    w.string(o);
  }
  if (any) w.end_array();
  w.end_object();
}

void write_id_mapping(json::Writer& w, uint32_t host_id) {
  w.begin_array().begin_object();
  w.key("containerID").integer(0).key("hostID").uinteger(host_id).key("size").integer(1);
  w.end_object().end_array();
}

void write_process(json::Writer& w) {
  w.begin_object();
  w.key("terminal").boolean(true);
  w.key("user").begin_object().key("uid").integer(0).key("gid").integer(0).end_object();
  w.key("args").begin_array().string("sh").end_array();
  w.key("env").begin_array();
  w.string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  w.string("TERM=xterm");
  w.end_array();
  w.key("cwd").string("/");
  // runc >= 1.1.2 sets no inheritable capabilities (CVE-2022-29162).
  w.key("capabilities").begin_object();
  for (const char* set : {"bounding", "effective", "permitted", "ambient"}) {
    w.key(set);
    string_array(w, kCaps);
  }
  w.end_object();
  w.key("rlimits").begin_array().begin_object();
  w.key("type").string("RLIMIT_NOFILE").key("hard").integer(1024).key("soft").integer(1024);
  w.end_object().end_array();
  w.key("noNewPrivileges").boolean(true);
  w.end_object();
}

void write_linux(json::Writer& w, const DefaultSpecOptions& o) {
  w.begin_object();
  if (o.rootless) {
    w.key("uidMappings");
    write_id_mapping(w, o.uid);
    w.key("gidMappings");
    write_id_mapping(w, o.gid);
  } else {
    // ToRootless() drops resources: a rootless runtime may not own cgroups.
    w.key("resources").begin_object().key("devices").begin_array();
    w.begin_object().key("allow").boolean(false).key("access").string("rwm").end_object();
    w.end_array().end_object();
  }
  w.key("namespaces").begin_array();
  auto ns = [&](std::string_view t) { w.begin_object().key("type").string(t).end_object(); };
  ns("pid");
  if (!o.rootless) ns("network");
  ns("ipc");
  ns("uts");
  ns("mount");
  if (o.cgroup_ns) ns("cgroup");
  if (o.rootless) ns("user");
  w.end_array();
  w.key("maskedPaths");
  string_array(w, kMaskedPaths);
  w.key("readonlyPaths");
  string_array(w, kReadonlyPaths);
  w.end_object();
}

bool host_cgroup2_unified() {
  struct statfs fs;
  return ::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

std::string default_config_json(const DefaultSpecOptions& o) {
  // Field order is runtime-spec's Go struct order, as json.MarshalIndent writes it.
  json::Writer w;
  w.begin_object();
  w.key("ociVersion").string("1.0.2-dev");
  w.key("process");
  write_process(w);
  w.key("root")
      .begin_object()
      .key("path")
      .string("rootfs")
      .key("readonly")
      .boolean(true)
      .end_object();
  w.key("hostname").string("runc");
  w.key("mounts").begin_array();
  for (const DefaultMount& m : kMounts)
    write_mount(w, o.rootless && m.destination == "/sys" ? kRootlessSys : m, o.rootless);
  w.end_array();
  w.key("linux");
  write_linux(w, o);
  w.end_object();
  return indent_json(w.str(), "\t");
}

std::string default_config_json(bool rootless) {
  DefaultSpecOptions o;
  o.rootless = rootless;
  o.cgroup_ns = host_cgroup2_unified();
  o.uid = static_cast<uint32_t>(::geteuid());
  o.gid = static_cast<uint32_t>(::getegid());
  return default_config_json(o);
}

}  // namespace runvm::oci
