#include "shim/container/bind_shares.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "spec/config_check.h"
#include "spec/path.h"
#include "spec/pinned_path.h"

namespace runvm {

Result<MountPlan> plan_mounts(const std::vector<oci::Mount>& mounts) {
  MountPlan plan;
  for (size_t i = 0; i < mounts.size(); ++i) {
    const oci::Mount& m = mounts[i];
    proto::Mount out{m.destination, m.type, m.source, "", m.options};
    if (!oci::is_bind_mount(m)) {
      plan.mounts.push_back(std::move(out));
      continue;
    }
    std::string where = "mounts[" + std::to_string(i) + "].source";
    if (m.source.empty() || m.source[0] != '/')
      return make_error(where + ": \"" + m.source + "\" does not exist");
    // Shared through its parent with only its own name visible: the guest
    // clones it out by that name, and its mountinfo root names it, as on
    // the host. "/" has no parent and is shared itself.
    std::string source = oci::clean_path(m.source);
    std::string dir = source, rel;
    if (source != "/") {
      size_t slash = source.rfind('/');
      dir = slash == 0 ? "/" : source.substr(0, slash);
      rel = source.substr(slash + 1);
    }
    // load_bundle resolved every symlink in the source, as runc does, where
    // it checked it. Opened again here with none followed, and the share
    // serves that descriptor: a source swapped for a symlink (to /etc, say)
    // since the check is refused, never followed, and no later swap of a
    // path component changes what the guest sees.
    auto dir_fd = oci::open_no_symlinks(dir);
    if (!dir_fd.ok()) {
      if (dir_fd.error().code == ENOENT)
        return make_error(where + ": \"" + m.source + "\" does not exist");
      return make_error(where + ": \"" + m.source + "\": " + dir_fd.error().message,
                        dir_fd.error().code);
    }
    struct stat st;
    int r = rel.empty() ? ::fstat(dir_fd->get(), &st)
                        : ::fstatat(dir_fd->get(), rel.c_str(), &st, AT_SYMLINK_NOFOLLOW);
    if (r != 0 && errno == ENOENT)
      return make_error(where + ": \"" + m.source + "\" does not exist");
    if (r != 0) return errno_error(where + ": \"" + m.source + "\"");
    if (S_ISLNK(st.st_mode))
      return make_error(
          where + ": \"" + m.source + "\" is a symlink: changed since it was resolved", ELOOP);
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      return make_error(where + ": \"" + m.source + "\" is neither a directory nor a file");
    bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    auto same = [&](const FsShare& s) {
      return s.fs.shared_dir == dir && s.fs.readonly == ro && s.fs.visible.empty() == rel.empty();
    };
    auto it = std::find_if(plan.shares.begin(), plan.shares.end(), same);
    if (it == plan.shares.end()) {
      FsConfig fs{dir, CachePolicy::kCoherent, ro};
      fs.dir_fd = std::make_shared<UniqueFd>(std::move(*dir_fd));
      // A host directory's xattrs are the host's business (virtiofsd's
      // default too); without them the guest stops asking for
      // security.capability before every write (fs_config.h).
      fs.xattrs = false;
      plan.shares.push_back({"bind" + std::to_string(plan.shares.size()), std::move(fs)});
      it = plan.shares.end() - 1;
    }
    auto& visible = it->fs.visible;
    if (!rel.empty() && std::find(visible.begin(), visible.end(), rel) == visible.end())
      visible.push_back(rel);
    out.share = it->tag;
    out.source = rel;
    plan.mounts.push_back(std::move(out));
  }
  return plan;
}

}  // namespace runvm
