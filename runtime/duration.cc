#include "runtime/duration.h"

#include <cmath>
#include <string>
#include <utility>

namespace runvm::cli {

Result<int64_t> parse_go_duration(std::string_view text) {
  auto invalid = [&] { return make_error("time: invalid duration \"" + std::string(text) + "\""); };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return invalid();
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
      {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
  };
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    bool digits = false;
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) i++, digits = true;
    if (i < s.size() && s[i] == '.') {
      i++;
      while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) i++, digits = true;
    }
    if (!digits) return invalid();
    double value = std::stod(std::string(s.substr(0, i)));
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !isdigit(static_cast<unsigned char>(s[u]))) u++;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    bool found = false;
    for (const auto& [name, scale] : kUnits)
      if (unit == name) {
        total += value * scale;
        found = true;
      }
    if (!found) {
      if (unit.empty())
        return make_error("time: missing unit in duration \"" + std::string(text) + "\"");
      return make_error("time: unknown unit \"" + std::string(unit) + "\" in duration \"" +
                        std::string(text) + "\"");
    }
  }
  if (total > 9.2e18) return invalid();
  auto ns = static_cast<int64_t>(std::llround(total));
  return negative ? -ns : ns;
}

}  // namespace runvm::cli
