#include "spec/base/timeline.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <mutex>

#include "spec/base/log.h"

namespace runvm::timeline {
namespace {

constexpr int64_t kUnset = -1;
std::atomic<int64_t> g_origin{kUnset};
std::atomic<int64_t> g_previous{kUnset};

// The vCPU clocks: read with lseek + read, which every shim thread that
// marks a phase may call once confined (shim/confine), under one lock.
std::mutex g_vcpu_mutex;
std::vector<int> g_vcpu_fds;

std::optional<int64_t> vcpu_ns() {
  std::lock_guard lock(g_vcpu_mutex);
  if (g_vcpu_fds.empty()) return std::nullopt;
  int64_t total = 0;
  for (int fd : g_vcpu_fds) {
    char buf[128];
    if (::lseek(fd, 0, SEEK_SET) != 0) return std::nullopt;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return std::nullopt;  // the thread is gone: QEMU exited
    auto ns = parse_schedstat_ns(std::string_view(buf, static_cast<size_t>(n)));
    if (!ns) return std::nullopt;
    total += *ns;
  }
  return total;
}

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

std::optional<int64_t> parse_schedstat_ns(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data() || v < 0) return std::nullopt;
  if (end != text.data() + text.size() && *end != ' ' && *end != '\n') return std::nullopt;
  return v;
}

void set_vcpu_clocks(std::vector<int> schedstat_fds) {
  std::lock_guard lock(g_vcpu_mutex);
  for (int fd : g_vcpu_fds) ::close(fd);
  g_vcpu_fds = std::move(schedstat_fds);
}

void mark(std::string_view phase, std::string_view detail) {
  if (!log::debug_enabled()) return;
  int64_t origin = origin_ns();
  int64_t now = now_ns();
  int64_t previous = g_previous.exchange(now);
  if (auto vcpu = vcpu_ns()) {
    std::string d(detail);
    d += (d.empty() ? "" : " ") + std::string("vcpu_ms=") + std::to_string(*vcpu / 1'000'000);
    log::debug(format(phase, now - origin, now - previous, d));
    return;
  }
  log::debug(format(phase, now - origin, now - previous, detail));
}

}  // namespace runvm::timeline
