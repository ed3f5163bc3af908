// `runvm exec`: run a new process in a container's VM (runc exec). The
// agent starts it in the container's root; this process stands for it on
// the host: it relays its stdio, passes on signals and exits like it.
#include <getopt.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "runtime/container.h"
#include "runtime/exec_client.h"
#include "runtime/exec_process.h"
#include "runtime/terminal.h"
#include "runtime/verbs.h"
#include "shim/client/console.h"
#include "shim/client/process_request.h"
#include "spec/base/wait_status.h"

namespace runvm::cli {
namespace {

void exec_usage(FILE* out) {
  fprintf(out,
          "usage: runvm exec [options] CONTAINER_ID [COMMAND [ARG...]]\n\n"
          "Runs a new process inside a container's microVM.\n\n"
          "  -p, --process FILE        process.json to run (instead of COMMAND)\n"
          "  -t, --tty                 allocate a pseudo-terminal: relayed to the caller's\n"
          "                            terminal (raw mode), or see --console-socket\n"
          "  --console-socket PATH     with -t: send the terminal's master fd to PATH\n"
          "  -d, --detach              return once the process started\n"
          "  --pid-file FILE           write the pid standing for the process to FILE\n"
          "  -e, --env KEY=VALUE       add an environment variable (repeatable)\n"
          "  --cwd DIR                 working directory in the container\n"
          "  -u, --user UID[:GID]      run as this user\n"
          "  -g, --additional-gids GID add a supplementary group (repeatable)\n"
          "  --no-new-privs            set no_new_privileges\n"
          "  -c, --cap CAP             add a capability (repeatable)\n"
          "  --preserve-fds N          pass N extra fds (unsupported: the process runs in a VM)\n"
          "  --apparmor, --process-label, --cgroup  accepted for runc compatibility\n");
}

// The host side of the process's terminal: the pty whose master goes to
// the console socket, else the caller's terminal in raw mode. Either way
// the process starts with its size.
Status open_terminal(const std::string& console_socket, oci::Process& p,
                     std::optional<HostTerminal>& host, std::optional<Console>& console) {
  if (!console_socket.empty()) {
    std::optional<winsize> size;
    if (p.console_size)
      size = winsize{static_cast<unsigned short>(p.console_size->height),
                     static_cast<unsigned short>(p.console_size->width), 0, 0};
    std::error_code ec;
    auto path = std::filesystem::absolute(console_socket, ec).string();
    if (ec) return make_error("--console-socket: " + ec.message());
    console = RUNVM_TRY(Console::open_and_send(path, size));
    return {};
  }
  host = RUNVM_TRY(HostTerminal::find());
  if (auto ws = host->size(); ws && !p.console_size && ws->ws_row && ws->ws_col)
    p.console_size = oci::ConsoleSize{ws->ws_row, ws->ws_col};
  return host->make_raw();
}

}  // namespace

Result<int> verb_exec(GlobalOptions& g, int argc, char** argv) {
  enum { kConsole = 1000, kPidFile, kCwd, kNoNewPrivs, kPreserve, kIgnored };
  static const option opts[] = {
      {"process", required_argument, nullptr, 'p'},
      {"tty", no_argument, nullptr, 't'},
      {"console-socket", required_argument, nullptr, kConsole},
      {"detach", no_argument, nullptr, 'd'},
      {"pid-file", required_argument, nullptr, kPidFile},
      {"env", required_argument, nullptr, 'e'},
      {"cwd", required_argument, nullptr, kCwd},
      {"user", required_argument, nullptr, 'u'},
      {"additional-gids", required_argument, nullptr, 'g'},
      {"no-new-privs", no_argument, nullptr, kNoNewPrivs},
      {"cap", required_argument, nullptr, 'c'},
      {"preserve-fds", required_argument, nullptr, kPreserve},
      {"apparmor", required_argument, nullptr, kIgnored},
      {"process-label", required_argument, nullptr, kIgnored},
      {"cgroup", required_argument, nullptr, kIgnored},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  ExecFlags f;
  ExecRun run;
  std::string console_socket;
  int c;
  // '+': the command after the id keeps its own options.
  while ((c = getopt_long(argc, argv, "+p:tde:u:g:c:h", opts, nullptr)) != -1) {
    switch (c) {
      case 'h':
        exec_usage(stdout);
        return 0;
      case 'p':
        f.process_file = optarg;
        break;
      case 't':
        f.tty = true;
        break;
      case kConsole:
        console_socket = optarg;
        break;
      case 'd':
        run.detach = true;
        break;
      case kPidFile:
        run.pid_file = optarg;
        break;
      case 'e':
        f.env.push_back(optarg);
        break;
      case kCwd:
        f.cwd = optarg;
        break;
      case 'u':
        f.user = optarg;
        break;
      case 'g': {
        char* end = nullptr;
        unsigned long gid = strtoul(optarg, &end, 10);
        if (!*optarg || *end || gid > UINT32_MAX)
          return make_error(std::string("invalid additional gid \"") + optarg + "\"");
        f.additional_gids.push_back(static_cast<uint32_t>(gid));
        break;
      }
      case kNoNewPrivs:
        f.no_new_privs = true;
        break;
      case 'c':
        f.caps.push_back(optarg);
        break;
      case kPreserve:
        if (atoi(optarg) != 0)
          return make_error("--preserve-fds: host fds cannot be passed into the container's VM");
        break;
      case kIgnored:
        break;
      default:
        return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind >= argc) return make_error("requires at least 1 argument: CONTAINER_ID");
  std::string id = argv[optind];
  g.subject = id;
  // As runc: usage errors exit 1, every later failure ("exec failed") 255.
  g.error_status = 255;
  for (int i = optind + 1; i < argc; ++i) f.args.push_back(argv[i]);

  auto ct = RUNVM_TRY(load_container(g, id));
  if (ct.state.status == oci::Status::kStopped)
    return make_error("cannot exec in a stopped container");
  if (ct.state.status == oci::Status::kPaused)
    return make_error("cannot exec in a paused container");
  auto bundle = RUNVM_TRY(oci::load_bundle(ct.state.bundle));
  if (!bundle.config.process) return make_error("config.json: process: is required");
  auto oci_process = RUNVM_TRY(exec_process(f, *bundle.config.process));
  // runc's rules, except that a console socket also works in the foreground.
  if (oci_process.terminal && console_socket.empty() && run.detach)
    return make_error("cannot allocate tty if runvm will detach without setting console socket");
  if (!oci_process.terminal && !console_socket.empty())
    return make_error("cannot use console socket if runvm will not detach or allocate tty");
  // Declared before the relay that borrows them; gone before we re-raise a
  // signal, so the caller's terminal gets its mode back.
  std::optional<HostTerminal> host;
  std::optional<Console> console;
  if (oci_process.terminal) RUNVM_CHECK(open_terminal(console_socket, oci_process, host, console));
  if (host) run.tty.host = &*host;
  if (console) run.tty.console = &*console;
  auto process = RUNVM_TRY(make_process(oci_process));
  int status = RUNVM_TRY(run_exec(ct, process, run));
  console.reset();
  host.reset();
  return run.detach ? status : become_wait_status(status);
}

}  // namespace runvm::cli
