#include "spec/vm_sizing.h"

#include <algorithm>
#include <charconv>

#include "spec/json_fields.h"
#include "spec/vm_annotations.h"

namespace runvm::oci {
namespace {

constexpr uint64_t kMiB = 1 << 20;
// The bounds of runvm.io/memory and runvm.io/vcpus (spec/vm_annotations.cc).
constexpr uint64_t kMinMemoryMib = 64;
constexpr uint64_t kMaxMemoryMib = 1ull << 20;
constexpr unsigned kMaxVcpus = 64;
// Past any real machine's CPU numbers: keeps the count from overflowing.
constexpr unsigned kMaxCpuNumber = 1u << 20;

std::optional<unsigned> number(std::string_view s) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n > kMaxCpuNumber)
    return std::nullopt;
  return n;
}

std::optional<uint64_t> memory_from_limit(const Resources& r) {
  if (!r.memory || !r.memory->limit || *r.memory->limit <= 0) return std::nullopt;
  return guest_mib_for_limit(static_cast<uint64_t>(*r.memory->limit));
}

Result<std::optional<unsigned>> vcpus_from_cpu(const Resources& r) {
  if (!r.cpu) return std::optional<unsigned>();
  const CpuResources& c = *r.cpu;
  std::optional<uint64_t> n;
  if (c.quota && *c.quota > 0 && c.period && *c.period > 0) {
    uint64_t q = static_cast<uint64_t>(*c.quota);
    n = q / *c.period + (q % *c.period ? 1 : 0);
  }
  if (!c.cpus.empty()) {
    auto count = count_cpu_list(c.cpus);
    if (!count)
      return make_error("linux.resources.cpu.cpus: " + fields::quote(c.cpus) +
                        " is not a CPU list like \"0-3,5\"");
    n = n ? std::min<uint64_t>(*n, *count) : *count;
  }
  if (!n) return std::optional<unsigned>();
  return std::optional<unsigned>(static_cast<unsigned>(std::clamp<uint64_t>(*n, 1, kMaxVcpus)));
}

// containerd's CRI (1.6.7 on, 1.7) puts the pod's resources on its sandbox's
// spec: the sum of its containers' limits, as the kubelet passes them. Absent,
// 0 or negative: none.
Result<std::optional<uint64_t>> cri_sandbox_value(const Config& c, const char* key) {
  auto it = c.annotations.find(key);
  if (it == c.annotations.end()) return std::optional<uint64_t>();
  const std::string& text = it->second;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return make_error(std::string("annotations[\"") + key + "\"]: " + fields::quote(text) +
                      " is not an integer");
  if (n <= 0) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(n));
}

struct PodSize {
  std::optional<uint64_t> memory_mib;
  std::optional<unsigned> vcpus;
};

Result<PodSize> cri_sandbox_size(const Config& c) {
  PodSize p;
  if (auto bytes = RUNVM_TRY(cri_sandbox_value(c, kCriSandboxMemory))) {
    uint64_t mib = *bytes / kMiB + (*bytes % kMiB ? 1 : 0);
    p.memory_mib = std::clamp(mib, kMinMemoryMib, kMaxMemoryMib);
  }
  auto quota = RUNVM_TRY(cri_sandbox_value(c, kCriSandboxCpuQuota));
  auto period = RUNVM_TRY(cri_sandbox_value(c, kCriSandboxCpuPeriod));
  if (quota && period) {
    uint64_t n = *quota / *period + (*quota % *period ? 1 : 0);
    p.vcpus = static_cast<unsigned>(std::clamp<uint64_t>(n, 1, kMaxVcpus));
  }
  return p;
}

}  // namespace

std::optional<unsigned> count_cpu_list(std::string_view list) {
  if (list.empty()) return std::nullopt;
  uint64_t total = 0;
  while (true) {
    size_t comma = list.find(',');
    std::string_view part = list.substr(0, comma);
    size_t dash = part.find('-');
    auto first = number(part.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : number(part.substr(dash + 1));
    if (!first || !last || *last < *first) return std::nullopt;
    total += *last - *first + 1;
    if (total > kMaxCpuNumber) return std::nullopt;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return static_cast<unsigned>(total);
}

uint64_t guest_mib_for_limit(uint64_t bytes) {
  uint64_t mib = bytes / kMiB + (bytes % kMiB ? 1 : 0);
  // Below the floor the guest still gets 64 MiB: the container's own limit
  // is enforced by its cgroup in the guest.
  return std::clamp(mib, kMinMemoryMib, kMaxMemoryMib);
}

Result<VmSize> size_vm(const Config& config, VmSize defaults) {
  VmSettings s = RUNVM_TRY(parse_vm_annotations(config.annotations));
  PodSize pod = RUNVM_TRY(cri_sandbox_size(config));
  VmSize size = defaults;
  const Resources* r =
      config.linux_ && config.linux_->resources ? &*config.linux_->resources : nullptr;
  if (s.memory_mib)
    size.memory_mib = *s.memory_mib;
  else if (pod.memory_mib)
    size.memory_mib = *pod.memory_mib;
  else if (auto m = r ? memory_from_limit(*r) : std::nullopt)
    size.memory_mib = *m;
  if (s.vcpus) {
    size.vcpus = *s.vcpus;
  } else if (pod.vcpus) {
    size.vcpus = *pod.vcpus;
  } else if (r) {
    if (auto n = RUNVM_TRY(vcpus_from_cpu(*r))) size.vcpus = *n;
  }
  return size;
}

}  // namespace runvm::oci
