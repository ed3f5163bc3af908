#include "spec/cgroup/layout.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

namespace runvm::cgroup {
namespace {

// cgroup v1 controllers as mount options name them; anything else in the
// super options (rw, relatime, clone_children...) is not one.
constexpr std::string_view kV1Controllers[] = {
    "cpu",   "cpuacct",    "cpuset",  "memory", "devices", "freezer", "net_cls",
    "blkio", "perf_event", "hugetlb", "pids",   "rdma",    "misc",    "net_prio",
};

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + i + 1, s.begin() + i + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> v1_controllers(std::string_view super_options) {
  std::vector<std::string> out;
  for (auto& opt : split(super_options, ',')) {
    bool known = std::find(std::begin(kV1Controllers), std::end(kV1Controllers), opt) !=
                 std::end(kV1Controllers);
    if (known || opt.starts_with("name=")) out.push_back(opt);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_small(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `own` relative to the mount's root: a bind-mounted subtree's processes
// show paths from the hierarchy's top.
std::string relative_to_root(const std::string& own, const std::string& root) {
  if (root == "/" || root.empty()) return own;
  if (own == root) return "/";
  if (own.starts_with(root + "/")) return own.substr(root.size());
  return own;
}

}  // namespace

bool Hierarchy::has(std::string_view controller) const {
  return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

const Hierarchy* Layout::with(std::string_view controller) const {
  for (int version : {1, 2})
    for (const auto& h : hierarchies)
      if (h.version == version && h.has(controller)) return &h;
  return nullptr;
}

Result<Layout> parse_layout(std::string_view mountinfo, std::string_view proc_self_cgroup) {
  Layout layout;
  std::set<std::vector<std::string>> seen_v1;
  bool seen_v2 = false;
  for (const auto& line : split(mountinfo, '\n')) {
    auto fields = split(line, ' ');
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 7 || dash == fields.end() || fields.end() - dash < 4) continue;
    const std::string& fstype = dash[1];
    Hierarchy h;
    h.root = unescape(fields[3]);
    h.mountpoint = unescape(fields[4]);
    if (fstype == "cgroup") {
      h.version = 1;
      h.controllers = v1_controllers(dash[3]);
      // The same hierarchy mounted twice (a bind mount): the first counts.
      if (h.controllers.empty() || !seen_v1.insert(h.controllers).second) continue;
    } else if (fstype == "cgroup2") {
      if (seen_v2) continue;
      seen_v2 = true;
      h.version = 2;
      for (auto& c : split(read_small(h.mountpoint + "/cgroup.controllers"), ' ')) {
        while (!c.empty() && (c.back() == '\n' || c.back() == ' ')) c.pop_back();
        if (!c.empty()) h.controllers.push_back(c);
      }
    } else {
      continue;
    }
    layout.hierarchies.push_back(std::move(h));
  }
  if (layout.hierarchies.empty()) return make_error("no cgroup hierarchy is mounted");
  bool v1 = !seen_v1.empty();
  layout.mode = v1 && seen_v2 ? Mode::kHybrid : v1 ? Mode::kV1 : Mode::kV2;

  // "ID:CONTROLLERS:PATH" per hierarchy; v2's is "0::PATH".
  for (const auto& line : split(proc_self_cgroup, '\n')) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string path = line.substr(b + 1);
    auto names = line.substr(a + 1, b - a - 1);
    std::vector<std::string> controllers;
    if (!names.empty()) controllers = split(names, ',');
    std::sort(controllers.begin(), controllers.end());
    for (auto& h : layout.hierarchies) {
      bool match =
          controllers.empty() ? h.version == 2 : h.version == 1 && h.controllers == controllers;
      if (match) h.own = relative_to_root(path, h.root);
    }
  }
  return layout;
}

Result<Layout> detect_layout() {
  std::string mountinfo = read_small("/proc/self/mountinfo");
  if (mountinfo.empty()) return make_error("cannot read /proc/self/mountinfo");
  return parse_layout(mountinfo, read_small("/proc/self/cgroup"));
}

}  // namespace runvm::cgroup
