// Random bytes as /etc/runvm/runvm.toml: nothing may crash, every error is
// one line that starts with the file's name, and what parses stays within
// the bounds the shim is given.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "spec/runvm_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm::config;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto c = parse_runvm_config(input, "runvm.toml");
  if (!c.ok()) {
    const std::string& m = c.error().message;
    if (!m.starts_with("runvm.toml") || m.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  const VmDefaults& vm = c->vm;
  if (vm.memory_mib < kMinMemoryMib || vm.memory_mib > kMaxMemoryMib) std::abort();
  if (vm.vcpus < 1 || vm.vcpus > kMaxVcpus || vm.overhead_mib > kMaxOverheadMib) std::abort();
  if (vm.tcg_tb_size > kMaxTcgTbSizeMib) std::abort();
  if (vm.accel != "auto" && vm.accel != "kvm" && vm.accel != "tcg") std::abort();
  for (const std::string* p : {&vm.kernel, &vm.initrd})
    if (!p->empty() && (*p)[0] != '/') std::abort();
  for (const std::string* s : {&vm.kernel, &vm.initrd, &vm.qemu})
    if (s->find('\n') != std::string::npos) std::abort();
  if (c->pool.size > kMaxPoolSize) std::abort();
  return 0;
}
