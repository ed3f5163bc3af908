// `runvm list`: the containers under --root, as runc lists them.
#include <getopt.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "runtime/container.h"
#include "runtime/list_format.h"
#include "runtime/verbs.h"

namespace runvm::cli {

namespace {

void list_usage(FILE* out) {
  fprintf(out,
          "usage: runvm list [options]\n\n"
          "Lists the containers under --root.\n\n"
          "  -f, --format table|json  output format (default: table)\n"
          "  -q, --quiet              print only the container IDs\n");
}

// runc: the owner is the user owning the container's state directory.
std::string owner_of(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) < 0) return "";
  if (passwd* pw = getpwuid(st.st_uid)) return pw->pw_name;
  return "#" + std::to_string(st.st_uid);
}

}  // namespace

Result<int> verb_list(GlobalOptions& g, int argc, char** argv) {
  std::string format = "table";
  bool quiet = false;
  static const option opts[] = {{"format", required_argument, nullptr, 'f'},
                                {"quiet", no_argument, nullptr, 'q'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "f:qh", opts, nullptr)) != -1) {
    switch (c) {
      case 'f':
        format = optarg;
        break;
      case 'q':
        quiet = true;
        break;
      case 'h':
        list_usage(stdout);
        return 0;
      default:
        return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind != argc) return make_error("list takes no arguments");
  if (format != "table" && format != "json") return make_error("invalid format option");

  std::vector<std::string> ids;
  std::error_code ec;
  // A root that does not exist yet holds no containers.
  // Names beginning with '@' are runvm's own (sockets, the warm pool): no
  // container id has one (validate_id), so they are neither listed nor
  // reported as broken entries.
  for (const auto& e : std::filesystem::directory_iterator(g.root, ec))
    if (e.is_directory() && !e.path().filename().string().starts_with('@'))
      ids.push_back(e.path().filename().string());
  if (ec && ec != std::errc::no_such_file_or_directory)
    return make_error("read " + g.root + ": " + ec.message());
  std::sort(ids.begin(), ids.end());  // Go's os.ReadDir order

  std::vector<oci::ContainerState> states;
  for (const auto& id : ids) {
    auto ct = load_container(g, id);
    if (!ct.ok()) {
      // Like runc: a broken entry is reported and skipped, not fatal.
      fprintf(stderr, "load container %s: %s\n", id.c_str(), ct.error().message.c_str());
      continue;
    }
    ct->state.owner = owner_of(ct->dir.path());
    states.push_back(std::move(ct->state));
  }
  if (quiet) {
    for (const auto& s : states) printf("%s\n", s.id.c_str());
    return 0;
  }
  std::string out = format == "json" ? list_json(states) : list_table(states);
  fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace runvm::cli
