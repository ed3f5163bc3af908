// The container process's stdio has the same file types as under runc
// (stdio_probe.c reports fstat's type, isatty, O_APPEND and the owner of
// fds 0-2): the caller's kinds for create and exec -d, pipes for a
// foreground run and exec (runc copies through pipes of its own then), a
// pty owned by the process's user for a terminal. Each case also runs
// under runc when it is installed, and must give the same answer there.
// And Node.js-shaped output (non-blocking writes, exit right after the
// last one) arrives whole although the process exits before it was read.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::read_file;
using testing::runvm_binary;
using testing::TempDir;

constexpr char kRunc[] = "/usr/sbin/runc";
// runc needs the namespaces and mounts a real config has (a terminal needs
// devpts); runvm accepts them.
constexpr char kNamespaces[] =
    R"("linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}]},)"
    R"("mounts":[{"destination":"/proc","type":"proc","source":"proc"},)"
    R"({"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["mode=755"]},)"
    R"({"destination":"/dev/pts","type":"devpts","source":"devpts",)"
    R"("options":["newinstance","ptmxmode=0666","mode=0620"]}])";

struct Pipe {
  UniqueFd r, w;
  Pipe() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) r.reset(p[0]), w.reset(p[1]);
  }
};

UniqueFd open_null() { return UniqueFd(open("/dev/null", O_RDWR | O_CLOEXEC)); }

// Runs argv with fds 0-2 as given; its raw wait status.
int spawn_wait(const std::vector<std::string>& argv, int in, int out, int err) {
  pid_t pid = fork();
  if (pid == 0) {
    int high[3] = {fcntl(in, F_DUPFD, 10), fcntl(out, F_DUPFD, 10), fcntl(err, F_DUPFD, 10)};
    for (int fd = 0; fd < 3; ++fd) dup2(high[fd], fd);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return status;
}

// Everything until EOF, at most `timeout_s` seconds.
std::string read_to_eof(int fd, int timeout_s = 120) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// One runtime binary with its own state root.
struct Runtime {
  std::string binary;
  TempDir root;
  std::vector<std::string> argv(std::vector<std::string> args) const {
    std::vector<std::string> v = {binary, "--root", root.path()};
    v.insert(v.end(), args.begin(), args.end());
    return v;
  }
  int run(std::vector<std::string> args) const {
    UniqueFd null = open_null();
    return spawn_wait(argv(std::move(args)), null.get(), null.get(), null.get());
  }
};

class StdioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RUNVM_REQUIRE_VM_ASSETS();
    runtimes_.push_back(std::make_unique<Runtime>(Runtime{runvm_binary(), {}}));
    if (access(kRunc, X_OK) == 0)
      runtimes_.push_back(std::make_unique<Runtime>(Runtime{kRunc, {}}));
  }

  static BundleSpec spec(std::vector<std::string> args, bool terminal = false) {
    BundleSpec s;
    s.args = std::move(args);
    s.uid = s.gid = 1000;
    s.terminal = terminal;
    s.stdio_probe = true;
    s.config_json = kNamespaces;
    return s;
  }

  // What the probe reports on its stderr (a pipe we read) when created with
  // `in` and `out` as stdin and stdout, then started.
  std::string probe_created(const Runtime& rt, int in, int out) {
    Bundle bundle(spec({"stdio-probe", "2"}));
    Pipe err;
    int rc = spawn_wait(rt.argv({"create", "-b", bundle.dir(), "probe"}), in, out, err.w.get());
    err.w.reset();
    if (rc != 0) return "create failed: " + read_to_eof(err.r.get(), 5);
    EXPECT_EQ(rt.run({"start", "probe"}), 0) << rt.binary;
    std::string report = read_to_eof(err.r.get());
    rt.run({"delete", "--force", "probe"});
    return report;
  }

  // `bundle` (a stdio-probe flood) created by `rt` as `id` with its stdout
  // into `out` (its write end closed here) and started.
  static void start_flood(const Runtime& rt, const Bundle& bundle, const std::string& id,
                          Pipe& out) {
    UniqueFd null = open_null();
    ASSERT_EQ(spawn_wait(rt.argv({"create", "-b", bundle.dir(), id}), null.get(), out.w.get(),
                         null.get()),
              0)
        << rt.binary;
    out.w.reset();
    ASSERT_EQ(rt.run({"start", id}), 0) << rt.binary;
  }

  // Whether `rt` reports `id` stopped within `tenths` tenths of a second.
  bool stopped_within(const Runtime& rt, const std::string& id, int tenths) {
    UniqueFd null = open_null();
    std::string state_file = files_.path() + "/state.json";
    for (int i = 0; i < tenths; ++i) {
      UniqueFd state(open(state_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      spawn_wait(rt.argv({"state", id}), null.get(), state.get(), null.get());
      if (read_file(state_file).find("\"stopped\"") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // A flood's `bytes` bytes, whole and in order (byte i is i % 251).
  static void expect_flood(const std::string& got, size_t bytes, const Runtime& rt) {
    ASSERT_EQ(got.size(), bytes) << rt.binary;
    size_t bad = 0;
    while (bad < bytes && static_cast<unsigned char>(got[bad]) == bad % 251) ++bad;
    EXPECT_EQ(bad, bytes) << rt.binary << ": first wrong byte";
  }

  // Every runtime must answer `want`.
  template <class Probe>
  void expect_everywhere(const std::string& want, Probe probe) {
    for (const auto& rt : runtimes_) EXPECT_EQ(probe(*rt), want) << rt->binary;
  }

  std::vector<std::unique_ptr<Runtime>> runtimes_;
  TempDir files_;
};

TEST_F(StdioTest, CreateWithPipes) {
  expect_everywhere("0:fifo,uid=1000 1:fifo,uid=1000 2:fifo,uid=1000\n", [&](const Runtime& rt) {
    Pipe in, out;
    return probe_created(rt, in.r.get(), out.w.get());
  });
}

TEST_F(StdioTest, CreateWithDevNull) {
  expect_everywhere("0:null,uid=0 1:null,uid=0 2:fifo,uid=1000\n", [&](const Runtime& rt) {
    UniqueFd null = open_null();
    return probe_created(rt, null.get(), null.get());
  });
}

TEST_F(StdioTest, CreateWithSockets) {
  expect_everywhere("0:sock,uid=1000 1:sock,uid=1000 2:fifo,uid=1000\n", [&](const Runtime& rt) {
    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s);
    UniqueFd ours(s[0]), theirs(s[1]);
    return probe_created(rt, theirs.get(), theirs.get());
  });
}

// A regular file is a regular file in the guest too, O_APPEND included,
// owned by the process's user (runc chowns the very file).
TEST_F(StdioTest, CreateWithAFile) {
  // stdin a file as well the first time, /dev/null the second.
  for (bool append : {false, true}) {
    std::string want = std::string(append ? "0:null,uid=0" : "0:reg,uid=1000") + " 1:reg" +
                       (append ? ",append" : "") + ",uid=1000 2:fifo,uid=1000\n";
    expect_everywhere(want, [&](const Runtime& rt) {
      std::string path = files_.path() + "/probe-out", in_path = files_.path() + "/probe-in";
      UniqueFd file(open(path.c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (append ? O_APPEND : 0), 0644));
      UniqueFd in(append ? open("/dev/null", O_RDONLY | O_CLOEXEC)
                         : open(in_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644));
      return probe_created(rt, in.get(), file.get());
    });
  }
}

// A terminal without process.terminal: a pty in the guest too (raw, so the
// caller's terminal adds its CR once), owned by the process's user, with
// the terminal's size.
TEST_F(StdioTest, CreateOnATerminalWithoutProcessTerminal) {
  for (bool size : {false, true})
    expect_everywhere(
        size ? "33 77\r\n" : "0:chr,tty,uid=1000 1:chr,tty,uid=1000 2:chr,tty,uid=1000\r\n",
        [&](const Runtime& rt) -> std::string {
          Bundle bundle(spec({"stdio-probe", size ? "size" : "1"}));
          int m, sl;
          winsize ws{33, 77, 0, 0};
          if (openpty(&m, &sl, nullptr, nullptr, &ws) < 0) return "openpty";
          UniqueFd master(m), slave(sl);
          int rc = spawn_wait(rt.argv({"create", "-b", bundle.dir(), "tty"}), slave.get(),
                              slave.get(), slave.get());
          slave.reset();
          if (rc != 0) return "create failed";
          EXPECT_EQ(rt.run({"start", "tty"}), 0);
          std::string out = read_to_eof(master.get(), 60);  // EIO: all closed
          rt.run({"delete", "--force", "tty"});
          return out;
        });
}

// A regular file: what the process writes lands in it at the caller's
// offset, and with O_APPEND at its end (runc hands the file over; runvm's
// shim serves it to the guest and writes to it: shim/fs/stdio_fs.h).
TEST_F(StdioTest, OutputToAFileFollowsTheCallersOffsetAndAppend) {
  for (const auto& rt : runtimes_) {
    for (bool append : {false, true}) {
      std::string path = files_.path() + "/out" + (append ? "-append" : "");
      UniqueFd file(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      ASSERT_EQ(write(file.get(), "head\n", 5), 5);
      if (append) file.reset(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
      Bundle bundle(spec({"sh", "-c", "echo from-container"}));
      UniqueFd null = open_null();
      Pipe err;
      ASSERT_EQ(spawn_wait(rt->argv({"create", "-b", bundle.dir(), "file"}), null.get(), file.get(),
                           err.w.get()),
                0);
      err.w.reset();
      // Another writer moves the end meanwhile: only O_APPEND follows it.
      if (append) {
        UniqueFd other(open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
        ASSERT_EQ(write(other.get(), "other\n", 6), 6);
      }
      ASSERT_EQ(rt->run({"start", "file"}), 0);
      read_to_eof(err.r.get());  // the container and what stands for it ended
      rt->run({"delete", "--force", "file"});
      ASSERT_EQ(write(file.get(), "tail\n", 5), 5);
      EXPECT_EQ(read_file(path),
                append ? "head\nother\nfrom-container\ntail\n" : "head\nfrom-container\ntail\n")
          << rt->binary;
    }
  }
}

// A foreground run: runc copies through pipes of its own, whatever its stdio.
TEST_F(StdioTest, ForegroundRunGetsPipes) {
  expect_everywhere("0:fifo,uid=1000 1:fifo,uid=1000 2:fifo,uid=1000\n", [&](const Runtime& rt) {
    Bundle bundle(spec({"stdio-probe", "2"}));
    UniqueFd null = open_null();
    Pipe err;
    spawn_wait(rt.argv({"run", "-b", bundle.dir(), "fg"}), null.get(), null.get(), err.w.get());
    err.w.reset();
    return read_to_eof(err.r.get(), 5);
  });
}

TEST_F(StdioTest, TerminalIsAPtyOwnedByTheUser) {
  expect_everywhere(
      "0:chr,tty,uid=1000 1:chr,tty,uid=1000 2:chr,tty,uid=1000\r\n",
      [&](const Runtime& rt) -> std::string {
        Bundle bundle(spec({"stdio-probe"}, true));
        std::string path = files_.path() + "/console.sock";
        unlink(path.c_str());
        UniqueFd listener = testing::listen_console(path);
        if (!listener) return "console socket";
        // create blocks until the master was taken: receive it meanwhile.
        UniqueFd master;
        std::thread receiver([&] { master.reset(testing::accept_console_master(listener.get())); });
        UniqueFd null = open_null();
        int rc =
            spawn_wait(rt.argv({"create", "--console-socket", path, "-b", bundle.dir(), "tty"}),
                       null.get(), null.get(), null.get());
        receiver.join();
        if (rc != 0 || !master) return "create failed";
        EXPECT_EQ(rt.run({"start", "tty"}), 0);
        // The pty's output until its slave closes (EIO).
        std::string out = read_to_eof(master.get(), 60);
        rt.run({"delete", "--force", "tty"});
        return out;
      });
}

class ExecStdioTest : public StdioTest {
 protected:
  void SetUp() override {
    StdioTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    bundle_ = std::make_unique<Bundle>(spec({"sleep", "600"}));
    for (const auto& rt : runtimes_)
      ASSERT_EQ(rt->run({"run", "-d", "-b", bundle_->dir(), "ex"}), 0) << rt->binary;
  }
  void TearDown() override {
    for (const auto& rt : runtimes_) rt->run({"delete", "--force", "ex"});
  }
  std::unique_ptr<Bundle> bundle_;
};

// exec -i (stdin a pipe) and exec without stdin (/dev/null), in the
// foreground: pipes, as runc copies.
TEST_F(ExecStdioTest, ForegroundExecGetsPipes) {
  for (bool with_stdin : {true, false})
    expect_everywhere("0:fifo,uid=1000 1:fifo,uid=1000 2:fifo,uid=1000\n", [&](const Runtime& rt) {
      Pipe in, out;
      UniqueFd null = open_null();
      spawn_wait(rt.argv({"exec", "--user", "1000:1000", "ex", "stdio-probe"}),
                 with_stdin ? in.r.get() : null.get(), out.w.get(), out.w.get());
      out.w.reset();
      return read_to_eof(out.r.get(), 5);
    });
}

// exec -d: the process gets the caller's stdio itself.
TEST_F(ExecStdioTest, DetachedExecGetsTheCallersKinds) {
  expect_everywhere("0:null,uid=0 1:fifo,uid=1000 2:null,uid=0\n", [&](const Runtime& rt) {
    Pipe out;
    UniqueFd null = open_null();
    spawn_wait(rt.argv({"exec", "-d", "--user", "1000:1000", "ex", "stdio-probe"}), null.get(),
               out.w.get(), null.get());
    out.w.reset();
    return read_to_eof(out.r.get(), 60);
  });
}

// Node.js-shaped output: 1 MiB by non-blocking writes, exit at once. The
// reader stops before the end and waits until the container has stopped:
// the rest must still arrive, whole and in order.
TEST_F(StdioTest, NonBlockingOutputArrivesWholeAfterTheExit) {
  constexpr size_t kBytes = 1 << 20, kHeld = 48 << 10;
  for (const auto& rt : runtimes_) {
    Bundle bundle(spec({"stdio-probe", "flood", std::to_string(kBytes)}));
    Pipe out;
    ASSERT_NO_FATAL_FAILURE(start_flood(*rt, bundle, "flood", out));
    std::string got;
    char buf[4096];
    while (got.size() < kBytes - kHeld) {
      ssize_t n = read(out.r.get(), buf, std::min(sizeof buf, kBytes - kHeld - got.size()));
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    // The rest fits in the buffers on the way: the process can finish.
    EXPECT_TRUE(stopped_within(*rt, "flood", 600))
        << rt->binary << ": the process did not exit with its output unread";
    got += read_to_eof(out.r.get());
    rt->run({"delete", "--force", "flood"});
    expect_flood(got, kBytes, *rt);
  }
}

// Output written before the exit reaches a slow reader whole although
// `delete` comes while it still reads: runc's process wrote it into the
// caller's pipe, where no delete takes it back; runvm's shim still
// delivers it, for longer than delete once allowed it (6 s), and delete
// waits for that. (What the guest still holds when its kernel resets the
// stream, 8 s after the exit, is ContainerTest's slow-reader case.)
TEST_F(StdioTest, DeleteAfterTheExitCutsNoOutputOfASlowReader) {
  constexpr size_t kBytes = 320 << 10;
  for (const auto& rt : runtimes_) {
    Bundle bundle(spec({"stdio-probe", "flood", std::to_string(kBytes)}));
    Pipe out;
    ASSERT_NO_FATAL_FAILURE(start_flood(*rt, bundle, "slow", out));
    // 4 KiB every 160 ms: 25 KiB/s, about 12.5 s for the whole, 10 s or
    // more of it after the exit.
    std::string got;
    std::thread reader([&] {
      char buf[4096];
      for (ssize_t n; (n = read(out.r.get(), buf, sizeof buf)) > 0;) {
        got.append(buf, static_cast<size_t>(n));
        std::this_thread::sleep_for(std::chrono::milliseconds(160));
      }
    });
    EXPECT_TRUE(stopped_within(*rt, "slow", 1200)) << rt->binary;
    EXPECT_EQ(rt->run({"delete", "slow"}), 0) << rt->binary;
    reader.join();
    expect_flood(got, kBytes, *rt);
  }
}

// `runvm run` ends when the container's process does, although a process it
// left in the background still holds the output: in a PID namespace of its
// own the kernel killed it with the namespace's init, and without one the
// agent killed the container's other processes before it reported the exit
// (the create's ends_vm). What was written arrives,
// the exit status is the process's, and the output drained at once (the
// shim gives up on output that does not end after 5 s, and logs that).
TEST_F(StdioTest, RunEndsWithItsProcessThoughABackgroundOneHoldsTheOutput) {
  constexpr char kNoPidNamespace[] =
      R"("linux":{"namespaces":[{"type":"mount"},{"type":"ipc"},{"type":"uts"}]},)"
      R"("mounts":[{"destination":"/proc","type":"proc","source":"proc"}])";
  for (const char* namespaces : {kNamespaces, kNoPidNamespace}) {
    SCOPED_TRACE(namespaces);
    BundleSpec s = spec({"sh", "-c", "sleep 600 & echo out; exit 3"});
    s.config_json = namespaces;
    Bundle bundle(s);
    Runtime rt{runvm_binary(), {}};
    Pipe out;
    UniqueFd null = open_null();
    const std::string log = files_.path() + "/runvm.log";
    int status =
        spawn_wait(rt.argv({"--debug", "--log", log, "run", "--keep", "-b", bundle.dir(), "bg"}),
                   null.get(), out.w.get(), null.get());
    out.w.reset();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
    EXPECT_EQ(read_to_eof(out.r.get(), 10), "out\n");
    const std::string shim_log = read_file(rt.root.path() + "/bg/shim.log");
    EXPECT_NE(shim_log.find("phase output_drained"), std::string::npos) << shim_log;
    EXPECT_EQ(shim_log.find("did not drain"), std::string::npos) << shim_log;
    EXPECT_EQ(rt.run({"delete", "bg"}), 0);
  }
}

#ifdef RUNVM_TEST_HOOKS  // the shim's hello delay
// A host late for the agent's hello (a loaded one; here the shim's test
// hook sleeps before reading it) reads the replies and the exit of a process
// started at once together with the hello: the exit is the run's, not
// dropped as one of an unknown container, which left `runvm run` waiting
// forever.
TEST_F(StdioTest, RunEndsThoughItsProcessExitCameWithTheHello) {
  Bundle bundle(spec({"sh", "-c", "echo out; exit 3"}));
  Runtime rt{runvm_binary(), {}};
  Pipe out;
  UniqueFd null = open_null();
  setenv("RUNVM_TEST_HELLO_DELAY_MS", "4000", 1);
  std::vector<std::string> argv = {"/usr/bin/timeout", "-s", "KILL", "120"};
  for (auto& a : rt.argv({"run", "-b", bundle.dir(), "late"})) argv.push_back(a);
  int status = spawn_wait(argv, null.get(), out.w.get(), null.get());
  unsetenv("RUNVM_TEST_HELLO_DELAY_MS");
  out.w.reset();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "run did not end: " << status;
  EXPECT_EQ(read_to_eof(out.r.get(), 10), "out\n");
  rt.run({"delete", "--force", "late"});
}
#endif

}  // namespace
}  // namespace runvm
