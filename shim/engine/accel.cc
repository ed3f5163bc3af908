#include "shim/engine/accel.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "spec/base/unique_fd.h"

namespace runvm {
namespace {

std::string under(const std::string& root, std::string_view rel) {
  std::string p = root.empty() ? "/" : root;
  if (p.back() != '/') p += '/';
  return p.append(rel);
}

// True when some "flags" line of cpuinfo lists vmx (Intel) or svm (AMD).
Result<bool> cpu_has_hw_virt(const std::string& cpuinfo) {
  std::ifstream in(cpuinfo);
  if (!in) return errno_error(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream key(line.substr(0, colon));
    std::string name;
    key >> name;
    if (name != "flags") continue;
    std::istringstream flags(line.substr(colon + 1));
    std::string flag;
    while (flags >> flag)
      if (flag == "vmx" || flag == "svm") return true;
  }
  return false;
}

// Why KVM cannot be used under `root`, or nullopt when it can.
std::optional<std::string> kvm_problem(const std::string& root) {
  std::string dev = under(root, "dev/kvm");
  UniqueFd fd(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return errno_error("/dev/kvm").message;
  // PVM exposes /dev/kvm inside an ordinary VM without vmx/svm; checked
  // first because it explains the missing flags too.
  struct stat st;
  if (::stat(under(root, "sys/module/kvm_pvm").c_str(), &st) == 0)
    return std::string("kvm_pvm loaded (nested PVM)");
  auto hw = cpu_has_hw_virt(under(root, "proc/cpuinfo"));
  if (!hw) return hw.error().message;
  if (!*hw) return std::string("no vmx/svm in /proc/cpuinfo flags");
  return std::nullopt;
}

}  // namespace

Result<AccelMode> parse_accel(std::string_view text) {
  if (text == "auto") return AccelMode::kAuto;
  if (text == "kvm") return AccelMode::kKvm;
  if (text == "tcg") return AccelMode::kTcg;
  return make_error("accelerator \"" + std::string(text) + "\": expected auto, kvm or tcg");
}

Result<AccelChoice> choose_accel(AccelMode mode, const std::string& root) {
  if (mode == AccelMode::kTcg) return AccelChoice{false, "tcg requested"};
  auto problem = kvm_problem(root);
  if (mode == AccelMode::kKvm) {
    if (problem) return make_error("kvm requested but unusable: " + *problem);
    return AccelChoice{true, "kvm requested"};
  }
  if (problem) return AccelChoice{false, *problem + ": using tcg"};
  return AccelChoice{true, "hardware virtualization available: using kvm"};
}

}  // namespace runvm
