#include "runtime/assets.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace runvm::cli {

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> asset_dirs() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> dirs;
  if (!ec) {
    fs::path bin = exe.parent_path();
    dirs.push_back(bin.parent_path() / "guest");      // build tree: build/runtime/runvm
    dirs.push_back(bin.parent_path() / "lib/runvm");  // installed: PREFIX/bin/runvm
  }
  dirs.push_back("/usr/local/lib/runvm");
  dirs.push_back("/usr/lib/runvm");
  return dirs;
}

Result<std::string> find_one(const std::string& flag_value, const char* env,
                             const std::string& configured, const char* file, const char* what,
                             const char* fix) {
  std::string path = flag_value;
  if (path.empty()) {
    if (const char* e = getenv(env); e && *e) path = e;
  }
  std::string from;
  if (path.empty() && !configured.empty()) {
    path = configured;
    from = " (runvm.toml)";
  }
  if (!path.empty()) {
    if (access(path.c_str(), R_OK) != 0) return errno_error(std::string(what) + " " + path + from);
    return path;
  }
  std::string looked;
  for (const auto& dir : asset_dirs()) {
    fs::path p = dir / file;
    if (access(p.c_str(), R_OK) == 0) return fs::canonical(p).string();
    looked += (looked.empty() ? "" : ", ") + p.string();
  }
  return make_error(std::string(what) + " not found (looked in " + looked + "): " + fix, ENOENT);
}

Result<std::string> find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) != 0) return errno_error(name);
    return name;
  }
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    fs::path p = fs::path(dirs.substr(start, end - start)) / name;
    if (access(p.c_str(), X_OK) == 0) return p.string();
    start = end + 1;
  }
  return make_error(name + " not found in PATH: apt-get install qemu-system-x86", ENOENT);
}

}  // namespace

Result<GuestAssets> find_guest_assets(const std::string& kernel, const std::string& initrd,
                                      const std::string& qemu, const GuestAssets& configured) {
  GuestAssets a;
  a.kernel =
      RUNVM_TRY(find_one(kernel, "RUNVM_KERNEL", configured.kernel, "vmlinux", "guest kernel",
                         "build it with guest/kernel/build.sh and pass --kernel or set "
                         "RUNVM_KERNEL (./setup.sh does both)"));
  a.initrd =
      RUNVM_TRY(find_one(initrd, "RUNVM_INITRD", configured.initrd, "initramfs.cpio",
                         "guest initramfs", "build runvm (cmake --build) or set RUNVM_INITRD"));
  std::string q = qemu;
  if (q.empty()) {
    if (const char* e = getenv("RUNVM_QEMU"); e && *e) q = e;
  }
  if (q.empty()) q = configured.qemu;
  a.qemu = RUNVM_TRY(find_in_path(q.empty() ? "qemu-system-x86_64" : q));
  return a;
}

}  // namespace runvm::cli
