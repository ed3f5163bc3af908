// runvm-shim: one per container. Boots the microVM, serves its vhost-user
// devices in-process and holds the agent channel. For now it boots, reports
// readiness and supervises the VM until told to stop or the VM exits; the
// container-process verbs build on this.
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstring>

#include "shim/engine/accel.h"
#include "shim/vm/micro_vm.h"
#include "spec/base/log.h"

namespace runvm {
namespace {

void usage(FILE* out) {
  fprintf(out,
          "usage: runvm-shim --state-dir DIR --kernel FILE --initrd FILE [options]\n"
          "  --qemu FILE       QEMU binary\n"
          "  --accel MODE      auto|kvm|tcg (default auto)\n"
          "  --memory MIB      guest memory (default 256)\n"
          "  --vcpus N         guest vCPUs (default 1)\n"
          "  --ready-fd FD     write \"ready\\n\" to FD once the agent answered, then close it\n"
          "  --debug           debug logging\n");
}

Result<int> run(int argc, char** argv) {
  MicroVmConfig cfg;
  std::string accel_text = "auto";
  int ready_fd = -1;
  bool debug = false;
  static const option opts[] = {
      {"state-dir", required_argument, nullptr, 's'}, {"kernel", required_argument, nullptr, 'k'},
      {"initrd", required_argument, nullptr, 'i'},    {"qemu", required_argument, nullptr, 'q'},
      {"accel", required_argument, nullptr, 'a'},     {"memory", required_argument, nullptr, 'm'},
      {"vcpus", required_argument, nullptr, 'c'},     {"ready-fd", required_argument, nullptr, 'r'},
      {"debug", no_argument, nullptr, 'd'},           {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    switch (c) {
      case 's': cfg.state_dir = optarg; break;
      case 'k': cfg.kernel = optarg; break;
      case 'i': cfg.initrd = optarg; break;
      case 'q': cfg.qemu = optarg; break;
      case 'a': accel_text = optarg; break;
      case 'm': cfg.memory_mib = strtoull(optarg, nullptr, 10); break;
      case 'c': cfg.vcpus = static_cast<unsigned>(strtoul(optarg, nullptr, 10)); break;
      case 'r': ready_fd = atoi(optarg); break;
      case 'd': debug = true; break;
      case 'h': usage(stdout); return 0;
      default: usage(stderr); return 2;
    }
  }
  log::configure(debug, "", log::Format::kText);
  if (cfg.state_dir.empty() || cfg.kernel.empty() || cfg.initrd.empty())
    return make_error("--state-dir, --kernel and --initrd are required");
  if (cfg.memory_mib < 64 || cfg.vcpus < 1) return make_error("--memory >= 64 and --vcpus >= 1");
  auto accel = RUNVM_TRY(choose_accel(RUNVM_TRY(parse_accel(accel_text))));
  cfg.kvm = accel.kvm;
  log::debug("accel: " + accel.reason);

  // Block the stop signals before any thread starts so only the signalfd sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  UniqueFd sigfd(signalfd(-1, &stop_signals, SFD_CLOEXEC));
  if (!sigfd) return errno_error("signalfd");

  auto vm = RUNVM_TRY(MicroVm::boot(cfg));
  log::debug("agent answered after " + std::to_string(vm->boot_to_agent_ms()) + " ms");
  if (ready_fd >= 0) {
    [[maybe_unused]] auto w = write(ready_fd, "ready\n", 6);
    close(ready_fd);
  }

  pollfd fds[2] = {{sigfd.get(), POLLIN, 0}, {vm->engine().pidfd(), POLLIN, 0}};
  while (poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
  int status;
  if (fds[0].revents & POLLIN) {
    status = RUNVM_TRY(vm->shutdown());
  } else {
    status = RUNVM_TRY(vm->wait());
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace
}  // namespace runvm

int main(int argc, char** argv) {
  auto r = runvm::run(argc, argv);
  if (!r.ok()) {
    runvm::log::error("shim: " + r.error().message);
    return 1;
  }
  return *r;
}
