#include "shim/container/member_binds.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "spec/config_check.h"

namespace runvm {

namespace {}  // namespace

Status MemberBinds::make_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0) return errno_error("mkdir " + path);
  made_.push_back(path);
  return {};
}

Result<MemberBinds> MemberBinds::bind(const std::string& pod_dir, const std::string& id,
                                      const std::string& share_tag,
                                      const std::vector<oci::Mount>& mounts,
                                      std::vector<proto::Mount>& out) {
  MemberBinds b;
  out.clear();
  for (size_t i = 0; i < mounts.size(); ++i) {
    const oci::Mount& m = mounts[i];
    proto::Mount pm{m.destination, m.type, m.source, "", m.options};
    if (!oci::is_bind_mount(m)) {
      out.push_back(std::move(pm));
      continue;
    }
    std::string where = "mounts[" + std::to_string(i) + "].source";
    // Symlinks resolved on the host, as runc does (and bind_shares.cc).
    char resolved[PATH_MAX];
    struct stat st;
    if (m.source.empty() || m.source[0] != '/' || !::realpath(m.source.c_str(), resolved) ||
        ::stat(resolved, &st) != 0)
      return make_error(where + ": \"" + m.source + "\" does not exist");
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      return make_error(where + ": \"" + m.source + "\" is neither a directory nor a file");
    if (b.made_.empty()) {
      // Shared by the pod's members; stays (empty) with the pod share.
      std::string binds = pod_dir + "/" + kPodBindsDir;
      if (mkdir(binds.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("mkdir " + binds);
      RUNVM_CHECK(b.make_dir(binds + "/" + id));
    }
    const std::string dir = b.made_.front();  // a copy: made_ grows below
    // Under its own name, so the container's mountinfo names it as runc's.
    std::string source = resolved;
    std::string name = source == "/" ? "root" : source.substr(source.rfind('/') + 1);
    std::string slot = std::to_string(i);
    RUNVM_CHECK(b.make_dir(dir + "/" + slot));
    std::string target = dir + "/" + slot + "/" + name;
    if (S_ISDIR(st.st_mode)) {
      RUNVM_CHECK(b.make_dir(target));
    } else {
      int fd = open(target.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (fd < 0) return errno_error("create " + target);
      close(fd);
      b.made_.push_back(target);
    }
    bool rec = std::find(m.options.begin(), m.options.end(), "rbind") != m.options.end();
    bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    unsigned long flags = MS_BIND | (rec ? MS_REC : 0);
    if (mount(source.c_str(), target.c_str(), nullptr, flags, nullptr) != 0)
      return errno_error(where + ": bind " + source + " into the pod share");
    b.mountpoints_.push_back(target);
    if (ro && mount(nullptr, target.c_str(), nullptr, flags | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
      return errno_error(where + ": read-only " + target);
    pm.share = share_tag;
    pm.source = std::string(kPodBindsDir) + "/" + id + "/" + slot + "/" + name;
    out.push_back(std::move(pm));
  }
  return b;
}

void MemberBinds::release() {
  for (auto it = mountpoints_.rbegin(); it != mountpoints_.rend(); ++it)
    umount2(it->c_str(), MNT_DETACH);
  mountpoints_.clear();
  // Never recursively: what is still mounted (EBUSY) stays, with the
  // source's files untouched.
  for (auto it = made_.rbegin(); it != made_.rend(); ++it)
    if (rmdir(it->c_str()) != 0 && errno == ENOTDIR) unlink(it->c_str());
  made_.clear();
}

}  // namespace runvm
