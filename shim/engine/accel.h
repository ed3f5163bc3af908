// Accelerator choice for the guest: KVM only where it is real hardware
// virtualization; TCG everywhere else (including nested PVM, whose /dev/kvm
// cannot run a microvm guest correctly).
#pragma once

#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm {

enum class AccelMode { kAuto, kKvm, kTcg };

struct AccelChoice {
  bool kvm = false;
  std::string reason;  // one line, e.g. "kvm_pvm loaded (nested PVM): using tcg"
};

// "auto" | "kvm" | "tcg".
Result<AccelMode> parse_accel(std::string_view text);

// `root` prefixes /dev, /proc and /sys so tests can use a fake tree.
// kAuto never fails; kKvm fails naming why KVM is unusable.
Result<AccelChoice> choose_accel(AccelMode mode, const std::string& root = "/");

}  // namespace runvm
