#include "shim/container/bind_shares.h"

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
    if (m.source.empty() || m.source[0] != '/' || ::stat(m.source.c_str(), &st) != 0)
      return make_error(where + ": \"" + m.source + "\" does not exist");
    std::string dir = m.source, rel;
    if (S_ISREG(st.st_mode)) {
      size_t slash = m.source.rfind('/');
      dir = slash == 0 ? "/" : m.source.substr(0, slash);
      rel = m.source.substr(slash + 1);
    } else if (!S_ISDIR(st.st_mode)) {
      return make_error(where + ": \"" + m.source + "\" is neither a directory nor a file");
    }
    bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    auto same = [&](const FsShare& s) { return s.fs.shared_dir == dir && s.fs.readonly == ro; };
    auto it = std::find_if(plan.shares.begin(), plan.shares.end(), same);
    if (it == plan.shares.end()) {
      plan.shares.push_back(
          {"bind" + std::to_string(plan.shares.size()), FsConfig{dir, CachePolicy::kCoherent, ro}});
      it = plan.shares.end() - 1;
    }
    out.share = it->tag;
    out.source = rel;
    plan.mounts.push_back(std::move(out));
  }
  return plan;
}

}  // namespace runvm
