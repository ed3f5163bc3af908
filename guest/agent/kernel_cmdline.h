// The words of the kernel command line (/proc/cmdline: words separated by
// spaces, ending in a newline), as the agent reads its switches from it
// (trace.h's runvm.debug, container_root.h's runvm.premount=TAG).
#pragma once

#include <string_view>

namespace runvm::agent {

// Calls `fn` on each word of `cmdline` in order until it returns true;
// whether one did.
template <class Fn>
bool find_cmdline_word(std::string_view cmdline, Fn&& fn) {
  size_t pos = 0;
  while (pos < cmdline.size()) {
    size_t end = cmdline.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = cmdline.size();
    if (fn(cmdline.substr(pos, end - pos))) return true;
    pos = end + 1;
  }
  return false;
}

// Whether `cmdline` has `word` as one of its words (whole: not a prefix).
inline bool cmdline_has_word(std::string_view cmdline, std::string_view word) {
  return find_cmdline_word(cmdline, [word](std::string_view w) { return w == word; });
}

}  // namespace runvm::agent
