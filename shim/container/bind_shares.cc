#include "shim/container/bind_shares.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>

#include "spec/config_check.h"

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
    struct stat st;
    // Symlinks resolved on the host, as runc does: the share never follows one.
    char resolved[PATH_MAX];
    if (m.source.empty() || m.source[0] != '/' || !::realpath(m.source.c_str(), resolved) ||
        ::stat(resolved, &st) != 0)
      return make_error(where + ": \"" + m.source + "\" does not exist");
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
      return make_error(where + ": \"" + m.source + "\" is neither a directory nor a file");
    // Shared through its parent with only its own name visible: the guest
    // clones it out by that name, and its mountinfo root names it, as on
    // the host. "/" has no parent and is shared itself.
    std::string source = resolved;
    std::string dir = source, rel;
    if (source != "/") {
      size_t slash = source.rfind('/');
      dir = slash == 0 ? "/" : source.substr(0, slash);
      rel = source.substr(slash + 1);
    }
    bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    auto same = [&](const FsShare& s) {
      return s.fs.shared_dir == dir && s.fs.readonly == ro && s.fs.visible.empty() == rel.empty();
    };
    auto it = std::find_if(plan.shares.begin(), plan.shares.end(), same);
    if (it == plan.shares.end()) {
      FsConfig fs{dir, CachePolicy::kCoherent, ro};
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
