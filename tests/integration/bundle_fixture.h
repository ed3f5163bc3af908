// OCI bundles for integration tests: a busybox-static rootfs made on the
// spot (no network) and a config.json from a few parameters; plus running
// the real runvm binary with its stdio captured.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tests/integration/vm_fixture.h"

namespace runvm::testing {

struct BundleSpec {
  std::vector<std::string> args = {"sh"};
  std::vector<std::string> env = {"PATH=/bin"};
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::optional<uint32_t> umask;  // process.user.umask
  std::string hostname = "runvm-test";
  // Raw JSON members appended to the process object / the top-level object,
  // e.g. R"("noNewPrivileges":true)".
  std::string process_json;
  std::string config_json;
  bool terminal = false;
  bool readonly_root = false;  // root.readonly
  bool stdio_probe = false;    // /bin/stdio-probe (tests/integration/stdio_probe.c)
};

class Bundle {
 public:
  explicit Bundle(const BundleSpec& spec);
  const std::string& dir() const { return dir_.path(); }
  std::string rootfs() const { return dir_.path() + "/rootfs"; }
  void write_config(const BundleSpec& spec);

 private:
  TempDir dir_;
};

struct CommandResult {
  int status = -1;  // wait status
  std::string out, err;
};

// Runs argv with `input` on stdin (then EOF), capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = "");

// Starts argv with stdin on /dev/null, stdout in `out` and stderr in `err`
// ("": /dev/null), without pipes: a create leaves a shim that keeps what it
// inherits, and a pipe would never see EOF. Returns the child (-1 on failure).
pid_t spawn_to_files(const std::vector<std::string>& argv, const std::string& out,
                     const std::string& err);
// The same, waited for: the wait status (-1 on failure).
int run_to_files(const std::vector<std::string>& argv, const std::string& out,
                 const std::string& err);

// A --console-socket to receive a pty master on (invalid on failure), and
// the master: accepts one connection on it and receives the fd (-1 on
// failure; the caller owns it).
UniqueFd listen_console(const std::string& path);
int accept_console_master(int listener);

// Runs argv with its stdout read by a slow reader, which takes 16 KiB at a
// time with 0.8 s of sleep after each (at most 20 KB/s, slower under load)
// until EOF. `status`: the whole's wait status; `code`: argv's exit code
// as the shell prints it ("3\n").
struct SlowReadResult {
  int status = -1;
  std::string out, code;
};
SlowReadResult run_into_slow_reader(const std::vector<std::string>& argv);
// What `seq 1 n` prints.
std::string seq_output(int n);

std::string runvm_binary();
// `runvm --root <root> args...`: the command line every CLI test runs.
std::vector<std::string> runvm_argv(const std::string& root, const std::vector<std::string>& args);

}  // namespace runvm::testing
