// `runvm ps`: the container's processes, as runc lists them. In runvm the
// host processes of a container are its shim (whose pid is the container's
// pid) and the shim's QEMU; the processes inside the guest have guest pids
// that are not host pids, so they are not listed (see runvm-ps(8)).
#include <fcntl.h>
#include <getopt.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "runtime/container.h"
#include "runtime/host_procs.h"
#include "runtime/pool_unit.h"
#include "runtime/verbs.h"
#include "spec/base/unique_fd.h"

namespace runvm::cli {

namespace {

void ps_usage(FILE* out) {
  fprintf(out,
          "usage: runvm ps [options] CONTAINER_ID [ps options]\n\n"
          "Lists the container's host processes: its shim (the container's pid) and QEMU\n"
          "(a container of the warm pool: its relay, and its VM's shim and QEMU).\n"
          "Processes inside the microVM have guest pids and are not listed.\n\n"
          "  -f, --format table|json  table: ps(1) output (default: ps -ef) for those pids;\n"
          "                           json: the pids as a JSON array\n");
}

// Runs argv, returning its stdout and stderr together, like Go's
// CombinedOutput.
Result<std::string> combined_output(std::vector<std::string> args) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return errno_error("fork");
  if (pid == 0) {
    dup2(wr.get(), STDOUT_FILENO);
    dup2(wr.get(), STDERR_FILENO);
    execvp(argv[0], argv.data());
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  wr.reset();
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(rd.get(), buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return make_error("ps: exit status " + std::to_string(WEXITSTATUS(status)) + ": " + out);
  }
  return out;
}

// The shim and QEMU of a claimed container's pool unit (none for others,
// or once the unit ended).
std::vector<pid_t> claimed_unit_pids(const GlobalOptions& g, const Container& ct) {
  auto rel = ct.state.shim.extra.find(pool::kUnitExtra);
  if (rel == ct.state.shim.extra.end()) return {};
  size_t slash = rel->second.find('/');
  if (slash == std::string::npos) return {};
  std::string cls = rel->second.substr(0, slash), name = rel->second.substr(slash + 1);
  if (!validate_id(cls).ok() || !validate_id(name).ok()) return {};
  pool::Unit u = pool::read_unit(g.root, cls, name);
  if (!u.alive() || u.owner != ct.state.id) return {};
  return process_tree(u.record->pid);
}

}  // namespace

Result<int> verb_ps(GlobalOptions& g, int argc, char** argv) {
  std::string format = "table";
  static const option opts[] = {{"format", required_argument, nullptr, 'f'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  // '+': options after the id belong to ps(1), as in runc.
  while ((c = getopt_long(argc, argv, "+f:h", opts, nullptr)) != -1) {
    if (c == 'f') {
      format = optarg;
      continue;
    }
    if (c == 'h') {
      ps_usage(stdout);
      return 0;
    }
    return make_error(std::string("unknown option ") + argv[optind - 1]);
  }
  if (optind >= argc) return make_error("requires at least one argument: CONTAINER_ID");
  g.subject = argv[optind];
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  std::vector<pid_t> pids;
  if (ct.state.status != oci::Status::kStopped) {
    pids = process_tree(static_cast<pid_t>(ct.state.shim.pid));
    // A container of the warm pool: its pid is a relay, and its VM's shim
    // and QEMU (its unit's, in its host cgroup) are its alone.
    if (auto unit = claimed_unit_pids(g, ct); !unit.empty())
      pids.insert(pids.end(), unit.begin(), unit.end());
  }

  if (format == "json") {
    // encoding/json of runc's nil slice when there are none.
    if (pids.empty()) {
      printf("null\n");
      return 0;
    }
    std::string out = "[";
    for (size_t i = 0; i < pids.size(); ++i) out += (i ? "," : "") + std::to_string(pids[i]);
    printf("%s]\n", out.c_str());
    return 0;
  }
  if (format != "table") return make_error("invalid format option");

  std::vector<std::string> ps_args = {"ps"};
  for (int i = optind + 1; i < argc; ++i) ps_args.push_back(argv[i]);
  if (ps_args.size() == 1) ps_args.push_back("-ef");
  std::istringstream lines(RUNVM_TRY(combined_output(std::move(ps_args))));
  std::string header;
  std::getline(lines, header);
  std::istringstream titles(header);
  int pid_index = -1, i = 0;
  for (std::string t; titles >> t; ++i)
    if (t == "PID") {
      pid_index = i;
      break;
    }
  if (pid_index < 0) return make_error("couldn't find PID field in ps output");
  printf("%s\n", header.c_str());
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string f;
    for (int k = 0; k <= pid_index; ++k) fields >> f;
    char* end = nullptr;
    long p = strtol(f.c_str(), &end, 10);
    if (f.empty() || *end) return make_error("unable to parse pid: " + f);
    if (std::find(pids.begin(), pids.end(), p) != pids.end()) printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace runvm::cli
