// load_bundle(): config.json from disk, with the rootfs and bind sources resolved.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <optional>

#include "spec/base/unique_fd.h"
#include "spec/config.h"
#include "spec/config_check.h"
#include "spec/path.h"

namespace runvm::oci {

namespace {

// The whole of a regular file of at most `limit` bytes.
Result<std::string> read_small_file(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return errno_error("open");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat");
  if (!S_ISREG(st.st_mode)) return make_error("not a regular file");
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read");
    if (n == 0) return data;
    // Checked while reading: the file may grow after fstat().
    if (data.size() + static_cast<size_t>(n) > limit)
      return make_error("larger than " + std::to_string(limit) + " bytes");
    data.append(buf, static_cast<size_t>(n));
  }
}

// realpath(3) of `path`, or nothing when it does not resolve (left for the
// caller's checks to report; whoever uses such a path opens it with no
// symlink followed). Resolved once: the string checked is the string kept,
// so a symlink swapped in between a check and a second resolution can not
// redirect it.
//
// A path the bundle names relative to itself (`relative`) must stay in it
// once every symlink is followed. Absolute paths are the caller's to choose
// (Podman's rootfs is outside its bundle; a bind source may be a symlink, as
// /etc/resolv.conf often is), as with runc, which follows symlinks in both;
// the bundle's author could name any host path directly there. A relative
// path is the one an engine may accept from a bundle without reading it,
// and it must not reach /etc/shadow through bundle/data -> /etc/shadow.
Result<std::optional<std::string>> resolve_checked(const std::string& bundle_real,
                                                   const std::string& path, bool relative,
                                                   const std::string& what) {
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) return std::optional<std::string>();
  std::string r = resolved;
  if (!relative || r == bundle_real || r.rfind(bundle_real + "/", 0) == 0 || bundle_real == "/")
    return std::optional<std::string>(r);
  return make_error(what + ": " + path + " resolves to " + r + ", outside the bundle");
}

}  // namespace

Result<Bundle> load_bundle(const std::string& bundle_dir) {
  Bundle b;
  b.dir = RUNVM_TRY(absolute_path(bundle_dir).context("bundle"));
  std::string text =
      RUNVM_TRY(read_small_file(b.dir + "/config.json", kMaxConfigSize).context("config.json"));
  b.config = RUNVM_TRY(parse_config(text).context("config.json"));

  b.rootfs = clean_path(b.config.root.path.front() == '/' ? b.config.root.path
                                                          : b.dir + "/" + b.config.root.path);
  // The runtime spec (and runc): a relative bind source is relative to the
  // bundle. Resolved here, so everything after sees host paths only.
  char real_dir[PATH_MAX];
  if (!::realpath(b.dir.c_str(), real_dir)) return errno_error("bundle " + b.dir);
  for (size_t i = 0; i < b.config.mounts.size(); ++i) {
    Mount& m = b.config.mounts[i];
    if (!is_bind_mount(m) || m.source.empty()) continue;
    bool relative = m.source.front() != '/';
    if (relative) m.source = clean_path(b.dir + "/" + m.source);
    // Resolved once, here, where it was checked: whoever uses it opens it
    // with no symlink followed (open_no_symlinks), so a source swapped for
    // a symlink to /etc after this check is refused, not followed.
    auto real = RUNVM_TRY(resolve_checked(real_dir, m.source, relative,
                                          "config.json: mounts[" + std::to_string(i) + "].source"));
    if (real) m.source = *real;
  }
  auto real_rootfs = RUNVM_TRY(resolve_checked(
      real_dir, b.rootfs, b.config.root.path.front() != '/', "config.json: root.path"));
  if (!real_rootfs) return errno_error("config.json: root.path: " + b.rootfs);
  // The resolved path, not b.rootfs again: that one could be resolved
  // differently by now.
  struct stat st;
  if (::stat(real_rootfs->c_str(), &st) != 0)
    return errno_error("config.json: root.path: " + b.rootfs);
  if (!S_ISDIR(st.st_mode))
    return make_error("config.json: root.path: " + b.rootfs + ": not a directory", ENOTDIR);
  b.rootfs_real = *real_rootfs;
  return b;
}

}  // namespace runvm::oci
