// runvm: an OCI runtime with runc's command line whose containers run in
// their own microVM. This file parses global options and dispatches verbs.
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>

#include "runtime/verbs.h"
#include "spec/base/log.h"
#include "spec/base/timeline.h"

#ifndef RUNVM_VERSION
#define RUNVM_VERSION "0.0.0"
#endif
#ifndef RUNVM_COMMIT
#define RUNVM_COMMIT "unknown"
#endif

namespace runvm::cli {
namespace {

constexpr Verb kVerbs[] = {
    {"check", "check the host and boot a throwaway microVM", verb_check},
    {"checkpoint", "not supported (CRIU cannot checkpoint a microVM)", verb_checkpoint},
    {"create", "create a container (boots its VM)", verb_create},
    {"delete", "delete a container", verb_delete},
    {"events", "print a container's stats as JSON events", verb_events},
    {"exec", "run a new process inside a container", verb_exec},
    {"features", "print the runtime's features as JSON", verb_features},
    {"kill", "send a signal to a container's process", verb_kill},
    {"list", "list the containers under --root", verb_list},
    {"pause", "pause all processes of a container (its microVM)", verb_pause},
    {"pool", "fill, show or drain the warm pool of booted microVMs", verb_pool},
    {"ps", "list a container's host processes (shim, QEMU)", verb_ps},
    {"restore", "not supported (CRIU cannot restore a microVM)", verb_restore},
    {"resume", "resume a paused container", verb_resume},
    {"run", "create and start a container", verb_run},
    {"spec", "write a default config.json", verb_spec},
    {"start", "start a created container", verb_start},
    {"state", "print a container's state", verb_state},
    {"update", "update resources (only no-op updates: fixed at boot)", verb_update},
};

void usage(FILE* out) {
  fprintf(out,
          "usage: runvm [global options] COMMAND [options] [arguments]\n\n"
          "runvm runs OCI containers, each in its own microVM.\n\n"
          "Commands:\n");
  for (const auto& v : kVerbs) fprintf(out, "  %-10s %s\n", v.name, v.summary);
  fprintf(out,
          "\nGlobal options:\n"
          "  --root DIR             state directory (default /run/runvm)\n"
          "  --config FILE          configuration (default $RUNVM_CONFIG, else\n"
          "                         /etc/runvm/runvm.toml; see runvm.toml(5))\n"
          "  --log FILE             log file (default stderr)\n"
          "  --log-format text|json log format\n"
          "  --debug                enable debug output\n"
          "  --systemd-cgroup       host cgroups through systemd (cgroupsPath slice:prefix:name)\n"
          "  --rootless auto|true|false  accepted for runc compatibility\n"
          "  --criu PATH            accepted for runc compatibility (no checkpointing)\n"
          "  --version, -v          print the version\n"
          "  --help, -h             this help\n");
}

// The verbs that boot a VM read runvm.toml, and update (the host cgroup's
// memory limit adds vm.overhead_mib): a broken file must not keep `delete`,
// `kill` or `state` from cleaning up.
bool boots_vm(const char* verb) {
  for (const char* v : {"create", "run", "check", "update", "pool"})
    if (strcmp(verb, v) == 0) return true;
  return false;
}

// `create --help` prints its usage whatever runvm.toml holds.
bool asks_for_help(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return true;
  return false;
}

// runc: with --log the error goes to the log file (containerd reads its
// "msg") and, as one plain line, to stderr.
void fail(const GlobalOptions& g, const std::string& message) {
  log::error(message);
  // With --log, the log gets the error and stderr the bare line, as runc
  // does: engines print it after the runtime's name ("runvm: ..."), so a
  // prefix here would show twice.
  if (!g.log.empty()) fprintf(stderr, "%s\n", message.c_str());
}

void version() {
  printf("runvm version %s\ncommit: %s\nspec: 1.0.2-dev\n", RUNVM_VERSION, RUNVM_COMMIT);
}

int run(int argc, char** argv) {
  GlobalOptions g;
  enum { kRoot = 1000, kLog, kLogFormat, kDebug, kSystemdCgroup, kRootless, kCriu, kConfig };
  static const option opts[] = {
      {"root", required_argument, nullptr, kRoot},
      {"config", required_argument, nullptr, kConfig},
      {"log", required_argument, nullptr, kLog},
      {"log-format", required_argument, nullptr, kLogFormat},
      {"debug", no_argument, nullptr, kDebug},
      {"systemd-cgroup", no_argument, nullptr, kSystemdCgroup},
      {"rootless", required_argument, nullptr, kRootless},
      {"criu", required_argument, nullptr, kCriu},
      {"version", no_argument, nullptr, 'v'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int c;
  // '+': stop at the verb; its options are its own.
  while ((c = getopt_long(argc, argv, "+vh", opts, nullptr)) != -1) {
    switch (c) {
      case kRoot:
        g.root = optarg;
        break;
      case kConfig:
        g.config_path = optarg;
        break;
      case kLog:
        g.log = optarg;
        break;
      case kLogFormat:
        g.log_format = optarg;
        if (g.log_format != "text" && g.log_format != "json") {
          fprintf(stderr, "runvm: --log-format: must be text or json\n");
          return 1;
        }
        break;
      case kDebug:
        g.debug = true;
        break;
      case kSystemdCgroup:
        g.systemd_cgroup = true;
        break;
      case kRootless:
        g.rootless = optarg;
        break;
      case kCriu:
        break;  // accepted for runc compatibility; checkpointing is unsupported
      case 'v':
        version();
        return 0;
      case 'h':
        usage(stdout);
        return 0;
      default:
        fprintf(stderr, "runvm: unknown global option '%s'\n", argv[optind - 1]);
        return 1;
    }
  }
  {
    // Canonical: paths below it are matched against /proc/self/mountinfo,
    // which has them so (Docker's /var/run/... is /run/... there).
    std::error_code ec;
    std::string canon = std::filesystem::weakly_canonical(g.root, ec).string();
    while (canon.size() > 1 && canon.back() == '/') canon.pop_back();
    if (!ec && !canon.empty()) g.root = canon;
  }
  if (!g.log.empty()) {
    // runc fails up front when it cannot open its log.
    int fd = open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      fprintf(stderr, "runvm: --log %s: %s\n", g.log.c_str(), strerror(errno));
      return 1;
    }
    close(fd);
  }
  log::configure(g.debug, g.log, g.log_format == "json" ? log::Format::kJson : log::Format::kText);
  if (optind >= argc) {
    usage(stderr);
    return 1;
  }
  const char* name = argv[optind];
  // `runvm help [COMMAND]`, as urfave/cli gives runc.
  char help_flag[] = "--help";
  if (strcmp(name, "help") == 0) {
    if (optind + 1 >= argc) {
      usage(stdout);
      return 0;
    }
    // Rewrite to `COMMAND --help`.
    argv[optind] = argv[optind + 1];
    argv[optind + 1] = help_flag;
    argc = optind + 2;
    name = argv[optind];
  }
  for (const auto& v : kVerbs) {
    if (strcmp(v.name, name) != 0) continue;
    if (boots_vm(name) && !asks_for_help(argc - optind, argv + optind)) {
      auto config = config::load_runvm_config(g.config_path);
      if (!config.ok()) {
        fail(g, config.error().message);
        return 1;
      }
      g.config = std::move(*config);
    }
    int verb_argc = argc - optind;
    char** verb_argv = argv + optind;
    optind = 0;  // reset getopt for the verb (0 also reinitialises GNU getopt)
    auto r = v.run(g, verb_argc, verb_argv);
    if (!r.ok()) {
      std::string who = g.subject.empty() ? name : std::string(name) + " " + g.subject;
      fail(g, who + ": " + r.error().message);
      return g.error_status;
    }
    return *r;
  }
  fprintf(stderr, "runvm: unknown command '%s' (see runvm --help)\n", name);
  return 1;
}

}  // namespace
}  // namespace runvm::cli

int main(int argc, char** argv) {
  // --debug's phase timeline (the shim's too) counts from here.
  (void)runvm::timeline::origin_ns();
  return runvm::cli::run(argc, argv);
}
