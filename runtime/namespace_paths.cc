#include "runtime/namespace_paths.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cctype>

namespace runvm::cli {
namespace {

int clone_flag(oci::NamespaceType t) {
  switch (t) {
    case oci::NamespaceType::kPid:
      return CLONE_NEWPID;
    case oci::NamespaceType::kNetwork:
      return CLONE_NEWNET;
    case oci::NamespaceType::kMount:
      return CLONE_NEWNS;
    case oci::NamespaceType::kIpc:
      return CLONE_NEWIPC;
    case oci::NamespaceType::kUts:
      return CLONE_NEWUTS;
    case oci::NamespaceType::kUser:
      return CLONE_NEWUSER;
    case oci::NamespaceType::kCgroup:
      return CLONE_NEWCGROUP;
    case oci::NamespaceType::kTime:
      return CLONE_NEWTIME;
  }
  return 0;
}

std::string type_name(int flag) {
  for (auto t : {oci::NamespaceType::kPid, oci::NamespaceType::kNetwork, oci::NamespaceType::kMount,
                 oci::NamespaceType::kIpc, oci::NamespaceType::kUts, oci::NamespaceType::kUser,
                 oci::NamespaceType::kCgroup, oci::NamespaceType::kTime})
    if (clone_flag(t) == flag) return std::string(to_string(t));
  return "unknown";
}

}  // namespace

std::string namespace_owner_exe(const std::string& path) {
  constexpr std::string_view kProc = "/proc/";
  if (path.compare(0, kProc.size(), kProc) != 0) return "";
  size_t end = kProc.size();
  while (end < path.size() && std::isdigit(static_cast<unsigned char>(path[end]))) ++end;
  if (end == kProc.size() || path.compare(end, 4, "/ns/") != 0) return "";
  std::string exe_link = path.substr(0, end) + "/exe";
  char buf[4096];
  ssize_t n = ::readlink(exe_link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.ends_with(kDeleted))
    exe.resize(exe.size() - kDeleted.size());
  return exe.substr(exe.rfind('/') + 1);
}

Result<UniqueFd> check_namespace_paths(const std::vector<oci::Namespace>& namespaces) {
  UniqueFd netns;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    const oci::Namespace& ns = namespaces[i];
    if (ns.path.empty()) continue;
    std::string where = "linux.namespaces[" + std::to_string(i) + "].path";
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return errno_error(where + ": " + ns.path);
    struct statfs fs;
    if (::fstatfs(fd.get(), &fs) < 0) return errno_error(where + ": " + ns.path);
    if (fs.f_type != NSFS_MAGIC) return make_error(where + ": " + ns.path + " is not a namespace");
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type < 0) return errno_error(where + ": " + ns.path);
    std::string wanted(to_string(ns.type));
    if (type != clone_flag(ns.type))
      return make_error(where + ": " + ns.path + " is a " + type_name(type) + " namespace, not " +
                        wanted);
    if (ns.type == oci::NamespaceType::kNetwork) {
      netns = std::move(fd);
      continue;
    }
    if (namespace_owner_exe(ns.path) == "runvm-shim") continue;
    return make_error(where + ": cannot join the host's " + wanted + " namespace " + ns.path +
                      ": a runvm container has its guest kernel's own");
  }
  return netns;
}

}  // namespace runvm::cli
