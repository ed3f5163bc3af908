#include "shim/container/member_binds.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "spec/base/unique_fd.h"
#include "spec/config_check.h"
#include "spec/path.h"
#include "spec/pinned_path.h"

namespace runvm {

namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// `name` in `parent`, opened with no symlink followed: the pod dir is the
// guest's to write in, and a guest that swapped one of these for a symlink
// would have the shim mount a host path elsewhere on the host.
Result<UniqueFd> open_in(int parent, const std::string& name, const std::string& path) {
  UniqueFd fd(::openat(parent, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno_error("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat " + path);
  if (S_ISLNK(st.st_mode)) return make_error(path + ": is a symlink", ELOOP);
  return fd;
}

}  // namespace

Result<UniqueFd> MemberBinds::make_dir(const std::shared_ptr<const UniqueFd>& parent,
                                       const std::string& name, const std::string& path) {
  if (::mkdirat(parent->get(), name.c_str(), 0700) != 0) return errno_error("mkdir " + path);
  made_.push_back({parent, name, true});
  return open_in(parent->get(), name, path);
}

Result<MemberBinds> MemberBinds::bind(const std::string& pod_dir, const std::string& id,
                                      const std::string& share_tag,
                                      const std::vector<oci::Mount>& mounts,
                                      std::vector<proto::Mount>& out) {
  MemberBinds b;
  out.clear();
  std::shared_ptr<const UniqueFd> member_fd;  // <pod dir>/@binds/<id>, made with the first bind
  std::string dir;                            // its path, for errors
  for (size_t i = 0; i < mounts.size(); ++i) {
    const oci::Mount& m = mounts[i];
    proto::Mount pm{m.destination, m.type, m.source, "", m.options};
    if (!oci::is_bind_mount(m)) {
      out.push_back(std::move(pm));
      continue;
    }
    std::string where = "mounts[" + std::to_string(i) + "].source";
    // load_bundle resolved its symlinks (as runc does) where it checked
    // it; opened with none followed, and bound from that descriptor, so a
    // source swapped for a symlink since is refused (bind_shares.cc).
    if (m.source.empty() || m.source[0] != '/')
      return make_error(where + ": \"" + m.source + "\" does not exist");
    std::string source = oci::clean_path(m.source);
    auto src = oci::open_no_symlinks(source);
    if (!src.ok() && src.error().code == ENOENT)
      return make_error(where + ": \"" + m.source + "\" does not exist");
    if (!src.ok()) return make_error(where + ": " + src.error().message, src.error().code);
    struct stat st;
    if (::fstat(src->get(), &st) != 0) return errno_error(where + ": stat " + source);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      return make_error(where + ": \"" + m.source + "\" is neither a directory nor a file");
    if (!member_fd) {
      // Shared by the pod's members; stays (empty) with the pod share.
      UniqueFd pod(::open(pod_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!pod) return errno_error("open " + pod_dir);
      std::string binds = pod_dir + "/" + kPodBindsDir;
      if (::mkdirat(pod.get(), kPodBindsDir, 0700) != 0 && errno != EEXIST)
        return errno_error("mkdir " + binds);
      auto binds_fd =
          std::make_shared<const UniqueFd>(RUNVM_TRY(open_in(pod.get(), kPodBindsDir, binds)));
      dir = binds + "/" + id;
      member_fd = std::make_shared<const UniqueFd>(RUNVM_TRY(b.make_dir(binds_fd, id, dir)));
    }
    // Under its own name, so the container's mountinfo names it as runc's.
    std::string name = source == "/" ? "root" : source.substr(source.rfind('/') + 1);
    std::string slot = std::to_string(i);
    auto slot_fd =
        std::make_shared<const UniqueFd>(RUNVM_TRY(b.make_dir(member_fd, slot, dir + "/" + slot)));
    std::string target = dir + "/" + slot + "/" + name;
    UniqueFd target_fd;
    if (S_ISDIR(st.st_mode)) {
      target_fd = RUNVM_TRY(b.make_dir(slot_fd, name, target));
    } else {
      int fd = ::openat(slot_fd->get(), name.c_str(),
                        O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) return errno_error("create " + target);
      close(fd);
      b.made_.push_back({slot_fd, name, false});
      target_fd = RUNVM_TRY(open_in(slot_fd->get(), name, target));
    }
    bool rec = std::find(m.options.begin(), m.options.end(), "rbind") != m.options.end();
    bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    // A detached copy of the source, attached onto the target by
    // descriptor: the mount lands on what was opened, and `tree` stays the
    // mount's root, which release() unmounts through, wherever the guest
    // moved it since (a path could name a host file by then).
    UniqueFd tree(static_cast<int>(::open_tree(
        src->get(), "",
        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0))));
    if (!tree) return errno_error(where + ": bind " + source + " into the pod share");
    if (::move_mount(tree.get(), "", target_fd.get(), "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      return errno_error(where + ": bind " + source + " into the pod share");
    b.mounts_.push_back(std::move(tree));
    if (ro && mount(nullptr, fd_path(b.mounts_.back().get()).c_str(), nullptr,
                    MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      return errno_error(where + ": read-only " + target);
    pm.share = share_tag;
    pm.source = std::string(kPodBindsDir) + "/" + id + "/" + slot + "/" + name;
    out.push_back(std::move(pm));
  }
  return b;
}

void MemberBinds::unbind() {
  // Through /proc/self/fd of the mount's root: the magic link names that
  // mount, wherever the guest moved it; no path is looked up.
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it)
    umount2(fd_path(it->get()).c_str(), MNT_DETACH);
  mounts_.clear();
}

void MemberBinds::release() {
  unbind();
  // Never recursively: what is still mounted (EBUSY) stays, with the
  // source's files untouched. Each name in the directory held open: a
  // symlink put there is removed itself, never what it points to.
  for (auto it = made_.rbegin(); it != made_.rend(); ++it)
    unlinkat(it->parent->get(), it->name.c_str(), it->dir ? AT_REMOVEDIR : 0);
  made_.clear();
}

}  // namespace runvm
