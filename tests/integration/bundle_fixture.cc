#include "tests/integration/bundle_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "spec/base/json.h"
#include "spec/base/unix_socket.h"

namespace runvm::testing {

namespace fs = std::filesystem;

namespace {
constexpr const char* kApplets[] = {"sh",    "echo",  "cat",   "ls",     "id",    "env",
                                    "pwd",   "sleep", "head",  "kill",   "chmod", "chown",
                                    "stat",  "true",  "false", "md5sum", "wc",    "hostname",
                                    "mkdir", "touch", "grep",  "rm"};
}

Bundle::Bundle(const BundleSpec& spec) {
  fs::create_directories(rootfs() + "/bin");
  for (const char* d : {"proc", "sys", "dev", "tmp", "etc"})
    fs::create_directories(rootfs() + "/" + d);
  fs::copy_file("/bin/busybox", rootfs() + "/bin/busybox");
  for (const char* a : kApplets) fs::create_symlink("busybox", rootfs() + "/bin/" + a);
  if (spec.stdio_probe)
    fs::copy_file(vm_assets().build_dir + "/tests/stdio-probe", rootfs() + "/bin/stdio-probe");
  write_config(spec);
}

void Bundle::write_config(const BundleSpec& spec) {
  json::Writer w;
  w.begin_object().key("ociVersion").string("1.0.2");
  w.key("root").begin_object().key("path").string("rootfs");
  if (spec.readonly_root) w.key("readonly").boolean(true);
  w.end_object();
  w.key("hostname").string(spec.hostname);
  w.key("process").begin_object();
  w.key("terminal").boolean(spec.terminal);
  w.key("user").begin_object().key("uid").uinteger(spec.uid).key("gid").uinteger(spec.gid);
  if (spec.umask) w.key("umask").uinteger(*spec.umask);
  w.end_object();
  w.key("args").begin_array();
  for (auto& a : spec.args) w.string(a);
  w.end_array();
  w.key("env").begin_array();
  for (auto& e : spec.env) w.string(e);
  w.end_array();
  w.key("cwd").string(spec.cwd);
  w.end_object().end_object();
  // The process object is written last: the text ends with its "}}".
  std::string text = w.str();
  if (!spec.process_json.empty()) text.insert(text.size() - 2, "," + spec.process_json);
  if (!spec.config_json.empty()) text.insert(text.size() - 1, "," + spec.config_json);
  std::ofstream(dir() + "/config.json") << text;
}

SlowReadResult run_into_slow_reader(const std::vector<std::string>& argv) {
  TempDir files;
  std::string out = files.path() + "/out", code = files.path() + "/code";
  std::string cmd = "{ ";
  for (const auto& a : argv) cmd += "'" + a + "' ";
  cmd += "; echo $? >'" + code + "'; } | while [ \"$(dd bs=16384 count=1 iflag=fullblock " +
         "2>/dev/null | tee -a '" + out + "' | wc -c)\" -gt 0 ]; do sleep 0.8; done";
  SlowReadResult r;
  r.status = run_command({"/bin/sh", "-c", cmd}).status;
  r.out = read_file(out);
  r.code = read_file(code);
  return r;
}

std::string seq_output(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += std::to_string(i) + "\n";
  return s;
}

std::string runvm_binary() { return vm_assets().build_dir + "/runtime/runvm"; }

std::vector<std::string> runvm_argv(const std::string& root, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {runvm_binary(), "--root", root};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

UniqueFd listen_console(const std::string& path) {
  auto fd = listen_unix(path, {.backlog = 1});
  return fd ? std::move(*fd) : UniqueFd();
}

int accept_console_master(int listener) {
  UniqueFd conn(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return -1;
  auto master = receive_fd(conn.get());
  return master ? master->release() : -1;
}

pid_t spawn_to_files(const std::vector<std::string>& argv, const std::string& out,
                     const std::string& err) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    auto open_or_null = [](const std::string& path) {
      return path.empty() ? open("/dev/null", O_WRONLY)
                          : open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    };
    int in = open("/dev/null", O_RDONLY), o = open_or_null(out), e = open_or_null(err);
    if (in < 0 || o < 0 || e < 0) _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  return pid;
}

int run_to_files(const std::vector<std::string>& argv, const std::string& out,
                 const std::string& err) {
  pid_t pid = spawn_to_files(argv, out, err);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  CommandResult r;
  size_t written = 0;
  int in_fd = in[1];
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in_fd, POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0 && errno != EINTR) break;
    if (in_fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      if (n == 0) (i == 0 ? out_open : err_open) = false;
    }
  }
  if (in_fd >= 0) close(in_fd);
  close(out[0]);
  close(err[0]);
  waitpid(pid, &r.status, 0);
  return r;
}

}  // namespace runvm::testing
