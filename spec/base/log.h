// Process-wide diagnostic log: one line per message, to stderr or the
// --log file; --debug enables debug lines. JSON format matches runc's
// ({"level":"...","msg":"...","time":"..."}) for --log-format json.
#pragma once

#include <string>
#include <string_view>

namespace runvm::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kText, kJson };

// Directs output to `path` (append; empty = stderr).
void configure(bool debug, const std::string& path, Format format);
bool debug_enabled();
void write(Level level, std::string_view msg);

inline void debug(std::string_view m) {
  if (debug_enabled()) write(Level::kDebug, m);
}
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void warn(std::string_view m) { write(Level::kWarn, m); }
inline void error(std::string_view m) { write(Level::kError, m); }

}  // namespace runvm::log
