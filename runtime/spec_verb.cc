// `runvm spec`: write a default config.json, as `runc spec` does.
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cstdio>

#include "runtime/verbs.h"
#include "spec/default_spec.h"

namespace runvm::cli {

Result<int> verb_spec(GlobalOptions&, int argc, char** argv) {
  std::string bundle = ".";
  bool rootless = false;
  static const option opts[] = {{"bundle", required_argument, nullptr, 'b'},
                                {"rootless", no_argument, nullptr, 'r'},
                                {"help", no_argument, nullptr, 'h'},
                                {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "b:h", opts, nullptr)) != -1) {
    switch (c) {
      case 'b':
        bundle = optarg;
        break;
      case 'r':
        rootless = true;
        break;
      case 'h':
        printf(
            "usage: runvm spec [--bundle DIR] [--rootless]\n\n"
            "Writes a default config.json into the bundle directory.\n");
        return 0;
      default:
        return make_error(std::string("unknown option ") + argv[optind - 1]);
    }
  }
  if (optind != argc) return make_error("takes no arguments");
  std::string path = bundle + "/config.json";
  // Like runc: never overwrite an existing config.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == EEXIST) return make_error("File " + path + " exists. Remove it first");
    return errno_error(path);
  }
  std::string text = oci::default_config_json(rootless);
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) return errno_error("write " + path);
  return 0;
}

}  // namespace runvm::cli
