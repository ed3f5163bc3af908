#include "guest/agent/container_fixture.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "guest/agent/agent.h"
#include "guest/protocol/frame.h"
#include "spec/base/unix_socket.h"

namespace runvm::agent::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kApplets[] = {"sh",       "cat",  "echo", "sleep",    "stty",
                                    "id",       "pwd",  "env",  "touch",    "ls",
                                    "hostname", "kill", "true", "readlink", "stat"};

std::string port_path(const std::string& dir, uint32_t port) {
  return dir + "/port-" + std::to_string(port);
}

Status build_rootfs(const std::string& root) {
  std::error_code ec;
  fs::create_directories(root + "/bin", ec);
  fs::create_directories(root + "/etc", ec);
  fs::copy_file("/bin/busybox", root + "/bin/busybox", ec);
  if (ec) return make_error("copying /bin/busybox: " + ec.message());
  for (const char* applet : kApplets) fs::create_symlink("busybox", root + "/bin/" + applet, ec);
  std::ofstream(root + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                      << "user:x:1000:1000::/home/user:/bin/sh\n";
  // Executable bits on something that is no program: execve says ENOEXEC.
  std::ofstream(root + "/bin/garbage") << "\x01\x02\x03 not a program\n";
  ::chmod((root + "/bin/garbage").c_str(), 0755);
  return {};
}

// The agent: PID 1 of new namespaces; never returns.
[[noreturn]] void run_agent(int control, const std::string& dir, const std::string& rootfs,
                            const AgentOptions& options) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWPID) < 0) _exit(90);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) _exit(91);
  pid_t init = ::fork();  // the first child in the new PID namespace is its PID 1
  if (init < 0) _exit(92);
  if (init > 0) {
    int status = 0;
    ::waitpid(init, &status, 0);
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 93);
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // A procfs of the new PID namespace, as the guest's is the agent's: signal
  // with all finds a container's processes there (container_procs.h).
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0) _exit(96);
  AgentConfig config;
  config.dial = [dir](uint32_t port) -> Result<UniqueFd> {
    auto fd = connect_unix(port_path(dir, port));
    if (!fd.ok()) return std::move(fd).error().wrap("port " + std::to_string(port));
    // Small, like vsock credit: a host that does not read stalls writers soon.
    int sndbuf = 4096;
    ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    return fd;
  };
  config.root.root_dir = dir + "/mnt";
  config.root.bind_rootfs = rootfs;
  config.setup_timeout = options.setup_timeout;
  config.exec_before_join = options.exec_before_join;
  config.create_before_join = options.create_before_join;
  config.root.cgroup_root = options.cgroup_root;
  auto agent = Agent::create(control, std::move(config));
  if (!agent.ok() ||
      !(*agent)->send_hello(proto::Hello{proto::kProtocolVersion, "test", 0, "test"}).ok())
    _exit(94);
  auto outcome = (*agent)->serve();
  _exit(outcome.ok() ? 0 : 95);
}

std::optional<uint64_t> reply_id(const proto::AgentMessage& m) {
  if (auto* p = std::get_if<proto::Pong>(&m)) return p->id;
  if (auto* o = std::get_if<proto::Ok>(&m)) return o->id;
  if (auto* e = std::get_if<proto::ErrorReply>(&m)) return e->id;
  return std::nullopt;
}

}  // namespace

// --- Host ---------------------------------------------------------------------

void Host::send(const proto::HostMessage& m) {
  auto sent = proto::write_frame(fd_, proto::to_json(m));
  EXPECT_TRUE(sent.ok()) << sent.error().message;
}

std::optional<size_t> Host::wait(const std::function<bool(const proto::AgentMessage&)>& pred,
                                 int timeout_ms) {
  if (timeout_ms < 0) timeout_ms = timeout_ms_;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (size_t i = 0;; ++i) {
    for (; i < log_.size(); ++i)
      if (pred(log_[i])) return i;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    // Polled even when the time is up: what already arrived still counts.
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) != 1)
      return std::nullopt;
    auto frame = proto::read_frame(fd_);
    if (!frame.ok() || !*frame) return std::nullopt;
    auto msg = proto::parse_agent_message(**frame);
    EXPECT_TRUE(msg.ok()) << **frame;
    if (msg.ok()) log_.push_back(*msg);
    --i;  // look at the new one
  }
}

std::optional<size_t> Host::reply(uint64_t id, int timeout_ms) {
  return wait([id](const proto::AgentMessage& m) { return reply_id(m) == id; }, timeout_ms);
}

void Host::expect_ok(uint64_t id) {
  auto i = reply(id);
  ASSERT_TRUE(i) << "no reply to " << id;
  EXPECT_TRUE(std::holds_alternative<proto::Ok>(log_[*i])) << proto::to_json(log_[*i]);
}

std::string Host::error_of(uint64_t id) {
  auto i = reply(id);
  if (!i) return "<no reply>";
  auto* e = std::get_if<proto::ErrorReply>(&log_[*i]);
  return e ? e->message : "";
}

std::optional<uint32_t> Host::exit_status(const std::string& cid, int timeout_ms) {
  auto i = wait(
      [&](const proto::AgentMessage& m) {
        auto* e = std::get_if<proto::Exit>(&m);
        return e && e->container_id == cid;
      },
      timeout_ms);
  if (!i) return std::nullopt;
  return std::get<proto::Exit>(log_[*i]).status;
}

std::optional<uint32_t> Host::exec_status(const std::string& cid, const std::string& eid,
                                          int timeout_ms) {
  auto i = wait(
      [&](const proto::AgentMessage& m) {
        auto* e = std::get_if<proto::ExecExit>(&m);
        return e && e->container_id == cid && e->exec_id == eid;
      },
      timeout_ms);
  if (!i) return std::nullopt;
  return std::get<proto::ExecExit>(log_[*i]).status;
}

Host::Reply Host::call(proto::HostMessage m) {
  uint64_t id = next_id_++;
  std::visit([id](auto& r) { r.id = id; }, m);
  bool ping = std::holds_alternative<proto::Ping>(m);
  send(m);
  Reply r;
  auto i = reply(id);
  if (!i) {
    r.error = "<no reply>";
    return r;
  }
  const proto::AgentMessage& got = log_[*i];
  if (auto* e = std::get_if<proto::ErrorReply>(&got)) {
    r.error = e->message;
    r.exit_code = e->exit_code;
  } else if (std::holds_alternative<proto::Pong>(got) == ping) {
    r.ok = true;
  } else {
    r.error = "unexpected reply: " + proto::to_json(got);
  }
  return r;
}

Host::Reply Host::signal(const std::string& cid, int sig, bool all, const std::string& eid) {
  proto::Signal s{0, cid, static_cast<uint32_t>(sig), all};
  s.exec_id = eid;
  return call(std::move(s));
}

Host::Reply Host::resize(const std::string& cid, uint16_t rows, uint16_t cols,
                         const std::string& eid) {
  proto::Resize r{0, cid, rows, cols};
  r.exec_id = eid;
  return call(std::move(r));
}

std::ostream& operator<<(std::ostream& os, const Host::Reply& r) {
  if (r.ok) return os << "ok";
  os << "error: " << r.error;
  if (r.exit_code) os << " (exit_code " << *r.exit_code << ")";
  return os;
}

// --- AgentProcess ---------------------------------------------------------------

Result<UniqueFd> HostPort::accept(int timeout_ms) {
  pollfd p{listener.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1)
    return make_error("no connection on port " + std::to_string(port));
  UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return errno_error("accept");
  return fd;
}

AgentProcess::AgentProcess(AgentOptions options) {
  char tmpl[] = "/tmp/runvm-container-test-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  rootfs_ = dir_ + "/rootfs";
  if (auto st = build_rootfs(rootfs_); !st.ok()) {
    error_ = st.error().message;
    return;
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
    error_ = "socketpair failed";
    return;
  }
  UniqueFd host(pair[0]), guest(pair[1]);
  pid_ = ::fork();
  if (pid_ == 0) {
    host.reset();
    run_agent(guest.get(), dir_, rootfs_, options);
  }
  guest.reset();
  host_fd_ = std::move(host);
  host_ = std::make_unique<Host>(host_fd_.get());
  pollfd p{host_fd_.get(), POLLIN, 0};
  auto hello = ::poll(&p, 1, 10000) == 1 ? proto::read_frame(host_fd_.get())
                                         : Result<std::optional<std::string>>(std::nullopt);
  std::optional<proto::AgentMessage> msg;
  if (hello.ok() && *hello) {
    auto parsed = proto::parse_agent_message(**hello);
    if (parsed.ok()) msg = std::move(*parsed);
  }
  auto* h = msg ? std::get_if<proto::Hello>(&*msg) : nullptr;
  if (!h)
    error_ = "no hello from the agent";
  else if (h->version != proto::kProtocolVersion)
    error_ = "agent speaks protocol " + std::to_string(h->version);
}

AgentProcess::~AgentProcess() {
  host_.reset();
  host_fd_.reset();  // host gone: the agent returns, its PID namespace dies
  if (pid_ > 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);  // its PDEATHSIG takes the agent along
        ::waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // Only our namespaces ever had mounts under dir_; they are gone now.
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

HostPort AgentProcess::listen() {
  HostPort p;
  p.port = next_port_++;
  auto listener = listen_unix(port_path(dir_, p.port), {.backlog = 4});
  if (listener.ok()) p.listener = std::move(*listener);
  return p;
}

proto::Create AgentProcess::request(const std::string& id, std::vector<std::string> args) {
  proto::Create c;
  c.container_id = id;
  c.rootfs.tag = "rootfs";
  c.process.args = std::move(args);
  c.process.env = {"PATH=/bin"};
  return c;
}

std::string read_all(int fd, int timeout_ms) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) != 1) return out;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string read_available(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    out.append(buf, static_cast<size_t>(n));
  return out;
}

}  // namespace runvm::agent::testing
