#include "runtime/list_format.h"

#include <algorithm>

#include "spec/rfc3339.h"

namespace runvm::cli {

namespace {

// tabwriter measures cells in runes, not bytes.
size_t rune_count(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

std::string tabwrite(const std::vector<std::vector<std::string>>& lines, size_t minwidth,
                     size_t padding) {
  // Every cell but a line's last is terminated by a tab and so belongs to a
  // column. runc's lines all have the same cells, so the whole table is one
  // column block.
  std::vector<size_t> widths;
  for (const auto& line : lines)
    for (size_t i = 0; i + 1 < line.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, minwidth);
      widths[i] = std::max(widths[i], rune_count(line[i]) + padding);
    }
  std::string out;
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out.append(widths[i] - rune_count(line[i]), ' ');
    }
    out += '\n';
  }
  return out;
}

std::string list_table(const std::vector<oci::ContainerState>& states) {
  std::vector<std::vector<std::string>> lines = {
      {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
  for (const auto& s : states)
    lines.push_back({s.id, std::to_string(s.pid), std::string(oci::to_string(s.status)), s.bundle,
                     oci::format_rfc3339_nano(s.created_ns), s.owner});
  return tabwrite(lines, 12, 3);
}

std::string list_json(const std::vector<oci::ContainerState>& states) {
  // Go encodes runc's nil slice as null.
  if (states.empty()) return "null\n";
  json::Writer w;
  w.begin_array();
  for (const auto& s : states) oci::write_state(w, s);
  w.end_array();
  return w.str() + "\n";
}

}  // namespace runvm::cli
