#include "spec/base/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <mutex>

#include "spec/base/json.h"

namespace runvm::log {

namespace {
struct State {
  std::mutex mu;
  bool debug = false;
  int fd = STDERR_FILENO;
  Format format = Format::kText;
} g;

const char* level_name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string now_rfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  snprintf(buf + n, sizeof buf - n, ".%09ldZ", ts.tv_nsec);
  return buf;
}
}  // namespace

void configure(bool debug, const std::string& path, Format format) {
  std::lock_guard lock(g.mu);
  g.debug = debug;
  g.format = format;
  if (!path.empty()) {
    int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (g.fd != STDERR_FILENO) close(g.fd);
      g.fd = fd;
    }
  }
}

bool debug_enabled() { return g.debug; }

void write(Level level, std::string_view msg) {
  std::string line;
  if (g.format == Format::kJson) {
    json::Writer w;
    w.begin_object().key("level").string(level_name(level)).key("msg").string(msg);
    w.key("time").string(now_rfc3339()).end_object();
    line = w.str();
  } else {
    line = "runvm: ";
    if (level == Level::kDebug) line += "debug: ";
    if (level == Level::kWarn) line += "warning: ";
    line += msg;
  }
  line += '\n';
  std::lock_guard lock(g.mu);
  [[maybe_unused]] auto r = ::write(g.fd, line.data(), line.size());
}

}  // namespace runvm::log
