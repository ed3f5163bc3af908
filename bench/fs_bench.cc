// runvm-fs-bench: boots one guest against one file-system backend and prints
// the timings its /init measured (bench/fs_init.sh), one "<workload> <seconds>"
// line each. Backends:
//   ours       our FsDevice + VhostUserServer in this process (--policy)
//   virtiofsd  QEMU's C virtiofsd serving the same kind of directory
//              (--virtiofsd-cache, --virtiofsd-writeback)
//   tmpfs      no share at all: the guest works on its own tmpfs
// bench/fs.sh runs it per backend and run, and turns the output into METRICs.
#include <poll.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "shim/engine/child_process.h"
#include "shim/engine/engine.h"
#include "shim/engine/qemu_engine.h"
#include "shim/fs/fs_device.h"
#include "shim/vhost_user/server.h"
#include "spec/base/event_loop.h"
#include "spec/base/state_layout.h"

namespace runvm {
namespace {

constexpr char kTag[] = "share";
constexpr char kUsage[] =
    "usage: runvm-fs-bench --backend ours|virtiofsd|tmpfs --kernel PATH --initrd PATH\n"
    "         --state DIR [--share DIR] [--virtiofsd PATH] [--memory MIB] [--timeout S]\n"
    "         [--policy exclusive|coherent] [--virtiofsd-cache auto|always|none]\n"
    "         [--virtiofsd-writeback on|off] [--virtiofsd-xattr on|off]\n"
    "         [--xattrs on|off|auto] [--writeback on|off] [--precreate on|off]\n"
    "         [--handles on|off]\n"
    "         [--stats FILE] [--profile FILE]\n";

struct Options {
  std::string backend, kernel, initrd, state, share;
  std::string virtiofsd = "/usr/lib/qemu/virtiofsd";
  // Our cache policy: exclusive as for a bundle rootfs, coherent as for a bind mount.
  CachePolicy policy = CachePolicy::kExclusive;
  // Our xattrs ("auto": only if the share's tree holds any); by default as
  // runvm serves each policy: auto for a rootfs (exclusive), off for a bind
  // mount (coherent).
  std::optional<std::string> xattrs;
  std::optional<bool> writeback;  // ours, exclusive only; default as runvm serves a rootfs
  bool precreate = false;         // ours: files made ahead of time (FsConfig::precreate)
  bool handles = false;           // ours: open-file handles (FsConfig::handles)
  std::string virtiofsd_cache = "auto";
  // virtiofsd's -o writeback: what our exclusive mode does, for a like-for-like pair.
  bool virtiofsd_writeback = false;
  // virtiofsd's -o xattr: what our exclusive mode serves (a rootfs keeps
  // file capabilities), for a like-for-like pair: with xattrs the guest asks
  // GETXATTR security.capability before each first write and each chown.
  bool virtiofsd_xattr = false;
  std::string stats;           // our backend's per-opcode request counts go here
  std::string profile;         // the guest vCPU's sampled state goes here (sample_vcpu)
  uint64_t memory_mib = 1536;  // 256 MiB file + trees must fit the tmpfs run
  int timeout_s = 900;
};

Result<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return make_error("missing value for " + arg);
    const std::string val = argv[++i];
    if (arg == "--backend")
      o.backend = val;
    else if (arg == "--kernel")
      o.kernel = val;
    else if (arg == "--initrd")
      o.initrd = val;
    else if (arg == "--state")
      o.state = val;
    else if (arg == "--share")
      o.share = val;
    else if (arg == "--virtiofsd")
      o.virtiofsd = val;
    else if (arg == "--memory")
      o.memory_mib = std::stoull(val);
    else if (arg == "--timeout")
      o.timeout_s = std::stoi(val);
    else if (arg == "--policy" && (val == "exclusive" || val == "coherent"))
      o.policy = val == "exclusive" ? CachePolicy::kExclusive : CachePolicy::kCoherent;
    else if (arg == "--virtiofsd-cache" && (val == "auto" || val == "always" || val == "none"))
      o.virtiofsd_cache = val;
    else if (arg == "--xattrs" && (val == "on" || val == "off" || val == "auto"))
      o.xattrs = val;
    else if (arg == "--writeback" && (val == "on" || val == "off"))
      o.writeback = val == "on";
    else if (arg == "--precreate" && (val == "on" || val == "off"))
      o.precreate = val == "on";
    else if (arg == "--handles" && (val == "on" || val == "off"))
      o.handles = val == "on";
    else if (arg == "--virtiofsd-writeback" && (val == "on" || val == "off"))
      o.virtiofsd_writeback = val == "on";
    else if (arg == "--virtiofsd-xattr" && (val == "on" || val == "off"))
      o.virtiofsd_xattr = val == "on";
    else if (arg == "--stats")
      o.stats = val;
    else if (arg == "--profile")
      o.profile = val;
    else
      return make_error("unknown option " + arg);
  }
  if (o.backend != "ours" && o.backend != "virtiofsd" && o.backend != "tmpfs")
    return make_error("--backend must be ours, virtiofsd or tmpfs");
  if (o.kernel.empty() || o.initrd.empty() || o.state.empty())
    return make_error("--kernel, --initrd and --state are required");
  if (o.backend != "tmpfs" && o.share.empty()) return make_error("--share is required");
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The device loop on its own thread, stopped and joined on scope exit.
class LoopThread {
 public:
  explicit LoopThread(EventLoop& loop) : loop_(loop), thread_([this] { (void)loop_.run(); }) {}
  ~LoopThread() {
    loop_.stop();
    thread_.join();
  }

 private:
  EventLoop& loop_;
  std::thread thread_;
};

// Our backend as the shim runs it. Members go down in reverse: the loop
// thread stops before the server and device it drives are destroyed.
struct OurBackend {
  std::unique_ptr<EventLoop> loop;
  std::unique_ptr<FsDevice> device;
  std::unique_ptr<vhost_user::VhostUserServer> server;
  std::optional<LoopThread> thread;

  Status start(const Options& o, const std::string& sock) {
    loop = RUNVM_TRY(EventLoop::create());
    FsConfig cfg{o.share, o.policy, false};
    const std::string xattrs =
        o.xattrs.value_or(o.policy == CachePolicy::kExclusive ? "auto" : "off");
    cfg.xattrs = xattrs != "off";
    cfg.xattrs_if_present = xattrs == "auto";
    if (o.writeback) cfg.writeback = *o.writeback;
    cfg.precreate = o.precreate;
    cfg.handles = o.handles;
    device = RUNVM_TRY(FsDevice::create(*loop, std::move(cfg)));
    server = RUNVM_TRY(vhost_user::VhostUserServer::listen(*loop, sock, *device));
    thread.emplace(*loop);
    return {};
  }
};

// virtiofsd creates its socket once it is ready to accept QEMU.
Status start_virtiofsd(const Options& o, const std::string& sock, ChildProcess& child) {
  std::vector<std::string> argv = {o.virtiofsd, "--socket-path=" + sock,
                                   "-o",        "source=" + o.share,
                                   "-o",        "cache=" + o.virtiofsd_cache};
  if (o.virtiofsd_writeback) argv.insert(argv.end(), {"-o", "writeback"});
  if (o.virtiofsd_xattr) argv.insert(argv.end(), {"-o", "xattr"});
  child = RUNVM_TRY(ChildProcess::spawn(argv, o.state + "/virtiofsd.log"));
  for (int i = 0; i < 500; ++i) {
    if (access(sock.c_str(), F_OK) == 0) return {};
    if (child.exited()) return make_error("virtiofsd exited: " + slurp(o.state + "/virtiofsd.log"));
    usleep(10000);
  }
  return make_error("virtiofsd did not create " + sock);
}

// A poor man's guest profiler: where the vCPU is, read through QEMU's
// monitor ("info registers": RIP, CPL, HLT) at about 50 Hz. Under TCG the
// RIP is the last one QEMU stored (at a TB exit or an indirect jump), which
// is good to the function. One "<cpl> <hlt> <rip>" line per sample;
// bench/guest_profile.py folds them into kernel functions.
void sample_vcpu(QemuEngine& qemu, std::FILE* out) {
  auto reply = qemu.qmp("human-monitor-command", R"({"command-line":"info registers"})");
  if (!reply.ok()) return;
  auto field = [&](const char* name) -> std::string {
    const size_t at = reply->find(name);
    if (at == std::string::npos) return "?";
    const size_t from = at + std::strlen(name);
    size_t end = from;
    while (end < reply->size() && std::isxdigit(static_cast<unsigned char>((*reply)[end]))) ++end;
    return reply->substr(from, end - from);
  };
  std::fprintf(out, "%s %s %s\n", field("CPL=").c_str(), field("HLT=").c_str(),
               field("RIP=").c_str());
}

Status run(const Options& o) {
  const std::string sock = o.state + "/fs.sock";
  OurBackend ours;
  ChildProcess virtiofsd;
  if (o.backend == "ours") RUNVM_CHECK(ours.start(o, sock));
  if (o.backend == "virtiofsd") RUNVM_CHECK(start_virtiofsd(o, sock, virtiofsd));

  VmConfig vm;
  vm.machine.kernel = o.kernel;
  vm.machine.initrd = o.initrd;
  vm.machine.memory_mib = o.memory_mib;
  vm.machine.cmdline_extra = "fsbench=" + o.backend;  // read by the guest's /init
  vm.console_log = o.state + "/" + layout::kConsoleLog;
  vm.engine_log = o.state + "/" + layout::kEngineLog;
  if (o.backend != "tmpfs") vm.devices.push_back({VhostUserDevice::kFs, sock, 0, kTag});
  // Opened before the guest boots, so that a bad path costs no VM.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(nullptr, &std::fclose);
  if (!o.profile.empty()) {
    out.reset(std::fopen(o.profile.c_str(), "w"));
    if (!out) return make_error("--profile: cannot write " + o.profile);
  }
  // Declared after the backends: QEMU goes away before they do.
  auto engine = std::make_unique<QemuEngine>();
  if (auto st = engine->start(vm); !st.ok())
    return make_error(st.error().message + "\n" + slurp(vm.engine_log));

  // The guest reboots at the end of its script, which ends QEMU (-no-reboot).
  pollfd p{engine->pidfd(), POLLIN, 0};
  bool finished = false;
  if (!out) {
    finished = poll(&p, 1, o.timeout_s * 1000) > 0;
  } else {
    // Each sample's monitor round trip adds to the 20 ms: the timeout is a deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
    while (!finished && std::chrono::steady_clock::now() < deadline) {
      finished = poll(&p, 1, 20) > 0;
      if (!finished) sample_vcpu(*engine, out.get());
    }
  }
  if (!finished) (void)engine->stop();
  (void)RUNVM_TRY(engine->wait());
  if (virtiofsd.valid()) virtiofsd.kill_and_reap();
  if (ours.device && !o.stats.empty()) {
    std::ofstream out(o.stats, std::ios::app);
    out << ours.device->format_stats();
  }

  const std::string console = slurp(vm.console_log);
  std::istringstream lines(console);
  bool done = false, failed = !finished;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("FSBENCH ", 0) == 0) std::printf("%s\n", line.c_str() + 8);
    if (line.rfind("FSBENCH-FAIL", 0) == 0) failed = true;
    if (line.rfind("FSBENCH-DONE", 0) == 0) done = true;
  }
  if (!done || failed) return make_error("guest workload failed; console:\n" + console);
  return {};
}

}  // namespace
}  // namespace runvm

int main(int argc, char** argv) {
  auto opts = runvm::parse(argc, argv);
  if (!opts.ok()) {
    std::fprintf(stderr, "runvm-fs-bench: %s\n%s", opts.error().message.c_str(), runvm::kUsage);
    return 2;
  }
  auto st = runvm::run(*opts);
  if (!st.ok()) {
    std::fprintf(stderr, "runvm-fs-bench: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}
