#include "shim/vm/vm_check.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace runvm {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Status run_vm_check(const MicroVmConfig& config, const AccelChoice& accel, int pings) {
  printf("qemu:    %s\nkernel:  %s\ninitrd:  %s\naccel:   %s (%s)\n", config.machine.qemu.c_str(),
         config.machine.kernel.c_str(), config.machine.initrd.c_str(), accel.kvm ? "kvm" : "tcg",
         accel.reason.c_str());
  fflush(stdout);

  auto vm = RUNVM_TRY(MicroVm::boot(config).context("boot"));
  const auto& hello = vm->hello();
  printf("agent:   runvm-agent %s, protocol %u, guest kernel %s\n",
         proto::printable(hello.agent, 64).c_str(), hello.version,
         proto::printable(hello.kernel, 64).c_str());
  printf("boot_to_agent_ms: %.0f\n", vm->boot_to_agent_ms());
  fflush(stdout);

  std::vector<double> rtts;
  for (int i = 0; i < pings; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    RUNVM_CHECK(vm->agent().ping().context("ping"));
    rtts.push_back(ms_since(t0) * 1000);
  }
  std::sort(rtts.begin(), rtts.end());
  printf("ping_rtt_us: %.0f (median of %d)\n", rtts[rtts.size() / 2], pings);

  auto t0 = std::chrono::steady_clock::now();
  int status = RUNVM_TRY(vm->shutdown().context("shutdown"));
  printf("shutdown_ms: %.0f\n", ms_since(t0));
  fflush(stdout);
  vm.reset();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error("VM engine exited abnormally (status " + std::to_string(status) + ")");
  printf("ok\n");
  fflush(stdout);
  return {};
}

}  // namespace runvm
