#include "shim/engine/host_tsc.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <string>

#include "spec/base/unique_fd.h"

namespace runvm {
namespace {

int64_t raw_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Taken before main: the start of the interval host_tsc_khz() measures.
const std::optional<TscSample> g_process_start = sample_tsc();

}  // namespace

std::optional<TscSample> sample_tsc() {
#if defined(__x86_64__)
  // A clock read takes ~50 ns; 20000 TSC ticks (~5-10 us) means the thread
  // was interrupted in between: try again.
  constexpr uint64_t kMaxSpread = 20000;
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t before = __rdtsc();
    int64_t ns = raw_ns();
    uint64_t after = __rdtsc();
    if (after >= before && after - before <= kMaxSpread)
      return TscSample{before + (after - before) / 2, ns};
  }
#endif
  return std::nullopt;
}

std::optional<uint64_t> tsc_khz_between(const TscSample& a, const TscSample& b, int64_t min_ns) {
  if (b.ns - a.ns < min_ns || b.tsc <= a.tsc) return std::nullopt;
  // ticks per ms, rounded: (ticks * 1e6 + ns/2) / ns, in 128 bits.
  unsigned __int128 ticks = b.tsc - a.tsc;
  auto ns = static_cast<unsigned __int128>(b.ns - a.ns);
  auto khz = static_cast<uint64_t>((ticks * 1'000'000 + ns / 2) / ns);
  if (khz < 100'000 || khz > 20'000'000) return std::nullopt;
  return khz;
}

bool tsc_is_invariant(std::string_view cpuinfo) {
  size_t at = cpuinfo.find("\nflags");
  if (at == std::string_view::npos) return false;
  size_t end = cpuinfo.find('\n', at + 1);
  std::string_view line =
      cpuinfo.substr(at + 1, end == std::string_view::npos ? end : end - at - 1);
  auto has = [&](std::string_view flag) {
    size_t pos = 0;
    while ((pos = line.find(flag, pos)) != std::string_view::npos) {
      size_t after = pos + flag.size();
      if (pos > 0 && line[pos - 1] == ' ' && (after == line.size() || line[after] == ' '))
        return true;
      pos = after;
    }
    return false;
  };
  return has("constant_tsc") && has("nonstop_tsc");
}

std::optional<uint64_t> host_tsc_khz() {
  if (!g_process_start) return std::nullopt;
  UniqueFd fd(::open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  // The first CPU's entry is enough: flags are the same on every CPU.
  std::string buf(16384, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + got, buf.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  if (!tsc_is_invariant(buf)) return std::nullopt;
  constexpr int64_t kMinInterval = 4'000'000;
  int64_t elapsed = raw_ns() - g_process_start->ns;
  if (elapsed < kMinInterval) {
    timespec rest{0, static_cast<long>(kMinInterval - elapsed)};
    ::nanosleep(&rest, nullptr);
  }
  auto now = sample_tsc();
  if (!now) return std::nullopt;
  return tsc_khz_between(*g_process_start, *now, kMinInterval);
}

}  // namespace runvm
