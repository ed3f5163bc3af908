// `runvm check`: like `kata-runtime check`. Verifies the host, boots a
// throwaway microVM, completes agent round-trips over our vsock, prints a
// short report and tears everything down.
#include <getopt.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "runtime/assets.h"
#include "runtime/verbs.h"
#include "shim/engine/accel.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/log.h"

namespace runvm::cli {

namespace {

void check_usage(FILE* out) {
  fprintf(out,
          "usage: runvm check [options]\n\n"
          "Checks that this host can run microVMs: finds QEMU, the guest kernel and\n"
          "initramfs, picks the accelerator, boots a throwaway VM and talks to its agent.\n\n"
          "  --accel auto|kvm|tcg  accelerator (default auto: kvm only on real hardware\n"
          "                        virtualization, tcg otherwise)\n"
          "  --kernel FILE         guest kernel (default: found next to runvm, or RUNVM_KERNEL)\n"
          "  --initrd FILE         guest initramfs (default: next to runvm, or RUNVM_INITRD)\n"
          "  --qemu FILE           QEMU binary (default qemu-system-x86_64 from PATH)\n"
          "  --memory MIB          guest memory (default 256)\n"
          "  --pings N             agent round-trips to time (default 100)\n");
}

// Removes the throwaway state directory however check ends.
struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

Result<int> verb_check(GlobalOptions& g, int argc, char** argv) {
  std::string kernel, initrd, qemu, accel_text = "auto";
  uint64_t memory = 256;
  int pings = 100;
  static const option opts[] = {
      {"accel", required_argument, nullptr, 'a'},  {"kernel", required_argument, nullptr, 'k'},
      {"initrd", required_argument, nullptr, 'i'}, {"qemu", required_argument, nullptr, 'q'},
      {"memory", required_argument, nullptr, 'm'}, {"pings", required_argument, nullptr, 'p'},
      {"help", no_argument, nullptr, 'h'},         {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    switch (c) {
      case 'a':
        accel_text = optarg;
        break;
      case 'k':
        kernel = optarg;
        break;
      case 'i':
        initrd = optarg;
        break;
      case 'q':
        qemu = optarg;
        break;
      case 'm':
        memory = strtoull(optarg, nullptr, 10);
        break;
      case 'p':
        pings = std::max(1, atoi(optarg));
        break;
      case 'h':
        check_usage(stdout);
        return 0;
      default:
        return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (memory < 64) return make_error("--memory: at least 64 MiB");

  auto mode = RUNVM_TRY(parse_accel(accel_text).context("--accel"));
  auto assets = RUNVM_TRY(find_guest_assets(kernel, initrd, qemu));
  auto accel = RUNVM_TRY(choose_accel(mode).context("accel"));
  // One warning line under --debug: falling back to TCG is expected on nested hosts.
  if (mode == AccelMode::kAuto && !accel.kvm && log::debug_enabled()) log::warn(accel.reason);

  printf("qemu:    %s\nkernel:  %s\ninitrd:  %s\naccel:   %s (%s)\n", assets.qemu.c_str(),
         assets.kernel.c_str(), assets.initrd.c_str(), accel.kvm ? "kvm" : "tcg",
         accel.reason.c_str());
  fflush(stdout);

  std::error_code ec;
  std::filesystem::create_directories(g.root, ec);
  if (ec) return make_error("--root " + g.root + ": " + ec.message(), ec.value());
  TempDir dir;
  std::string templ = g.root + "/.check-XXXXXX";
  if (!mkdtemp(templ.data())) return errno_error("create state dir in " + g.root);
  dir.path = templ;

  MicroVmConfig cfg;
  cfg.state_dir = dir.path;
  cfg.qemu = assets.qemu;
  cfg.kernel = assets.kernel;
  cfg.initrd = assets.initrd;
  cfg.kvm = accel.kvm;
  cfg.memory_mib = memory;
  auto vm = RUNVM_TRY(MicroVm::boot(cfg).context("boot"));
  const auto& hello = vm->hello();
  printf("agent:   runvm-agent %s, protocol %u, guest kernel %s\n",
         proto::printable(hello.agent, 64).c_str(), hello.version,
         proto::printable(hello.kernel, 64).c_str());
  printf("boot_to_agent_ms: %.0f\n", vm->boot_to_agent_ms());

  std::vector<double> rtts;
  for (int i = 0; i < pings; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    RUNVM_CHECK(vm->agent().ping().context("ping"));
    rtts.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(rtts.begin(), rtts.end());
  printf("ping_rtt_us: %.0f (median of %d)\n", rtts[rtts.size() / 2], pings);

  auto t0 = std::chrono::steady_clock::now();
  int status = RUNVM_TRY(vm->shutdown().context("shutdown"));
  printf("shutdown_ms: %.0f\n",
         std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  vm.reset();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error("VM engine exited abnormally (status " + std::to_string(status) + ")");
  printf("ok\n");
  return 0;
}

}  // namespace runvm::cli
