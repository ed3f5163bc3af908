#include "shim/engine/host_tsc.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "spec/base/unique_fd.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace runvm {
namespace {

bool has_word(std::string_view line, std::string_view word) {
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = line.size();
    if (line.substr(pos, end - pos) == word) return true;
    pos = end + 1;
  }
  return false;
}

#if defined(__x86_64__)
struct Sample {
  uint64_t tsc;
  uint64_t ns;
};

uint64_t raw_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// The clock read between two TSC reads, the closest pair of a few: a
// preemption between the reads would otherwise pass for ticks.
Sample sample() {
  Sample best{};
  uint64_t best_gap = UINT64_MAX;
  for (int i = 0; i < 8; ++i) {
    uint64_t a = __rdtsc();
    uint64_t ns = raw_ns();
    uint64_t b = __rdtsc();
    if (b - a < best_gap) {
      best_gap = b - a;
      best = {a + (b - a) / 2, ns};
    }
  }
  return best;
}
#endif

}  // namespace

bool cpuinfo_has_invariant_tsc(std::string_view cpuinfo) {
  // The first CPU's flags: the kernel lists them for every CPU alike.
  size_t pos = 0;
  while (pos < cpuinfo.size()) {
    size_t end = cpuinfo.find('\n', pos);
    if (end == std::string_view::npos) end = cpuinfo.size();
    std::string_view line = cpuinfo.substr(pos, end - pos);
    if (line.starts_with("flags")) {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) return false;
      std::string_view flags = line.substr(colon + 1);
      return has_word(flags, "constant_tsc") && has_word(flags, "nonstop_tsc");
    }
    pos = end + 1;
  }
  return false;
}

bool host_clocksource_is_tsc() {
  UniqueFd cs(::open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                     O_RDONLY | O_CLOEXEC));
  char name[16] = {};
  return cs && ::read(cs.get(), name, sizeof name - 1) > 0 && std::string_view(name) == "tsc\n";
}

std::optional<uint64_t> host_tsc_khz() {
#if defined(__x86_64__)
  UniqueFd fd(::open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  // The first CPU's entry, flags included, is well within this.
  std::string text(16384, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  if (!cpuinfo_has_invariant_tsc(text)) return std::nullopt;
  // The flags alone do not make it trustworthy: a host kernel that found
  // its TSC unstable (unsynchronised sockets, some nested VMs) switched to
  // another clocksource, and a guest told tsc=reliable has no watchdog.
  if (!host_clocksource_is_tsc()) return std::nullopt;
  // 2 ms: with both ends bracketed within ~100 ns, an error of 1e-4 at
  // most; a busy wait, as a sleep could last far longer on a loaded host.
  constexpr uint64_t kWindowNs = 2'000'000;
  Sample a = sample();
  while (raw_ns() - a.ns < kWindowNs) {
  }
  Sample b = sample();
  if (b.ns <= a.ns || b.tsc <= a.tsc) return std::nullopt;
  const double khz = static_cast<double>(b.tsc - a.tsc) * 1e6 / static_cast<double>(b.ns - a.ns);
  // Anything outside 100 MHz - 10 GHz is no TSC of an x86-64 CPU.
  if (khz < 100'000 || khz > 10'000'000) return std::nullopt;
  return static_cast<uint64_t>(khz + 0.5);
#else
  return std::nullopt;
#endif
}

}  // namespace runvm
