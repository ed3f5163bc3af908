#include "tests/integration/vm_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>

#include "spec/base/unique_fd.h"

namespace runvm::testing {

namespace fs = std::filesystem;

VmAssets vm_assets() {
  VmAssets a;
  a.build_dir = RUNVM_BUILD_DIR;
  std::string k = a.build_dir + "/guest/vmlinux";
  if (access(k.c_str(), R_OK) == 0) a.kernel = k;
  a.initrd = a.build_dir + "/guest/initramfs.cpio";
  a.test_initrd = a.build_dir + "/guest/initramfs-test.cpio";
  return a;
}

MicroVmConfig vm_config(const std::string& state_dir) {
  auto a = vm_assets();
  MicroVmConfig cfg;
  cfg.state_dir = state_dir;
  cfg.machine.kernel = a.kernel;
  cfg.machine.initrd = a.initrd;
  cfg.machine.kvm = false;  // these machines are nested PVM: TCG is what works here
  cfg.machine.memory_mib = 256;
  return cfg;
}

MicroVmConfig test_agent_vm_config(const std::string& state_dir) {
  MicroVmConfig cfg = vm_config(state_dir);
  cfg.machine.initrd = vm_assets().test_initrd;
  return cfg;
}

bool process_exists(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

std::vector<pid_t> processes_with_cmdline(const std::vector<std::string>& parts) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    // Not read_file: reading a process that exits meanwhile throws there.
    UniqueFd fd(open((e.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC));
    char buf[8192];
    ssize_t n = fd ? read(fd.get(), buf, sizeof buf) : -1;
    if (n <= 0) continue;
    std::string cmdline(buf, static_cast<size_t>(n));
    if (std::all_of(parts.begin(), parts.end(),
                    [&](const std::string& p) { return cmdline.find(p) != std::string::npos; }))
      out.push_back(std::stoi(name));
  }
  return out;
}

std::vector<pid_t> qemu_processes_mentioning(const std::string& needle) {
  return processes_with_cmdline({"qemu-system", needle});
}

}  // namespace runvm::testing
