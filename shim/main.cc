// runvm-shim: one per container; its pid is the container's pid. Boots the
// microVM, serves its vhost-user devices in-process, holds the agent
// channel, relays stdio and exits the way the container's process did.
// Without --bundle it only boots a VM and supervises it (bench, debugging);
// with --check it runs `runvm check`'s throwaway VM and report.
#include <dirent.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "shim/confine/confine.h"
#include "shim/container/sandbox.h"
#include "shim/container/vm_settings.h"
#include "shim/engine/accel.h"
#include "shim/vm/vm_check.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"
#include "spec/base/wait_status.h"
#include "spec/runvm_config.h"

namespace runvm {
namespace {

struct Options {
  MicroVmConfig vm;
  std::string id, bundle, accel = "auto", log_file, console_socket;
  int ready_fd = -1;
  bool debug = false;
  bool stdio_pipes = false;
  bool start_at_once = false;
  bool check = false;
  bool pod = false;
  bool pool = false;
  int pings = 100;
  int64_t debug_origin = -1;  // --debug-origin
};

void usage(FILE* out) {
  fprintf(out,
          "usage: runvm-shim --state-dir DIR --kernel FILE --initrd FILE [options]\n"
          "  --id ID --bundle DIR  run the bundle's process as container ID\n"
          "  --socket-dir DIR      where sockets go (default: the state dir)\n"
          "  --qemu FILE           QEMU binary\n"
          "  --qemu-user USER      run QEMU as USER (a name or UID[:GID]; default root)\n"
          "  --accel MODE          auto|kvm|tcg (default auto)\n"
          "  --memory MIB          guest memory (default 256)\n"
          "  --vcpus N             guest vCPUs (default 1)\n"
          "  --tcg-tb-size MIB     TCG translation cache (default 0: QEMU's, 1 GiB)\n"
          "  --ready-fd FD         report \"created\" or \"error: ...\" on FD, then close it\n"
          "  --log FILE            diagnostics (default stderr)\n"
          "  --console-socket PATH terminal: send the pty master there (runc's protocol)\n"
          "  --stdio-pipes         the process gets pipes whatever our stdio is (as from a\n"
          "                        foreground runc run, which copies through its own pipes)\n"
          "  --start               start the process as soon as it is created (runvm run\n"
          "                        with nothing to do between create and start); \"created\"\n"
          "                        is reported once it started\n"
          "  --pod                 a pod sandbox: its VM takes members (runvm create of\n"
          "                        a container of its pod; shim/client/CONTROL.md)\n"
          "  --pool                a pool unit (runvm-pool(8)): boot the VM with the pod\n"
          "                        share and no container; serve the one container that\n"
          "                        claims it, end with it and remove the state and socket\n"
          "                        dirs\n"
          "  --check               boot a throwaway VM, time --pings N agent round-trips\n"
          "                        (default 100), shut it down and print the report\n"
          "                        (`runvm check`); reports \"ok\" on --ready-fd\n"
          "  --debug               debug logging, with a phase timeline\n"
          "  --debug-origin NS     the timeline counts from NS (CLOCK_MONOTONIC ns;\n"
          "                        runvm passes its own start), not from the shim's\n");
}

Result<Options> parse(int argc, char** argv) {
  Options o;
  static const option opts[] = {
      {"state-dir", required_argument, nullptr, 's'},
      {"socket-dir", required_argument, nullptr, 'S'},
      {"kernel", required_argument, nullptr, 'k'},
      {"initrd", required_argument, nullptr, 'i'},
      {"qemu", required_argument, nullptr, 'q'},
      {"qemu-user", required_argument, nullptr, 'U'},
      {"accel", required_argument, nullptr, 'a'},
      {"memory", required_argument, nullptr, 'm'},
      {"vcpus", required_argument, nullptr, 'c'},
      {"tcg-tb-size", required_argument, nullptr, 'T'},
      {"ready-fd", required_argument, nullptr, 'r'},
      {"id", required_argument, nullptr, 'I'},
      {"bundle", required_argument, nullptr, 'b'},
      {"log", required_argument, nullptr, 'l'},
      {"console-socket", required_argument, nullptr, 'C'},
      {"debug", no_argument, nullptr, 'd'},
      {"stdio-pipes", no_argument, nullptr, 'P'},
      {"start", no_argument, nullptr, 'A'},
      {"check", no_argument, nullptr, 'K'},
      {"pod", no_argument, nullptr, 'O'},
      {"pool", no_argument, nullptr, 'W'},
      {"pings", required_argument, nullptr, 'p'},
      {"debug-origin", required_argument, nullptr, 'o'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, nullptr)) != -1) {
    switch (c) {
      case 's':
        o.vm.state_dir = optarg;
        break;
      case 'S':
        o.vm.socket_dir = optarg;
        break;
      case 'k':
        o.vm.machine.kernel = optarg;
        break;
      case 'i':
        o.vm.machine.initrd = optarg;
        break;
      case 'q':
        o.vm.machine.qemu = optarg;
        break;
      case 'U':
        o.vm.machine.qemu_user = optarg;
        break;
      case 'a':
        o.accel = optarg;
        break;
      case 'm':
        o.vm.machine.memory_mib = strtoull(optarg, nullptr, 10);
        break;
      case 'c':
        o.vm.machine.vcpus = static_cast<unsigned>(strtoul(optarg, nullptr, 10));
        break;
      case 'T':
        o.vm.machine.tcg_tb_size_mib = strtoull(optarg, nullptr, 10);
        break;
      case 'r':
        o.ready_fd = atoi(optarg);
        break;
      case 'I':
        o.id = optarg;
        break;
      case 'b':
        o.bundle = optarg;
        break;
      case 'C':
        o.console_socket = optarg;
        break;
      case 'l':
        o.log_file = optarg;
        break;
      case 'd':
        o.debug = true;
        break;
      case 'P':
        o.stdio_pipes = true;
        break;
      case 'A':
        o.start_at_once = true;
        break;
      case 'K':
        o.check = true;
        break;
      case 'O':
        o.pod = true;
        break;
      case 'W':
        o.pool = true;
        break;
      case 'p':
        o.pings = std::max(1, atoi(optarg));
        break;
      case 'o':
        o.debug_origin = strtoll(optarg, nullptr, 10);
        break;
      case 'h':
        usage(stdout);
        exit(0);
      default:
        return make_error("bad arguments (see --help)");
    }
  }
  if (o.vm.state_dir.empty() || o.vm.machine.kernel.empty() || o.vm.machine.initrd.empty())
    return make_error("--state-dir, --kernel and --initrd are required");
  if (o.vm.machine.memory_mib < 64 || o.vm.machine.vcpus < 1)
    return make_error("--memory >= 64 and --vcpus >= 1");
  if (o.vm.machine.tcg_tb_size_mib > config::kMaxTcgTbSizeMib)
    return make_error("--tcg-tb-size <= " + std::to_string(config::kMaxTcgTbSizeMib));
  if (o.bundle.empty() != o.id.empty()) return make_error("--id and --bundle go together");
  if (o.check && !o.bundle.empty()) return make_error("--check runs no container");
  if (o.start_at_once && (o.bundle.empty() || o.pod))
    return make_error("--start goes with --bundle, without --pod");
  if (o.pool && (o.check || o.pod || !o.bundle.empty()))
    return make_error("--pool goes with no --bundle, --pod or --check");
  return o;
}

void report(int& fd, const std::string& line) {
  if (fd < 0) return;
  [[maybe_unused]] auto w = write(fd, line.data(), line.size());
  close(fd);
  fd = -1;
}

// The accelerator for --accel. `runvm check` names what failed, as it did
// when it chose the accelerator itself.
Result<AccelChoice> pick_accel(const Options& o) {
  auto mode = parse_accel(o.accel);
  if (!mode.ok())
    return o.check ? std::move(mode).error().wrap("--accel") : std::move(mode).error();
  auto accel = choose_accel(*mode);
  if (!accel.ok())
    return o.check ? std::move(accel).error().wrap("accel") : std::move(accel).error();
  // One warning line under --debug: falling back to TCG is expected on nested hosts.
  if (o.check && *mode == AccelMode::kAuto && !accel->kvm && log::debug_enabled())
    log::warn(accel->reason);
  return accel;
}

// Signals the shim passes on to the container (its pid stands for it).
sigset_t forwarded_signals() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&s, sig);
  return s;
}

Result<int> run_vm_only(Options& o, int signal_fd) {
  auto vm = RUNVM_TRY(MicroVm::boot(o.vm));
  // Set-up done: the control thread keeps only what it still needs.
  RUNVM_CHECK(confine::confine_thread(confine::Role::kControl));
  report(o.ready_fd, "created\n");
  timeline::mark("created_reported");
  pollfd fds[2] = {{signal_fd, POLLIN, 0}, {vm->engine().pidfd(), POLLIN, 0}};
  while (poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
  return (fds[0].revents & POLLIN) ? vm->shutdown() : vm->wait();
}

Result<int> run_container(Options& o, int signal_fd) {
  auto bundle = RUNVM_TRY(oci::load_bundle(o.bundle));
  // The container's runvm.io/* annotations override the flags.
  std::string accel_reason;
  RUNVM_CHECK(apply_vm_settings(bundle.config, o.vm.machine, &accel_reason));
  if (!accel_reason.empty()) log::debug("accel (annotation): " + accel_reason);
  auto shim = RUNVM_TRY(Sandbox::create(
      {o.vm,
       {o.id, o.vm.state_dir, std::move(bundle), o.console_socket, o.stdio_pipes, o.start_at_once},
       o.pod}));
  // Set-up done (VM booted, network attached, the process created): the
  // control thread keeps only what it still needs (docs/security.md "shim"),
  // before anyone learns the container exists.
  RUNVM_CHECK(confine::confine_thread(confine::Role::kControl, shim->control_needs()));
  timeline::mark("confined");
  report(o.ready_fd, "created\n");
  timeline::mark("created_reported");
  return shim->serve(signal_fd);
}

Result<int> run_pool_unit(Options& o, int signal_fd) {
  // A network namespace of the unit's own (no thread runs yet): its tap is
  // made there, not in the host's, and goes with the unit's processes
  // (shim/net/pool_nic.h). QEMU inherits it.
  if (unshare(CLONE_NEWNET) != 0) return errno_error("unshare(network namespace)");
  auto unit = RUNVM_TRY(Sandbox::create({o.vm, {}, false, true}));
  // Its control thread confines itself at the claim, once the container's
  // rootfs, binds and network are set up (as a cold start's, before any of
  // the container's code runs; docs/security.md "shim"). The device thread
  // is confined already.
  report(o.ready_fd, "created\n");
  timeline::mark("created_reported");
  return unit->serve(signal_fd);
}

// Removes `dir`'s files and empty directories, never recursing: should a
// member's bind have outlived its unmount, the container's rootfs below it
// is left alone (the dir stays, and `runvm delete` detaches it).
// opendir/readdir, not std::filesystem: its fdopendir asks fcntl(F_GETFL),
// which the confined control thread may not (the filter killed a claimed
// unit's shim here, leaving its directories for a later fill).
void remove_flat(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    closedir(d);
  }
  for (const auto& n : names) {
    const std::string p = dir + "/" + n;
    if (unlink(p.c_str()) != 0) rmdir(p.c_str());
  }
  rmdir(dir.c_str());
}

// A pool unit leaves nothing once its VM is down: no caller waits to clean
// up after a unit that ended idle (drained, or its VM died).
void remove_pool_unit(const Options& o) {
  if (!o.vm.socket_dir.empty()) remove_flat(o.vm.socket_dir);
  remove_flat(o.vm.state_dir);
}

}  // namespace
}  // namespace runvm

int main(int argc, char** argv) {
  using namespace runvm;
  signal(SIGPIPE, SIG_IGN);
  // virtio-fs holds an O_PATH fd per inode the guest looked up.
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  auto opts = parse(argc, argv);
  if (!opts.ok()) {
    log::error("shim: " + opts.error().message);
    return 2;
  }
  log::configure(opts->debug, opts->log_file, log::Format::kText);
  if (opts->debug_origin > 0 && opts->debug_origin <= timeline::now_ns())
    timeline::set_origin(opts->debug_origin);
  timeline::mark("shim_exec");
  auto accel = pick_accel(*opts);
  if (opts->check) {
    // The error is `runvm check`'s to print: one line, not logged twice.
    Status checked = accel.ok() ? Status{} : Status(accel.error());
    if (checked.ok()) {
      opts->vm.machine.kvm = accel->kvm;
      checked = run_vm_check(opts->vm, *accel, opts->pings);
    }
    report(opts->ready_fd, checked.ok() ? "ok\n" : "error: " + checked.error().message + "\n");
    return checked.ok() ? 0 : 1;
  }
  Result<int> status = make_error("unreachable");
  if (!accel.ok()) {
    status = std::move(accel).error();
  } else {
    opts->vm.machine.kvm = accel->kvm;
    log::debug("accel: " + accel->reason);
    // Blocked before any thread starts, so only the signalfd sees them.
    sigset_t fwd = forwarded_signals();
    sigprocmask(SIG_BLOCK, &fwd, nullptr);
    UniqueFd sigfd(signalfd(-1, &fwd, SFD_CLOEXEC));
    // Every thread confines itself once set up (shim/confine); the
    // filters are compiled now, while nothing is confined.
    confine::enable(confine::mode_from_environment());
    if (opts->pool)
      status = run_pool_unit(*opts, sigfd.get());
    else
      status = opts->bundle.empty() ? run_vm_only(*opts, sigfd.get())
                                    : run_container(*opts, sigfd.get());
  }
  if (opts->pool) {
    if (!status.ok()) {
      report(opts->ready_fd, "error: " + status.error().message + "\n");
      log::error("shim: " + status.error().message);
    }
    timeline::mark("unit_stopped");
    remove_pool_unit(*opts);
    timeline::mark("unit_removed");
    return status.ok() ? 0 : 1;
  }
  if (!status.ok()) {
    report(opts->ready_fd, "error: " + status.error().message + "\n");
    log::error("shim: " + status.error().message);
    return 1;
  }
  if (log::debug_enabled()) {
    // The shim's own CPU time (its threads, not QEMU's): the bench's split
    // of a start's cost between runvm, the shim and the VM. A clock, which
    // the confined thread may read (getrusage it may not).
    timespec self{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &self);
    const int64_t ms = int64_t{self.tv_sec} * 1000 + self.tv_nsec / 1'000'000;
    timeline::mark("shim_exit", "shim_cpu_ms=" + std::to_string(ms));
  } else {
    timeline::mark("shim_exit");
  }
  return become_wait_status(*status);  // the container's own wait status
}
