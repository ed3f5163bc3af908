#include "runtime/container.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "shim/client/control.h"
#include "spec/base/atomic_file.h"
#include "spec/base/state_layout.h"
#include "spec/proc_start_time.h"

namespace runvm::cli {

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errno_error("read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool shim_alive(const oci::ContainerState& s) {
  return s.shim.pid > 0 && process_running(static_cast<pid_t>(s.shim.pid), s.shim.start_time);
}

bool process_running(pid_t pid, uint64_t start_time) {
  auto t = oci::process_start_time(pid);
  if (!t.ok() || *t != start_time) return false;
  // A zombie (its parent has not reaped it yet) has ended: a zombie shim
  // is a stopped container.
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  return paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'Z';
}

namespace {

// `we_lock`: the caller holds the container's lock, so no create of it runs.
Result<Container> load(const GlobalOptions& g, const std::string& id, bool we_lock) {
  RUNVM_CHECK(validate_id(id));
  Container c{ContainerDir(g.root, id), {}};
  if (!c.dir.exists()) return make_error("container does not exist", ENOENT);
  auto text = read_file(c.dir.file(layout::kStateFile));
  if (!text.ok()) return make_error("container does not exist", ENOENT);
  c.state = RUNVM_TRY(oci::parse_persisted_state(*text).context("state.json"));
  // `create` writes "creating" and holds the lock until it writes "created"
  // (or removes the directory): the lock held says it is still at work.
  if (c.state.status == oci::Status::kCreating && !we_lock && c.dir.locked_by_other()) {
    c.state.pid = 0;
    return c;
  }
  // The shim owns the live status; a dead shim means a stopped container.
  if (!shim_alive(c.state)) {
    c.state.status = oci::Status::kStopped;
    c.state.pid = 0;
  } else if (auto s = read_file(c.dir.file(layout::kStatusFile)); s.ok()) {
    std::string v = *s;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    if (auto st = oci::parse_status(v)) c.state.status = *st;
    if (c.state.status == oci::Status::kStopped) c.state.pid = 0;
  }
  return c;
}

}  // namespace

Result<Container> load_container(const GlobalOptions& g, const std::string& id) {
  return load(g, id, false);
}

Result<LockedContainer> lock_container(const GlobalOptions& g, const std::string& id) {
  RUNVM_CHECK(validate_id(id));
  auto lock = RUNVM_TRY(ContainerDir(g.root, id).lock());
  auto ct = RUNVM_TRY(load(g, id, true));
  return LockedContainer{std::move(ct), std::move(lock)};
}

// Not fsynced, as runc's state.json and pid file are not: they describe
// processes a host crash ends, under a root that is tmpfs on most hosts
// (/run), and each costs a journal commit (ms, and more under I/O load) on
// every create, start and warm claim where it is a disk.
Status save_state(const Container& c) {
  return write_file_atomic(c.dir.file(layout::kStateFile), oci::persisted_state_json(c.state),
                           false);
}

std::string shim_socket(const Container& c) {
  // A pod member's shim is its sandbox's (runtime/pod_member.h).
  return c.state.shim.socket.empty() ? c.dir.socket(layout::kShimSocket) : c.state.shim.socket;
}

Status shim_request(const Container& c, const control::Request& r) {
  return control::call(shim_socket(c), c.state.id, r);
}

Result<int> parse_signal(const std::string& text) {
  if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
    int n = atoi(text.c_str());
    // 0 probes, as kill(2) and runc: is the container still there?
    if (n < 0 || n > 64) return make_error("invalid signal: " + text);
    return n;
  }
  std::string name = text;
  for (auto& ch : name) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
      {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
      {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
      {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
      {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
      {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
      {"SYS", SIGSYS},
  };
  for (auto& [n, v] : kSignals)
    if (name == n) return v;
  if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
    bool min = name[3] == 'I';
    std::string rest = name.substr(5);
    int off = rest.empty() ? 0 : atoi(rest.c_str());
    int sig = min ? SIGRTMIN + off : SIGRTMAX + off;
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
  }
  return make_error("invalid signal: " + text);
}

Status write_pid_file(const std::string& path, long pid) {
  return write_file_atomic(path, std::to_string(pid), false);  // as save_state
}

}  // namespace runvm::cli
