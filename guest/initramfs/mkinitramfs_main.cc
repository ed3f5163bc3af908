// runvm-mkinitramfs --agent PATH --out PATH: writes the guest initramfs.
#include <cstdio>
#include <string>

#include "guest/initramfs/initramfs.h"

int main(int argc, char** argv) {
  runvm::initramfs::InitramfsSpec spec;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--agent" || arg == "--out") && i + 1 < argc) {
      (arg == "--agent" ? spec.agent_path : out) = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s --agent PATH --out PATH\n", argv[0]);
      return 2;
    }
  }
  if (spec.agent_path.empty() || out.empty()) {
    std::fprintf(stderr, "usage: %s --agent PATH --out PATH\n", argv[0]);
    return 2;
  }
  auto st = runvm::initramfs::build_initramfs(spec, out);
  if (!st.ok()) {
    std::fprintf(stderr, "runvm-mkinitramfs: %s\n", st.error().message.c_str());
    return 1;
  }
  return 0;
}
