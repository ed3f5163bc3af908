#include "spec/vm_annotations.h"

#include <cctype>
#include <limits>
#include <string_view>

#include "spec/json_fields.h"

namespace runvm::oci {
namespace {

constexpr std::string_view kPrefix = "runvm.io/";
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kMinMemoryMib = 64;          // the shim's floor: the agent needs room
constexpr uint64_t kMaxMemoryMib = 1ull << 20;  // 1 TiB
constexpr unsigned kMaxVcpus = 64;              // the guest kernel's NR_CPUS
// x86's COMMAND_LINE_SIZE is 2048; QEMU's own part and the virtio-mmio
// device list take the rest.
constexpr size_t kMaxCmdline = 1024;

std::string where(std::string_view key) { return "annotations[" + fields::quote(key) + "]"; }

Result<uint64_t> memory_mib(const std::string& value) {
  auto bytes = parse_byte_size(value);
  if (!bytes) return make_error(fields::quote(value) + " is not a size like \"512M\" or \"2G\"");
  uint64_t mib = (*bytes + kMiB - 1) / kMiB;
  if (mib < kMinMemoryMib || mib > kMaxMemoryMib)
    return make_error(fields::quote(value) + " is not between 64M and 1T");
  return mib;
}

Result<unsigned> vcpus(const std::string& value) {
  bool digits = !value.empty() && value.size() <= 3 &&
                value.find_first_not_of("0123456789") == std::string::npos;
  unsigned n = digits ? static_cast<unsigned>(std::stoul(value)) : 0;
  if (n < 1 || n > kMaxVcpus)
    return make_error(fields::quote(value) + " is not an integer between 1 and 64");
  return n;
}

Result<std::string> accel(const std::string& value) {
  if (value != "auto" && value != "kvm" && value != "tcg")
    return make_error(fields::quote(value) + " is not one of auto, kvm, tcg");
  return value;
}

Result<std::string> kernel_cmdline(const std::string& value) {
  if (value.size() > kMaxCmdline) return make_error("longer than 1024 bytes");
  for (char c : value)
    if (c < 0x20 || c > 0x7e) return make_error("must be printable ASCII on one line");
  // The agent must stay the guest's init: it is what runvm talks to.
  size_t start = 0;
  while (start < value.size()) {
    size_t end = value.find(' ', start);
    if (end == std::string::npos) end = value.size();
    std::string_view word = std::string_view(value).substr(start, end - start);
    if (word.starts_with("init=") || word.starts_with("rdinit="))
      return make_error(std::string(word.substr(0, word.find('=') + 1)) +
                        " cannot be set: runvm's agent is the guest's init");
    start = end + 1;
  }
  return value;
}

}  // namespace

std::optional<uint64_t> parse_byte_size(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || digits > 19) return std::nullopt;
  uint64_t n = std::stoull(std::string(s.substr(0, digits)));
  std::string unit;
  for (char c : s.substr(digits))
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "m", "mi", "mb", "mib": all binary, as the container world means them.
  if (unit.ends_with("b") && unit.size() > 1) unit.pop_back();
  if (unit.ends_with("i")) unit.pop_back();
  unsigned shift;
  if (unit.empty() || unit == "b")
    shift = 0;
  else if (unit == "k")
    shift = 10;
  else if (unit == "m")
    shift = 20;
  else if (unit == "g")
    shift = 30;
  else if (unit == "t")
    shift = 40;
  else
    return std::nullopt;
  if (n == 0 || n > (std::numeric_limits<uint64_t>::max() >> 1 >> shift)) return std::nullopt;
  return n << shift;
}

Result<VmSettings> parse_vm_annotations(const std::map<std::string, std::string>& annotations) {
  VmSettings s;
  // Not a structured binding: clang before 16 cannot capture one in a lambda.
  for (const auto& entry : annotations) {
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    if (!key.starts_with(kPrefix)) continue;
    std::string_view name = std::string_view(key).substr(kPrefix.size());
    auto fail = [&](const Error& e) { return make_error(where(key) + ": " + e.message); };
    if (name == "memory") {
      auto r = memory_mib(value);
      if (!r.ok()) return fail(r.error());
      s.memory_mib = *r;
    } else if (name == "vcpus") {
      auto r = vcpus(value);
      if (!r.ok()) return fail(r.error());
      s.vcpus = *r;
    } else if (name == "accel") {
      auto r = accel(value);
      if (!r.ok()) return fail(r.error());
      s.accel = *r;
    } else if (name == "kernel-cmdline") {
      auto r = kernel_cmdline(value);
      if (!r.ok()) return fail(r.error());
      s.kernel_cmdline = *r;
    } else {
      return make_error(where(key) +
                        ": unknown runvm annotation (known: runvm.io/memory, runvm.io/vcpus, "
                        "runvm.io/accel, runvm.io/kernel-cmdline)");
    }
  }
  return s;
}

}  // namespace runvm::oci
