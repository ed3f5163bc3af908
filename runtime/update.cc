// `runvm update`: runc's resource update. memory.limit changes live through
// the shim (balloon and guest cgroup, control::UpdateMemory); the other
// resources are fixed at boot, so only updates repeating them succeed
// (update_request.h).
#include <getopt.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "runtime/config_snapshot.h"
#include "runtime/container.h"
#include "runtime/update_request.h"
#include "runtime/verbs.h"

namespace runvm::cli {

namespace {

// runc update's flags, all taking a value (index into this table = getopt val - kFirst).
constexpr const char* kFlags[] = {
    "blkio-weight",  "cpu-period",         "cpu-quota",   "cpu-rt-period", "cpu-rt-runtime",
    "cpu-share",     "cpuset-cpus",        "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
    "memory",        "memory-reservation", "memory-swap", "pids-limit",    "l3-cache-schema",
    "mem-bw-schema", "cpu-idle",
};
constexpr int kFirst = 1000;

void update_usage(FILE* out) {
  fprintf(out,
          "usage: runvm update [options] CONTAINER_ID\n\n"
          "Updates a container's resources. The memory limit changes live, up to the\n"
          "size the microVM booted with (its balloon and the container's cgroup);\n"
          "vCPUs and the other limits are fixed at boot: an update that repeats the\n"
          "container's values succeeds, any other change fails naming the field.\n\n"
          "  -r, --resources FILE   LinuxResources JSON ('-' reads stdin); flags are\n"
          "                         then ignored, as in runc\n"
          "  runc's flags: --blkio-weight --cpu-period --cpu-quota --cpu-rt-period\n"
          "  --cpu-rt-runtime --cpu-share --cpuset-cpus --cpuset-mems --kernel-memory\n"
          "  --kernel-memory-tcp --memory --memory-reservation --memory-swap\n"
          "  --pids-limit --l3-cache-schema --mem-bw-schema --cpu-idle\n");
}

Result<std::string> read_resources(const std::string& path) {
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path);
    if (!in) return errno_error("open " + path);
    ss << in.rdbuf();
  }
  return ss.str();
}

}  // namespace

Result<int> verb_update(GlobalOptions& g, int argc, char** argv) {
  std::vector<option> opts;
  for (size_t i = 0; i < std::size(kFlags); ++i)
    opts.push_back({kFlags[i], required_argument, nullptr, kFirst + static_cast<int>(i)});
  opts.push_back({"resources", required_argument, nullptr, 'r'});
  opts.push_back({"help", no_argument, nullptr, 'h'});
  opts.push_back({nullptr, 0, nullptr, 0});
  std::string resources_file;
  std::vector<std::pair<std::string, std::string>> flags;
  int c;
  while ((c = getopt_long(argc, argv, "r:h", opts.data(), nullptr)) != -1) {
    if (c == 'r') {
      resources_file = optarg;
    } else if (c == 'h') {
      update_usage(stdout);
      return 0;
    } else if (c >= kFirst && c < kFirst + static_cast<int>(std::size(kFlags))) {
      flags.emplace_back(kFlags[c - kFirst], optarg);
    } else {
      return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return make_error("requires exactly one argument: CONTAINER_ID");
  g.subject = argv[optind];

  std::vector<ResourceUpdate> updates;
  if (!resources_file.empty()) {
    auto text = RUNVM_TRY(read_resources(resources_file));
    updates = RUNVM_TRY(parse_resources_json(text).context("--resources"));
  } else {
    for (const auto& [flag, value] : flags)
      if (auto u = RUNVM_TRY(update_from_flag(flag, value))) updates.push_back(*u);
  }
  updates = RUNVM_TRY(drop_swap_without_effect(std::move(updates)));
  auto ct = RUNVM_TRY(load_container(g, argv[optind]));
  auto lock = RUNVM_TRY(ct.dir.lock());
  if (ct.state.status == oci::Status::kStopped) return make_error("container not running");
  auto config = RUNVM_TRY(load_config_snapshot(ct.dir));
  std::optional<oci::Resources> current;
  if (config.linux_) current = config.linux_->resources;
  // memory.limit changes live (the guest's balloon and its cgroup, through
  // the shim); every other field must repeat the container's value.
  std::optional<uint64_t> memory;
  std::vector<ResourceUpdate> fixed;
  for (const auto& u : updates) {
    if (u.field != "memory.limit") {
      fixed.push_back(u);
      continue;
    }
    int64_t limit = 0;
    auto [end, ec] = std::from_chars(u.value.data(), u.value.data() + u.value.size(), limit);
    // runc: -1 is no limit, which the VM's fixed RAM cannot give.
    if (ec != std::errc() || end != u.value.data() + u.value.size() || limit <= 0)
      return make_error("memory.limit: " + u.value + " cannot be set on a running microVM");
    memory = static_cast<uint64_t>(limit);
  }
  RUNVM_CHECK(check_updates(fixed, current));
  if (memory) RUNVM_CHECK(shim_request(ct, control::UpdateMemory{*memory}));
  return 0;
}

}  // namespace runvm::cli
