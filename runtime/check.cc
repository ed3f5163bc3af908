// `runvm check`: like `kata-runtime check`. Finds the guest assets and has
// `runvm-shim --check` pick the accelerator, boot a throwaway microVM,
// complete agent round-trips over our vsock, print a short report and tear
// everything down (the VMM is the shim's: the CLI links none of it).
#include <getopt.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "runtime/assets.h"
#include "runtime/shim_launcher.h"
#include "runtime/verbs.h"
#include "spec/base/log.h"
#include "spec/base/temp_dir.h"

namespace runvm::cli {

namespace {

void check_usage(FILE* out) {
  fprintf(out,
          "usage: runvm check [options]\n\n"
          "Checks that this host can run microVMs: finds QEMU, the guest kernel and\n"
          "initramfs, picks the accelerator, boots a throwaway VM and talks to its agent.\n\n"
          "  --accel auto|kvm|tcg  accelerator (default: runvm.toml's vm.accel, auto: kvm\n"
          "                        only on real hardware virtualization, tcg otherwise)\n"
          "  --kernel FILE         guest kernel (default: found next to runvm, or RUNVM_KERNEL)\n"
          "  --initrd FILE         guest initramfs (default: next to runvm, or RUNVM_INITRD)\n"
          "  --qemu FILE           QEMU binary (default qemu-system-x86_64 from PATH)\n"
          "  --memory MIB          guest memory (default: runvm.toml's vm.memory_mib, 2048)\n"
          "  --pings N             agent round-trips to time (default 100)\n");
}

}  // namespace

Result<int> verb_check(GlobalOptions& g, int argc, char** argv) {
  // runvm.toml's defaults; the flags override them.
  const config::VmDefaults& vm = g.config.vm;
  std::string kernel, initrd, qemu, accel_text = vm.accel;
  uint64_t memory = vm.memory_mib;
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

  auto assets = RUNVM_TRY(find_guest_assets(kernel, initrd, qemu, {vm.kernel, vm.initrd, vm.qemu}));
  auto shim_bin = RUNVM_TRY(find_shim_binary());

  std::error_code ec;
  std::filesystem::create_directories(g.root, ec);
  if (ec) return make_error("--root " + g.root + ": " + ec.message(), ec.value());
  // The throwaway state directory, removed however check ends.
  auto dir = RUNVM_TRY(TempDir::create(g.root, ".check").context("create state dir"));

  std::vector<std::string> shim_argv = {shim_bin,        "--check",
                                        "--state-dir",   dir.path(),
                                        "--kernel",      assets.kernel,
                                        "--initrd",      assets.initrd,
                                        "--qemu",        assets.qemu,
                                        "--accel",       accel_text,
                                        "--memory",      std::to_string(memory),
                                        "--vcpus",       std::to_string(vm.vcpus),
                                        "--tcg-tb-size", std::to_string(vm.tcg_tb_size),
                                        "--pings",       std::to_string(pings)};
  if (!vm.qemu_user.empty()) shim_argv.insert(shim_argv.end(), {"--qemu-user", vm.qemu_user});
  if (log::debug_enabled()) shim_argv.push_back("--debug");
  fflush(stdout);
  RUNVM_CHECK(run_shim_check(std::move(shim_argv)));
  return 0;
}

}  // namespace runvm::cli
