#include "spec/base/timeline.h"

#include <time.h>

#include <atomic>
#include <cstdio>

#include "spec/base/log.h"

namespace runvm::timeline {
namespace {

constexpr int64_t kUnset = -1;
std::atomic<int64_t> g_origin{kUnset};
std::atomic<int64_t> g_previous{kUnset};

std::string ms(int64_t ns) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ns) / 1e6);
  return buf;
}

}  // namespace

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void set_origin(int64_t mono_ns) {
  g_origin.store(mono_ns);
  g_previous.store(mono_ns);
}

int64_t origin_ns() {
  int64_t o = g_origin.load();
  if (o != kUnset) return o;
  int64_t now = now_ns();
  // The first caller's time wins; a racing one reads it back.
  if (g_origin.compare_exchange_strong(o, now)) {
    g_previous.store(now);
    return now;
  }
  return o;
}

std::string format(std::string_view phase, int64_t since_origin_ns, int64_t since_previous_ns,
                   std::string_view detail) {
  std::string line = "phase ";
  line += phase;
  line += " " + ms(since_origin_ns) + " ms (+" + ms(since_previous_ns) + " ms)";
  if (!detail.empty()) {
    line += " -- ";
    line += detail;
  }
  return line;
}

void mark(std::string_view phase, std::string_view detail) {
  if (!log::debug_enabled()) return;
  int64_t origin = origin_ns();
  int64_t now = now_ns();
  int64_t previous = g_previous.exchange(now);
  log::debug(format(phase, now - origin, now - previous, detail));
}

}  // namespace runvm::timeline
