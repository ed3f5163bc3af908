#include "spec/runvm_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "spec/base/unique_fd.h"

// Header-only and without exceptions: this one file is toml++'s only user,
// and a parse error is a value like every other error of runvm's.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

namespace runvm::config {
namespace {

// Larger is not a configuration file: refuse before parsing.
constexpr size_t kMaxFileSize = 1 << 20;

// "PATH:LINE: " (LINE left out when toml++ does not know it).
std::string at(const std::string& path, const toml::source_region& where) {
  std::string s = path;
  if (where.begin.line > 0) s += ":" + std::to_string(where.begin.line);
  return s + ": ";
}

// toml++'s descriptions may quote the offending text: keep the error on
// one line whatever the input held.
std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\0') ? ' ' : c;
  return out;
}

// Printable text for a key the user wrote (it may hold any UTF-8, quotes
// or control characters): non-ASCII and control bytes as \xNN.
std::string printable(std::string_view key) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct Ctx {
  const std::string& path;
  Error fail(const toml::node& n, const std::string& key, const std::string& what) const {
    return make_error(at(path, n.source()) + key + ": " + what);
  }
};

Result<uint64_t> integer(const Ctx& c, const toml::node& n, const std::string& key, uint64_t min,
                         uint64_t max) {
  const auto* v = n.as_integer();
  if (!v) return c.fail(n, key, "must be an integer");
  int64_t i = v->get();
  if (i < 0 || static_cast<uint64_t>(i) < min || static_cast<uint64_t>(i) > max)
    return c.fail(n, key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return static_cast<uint64_t>(i);
}

Result<std::string> text(const Ctx& c, const toml::node& n, const std::string& key) {
  const auto* v = n.as_string();
  if (!v) return c.fail(n, key, "must be a string");
  const std::string& s = v->get();
  if (s.size() > 4096) return c.fail(n, key, "longer than 4096 bytes");
  for (unsigned char ch : s)
    if (ch < 0x20 || ch == 0x7f) return c.fail(n, key, "must not hold control characters");
  return s;
}

// A file the shim opens: absolute, so it does not depend on where runvm runs.
Result<std::string> file_path(const Ctx& c, const toml::node& n, const std::string& key) {
  std::string s = RUNVM_TRY(text(c, n, key));
  if (!s.empty() && s[0] != '/') return c.fail(n, key, "must be an absolute path (or \"\")");
  return s;
}

using Setter = std::function<Status(const Ctx&, const toml::node&, VmDefaults&)>;

struct Key {
  const char* name;
  Setter set;
};

const std::vector<Key>& vm_keys() {
  static const std::vector<Key> keys = {
      {"memory_mib",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.memory_mib = RUNVM_TRY(integer(c, n, "vm.memory_mib", kMinMemoryMib, kMaxMemoryMib));
         return {};
       }},
      {"vcpus",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.vcpus = static_cast<unsigned>(RUNVM_TRY(integer(c, n, "vm.vcpus", 1, kMaxVcpus)));
         return {};
       }},
      {"overhead_mib",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.overhead_mib = RUNVM_TRY(integer(c, n, "vm.overhead_mib", 0, kMaxOverheadMib));
         return {};
       }},
      {"accel",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         std::string s = RUNVM_TRY(text(c, n, "vm.accel"));
         if (s != "auto" && s != "kvm" && s != "tcg")
           return c.fail(n, "vm.accel", "must be one of \"auto\", \"kvm\", \"tcg\"");
         vm.accel = s;
         return {};
       }},
      {"tcg_tb_size",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.tcg_tb_size = RUNVM_TRY(integer(c, n, "vm.tcg_tb_size", 0, kMaxTcgTbSizeMib));
         return {};
       }},
      {"kernel",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.kernel = RUNVM_TRY(file_path(c, n, "vm.kernel"));
         return {};
       }},
      {"initrd",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.initrd = RUNVM_TRY(file_path(c, n, "vm.initrd"));
         return {};
       }},
      {"qemu",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.qemu = RUNVM_TRY(text(c, n, "vm.qemu"));
         return {};
       }},
      {"qemu_user",
       [](const Ctx& c, const toml::node& n, VmDefaults& vm) -> Status {
         vm.qemu_user = RUNVM_TRY(text(c, n, "vm.qemu_user"));
         return {};
       }},
  };
  return keys;
}

std::string known(const char* table, const std::vector<Key>& keys) {
  std::string s;
  for (const auto& k : keys) s += std::string(s.empty() ? "" : ", ") + table + "." + k.name;
  return s;
}

Status parse_vm(const Ctx& c, const toml::node& n, VmDefaults& vm) {
  const toml::table* t = n.as_table();
  if (!t) return c.fail(n, "vm", "must be a table ([vm])");
  for (auto&& [key, value] : *t) {
    std::string name(key.str());
    const Key* k = nullptr;
    for (const auto& candidate : vm_keys())
      if (name == candidate.name) k = &candidate;
    if (!k)
      return make_error(at(c.path, key.source()) + "vm." + printable(name) +
                        ": unknown key (known: " + known("vm", vm_keys()) + ")");
    RUNVM_CHECK(k->set(c, value, vm));
  }
  return {};
}

Status parse_pool(const Ctx& c, const toml::node& n, PoolConfig& pool) {
  const toml::table* t = n.as_table();
  if (!t) return c.fail(n, "pool", "must be a table ([pool])");
  for (auto&& [key, value] : *t) {
    std::string name(key.str());
    if (name == "size")
      pool.size = RUNVM_TRY(integer(c, value, "pool.size", 0, kMaxPoolSize));
    else if (name == "max_idle_seconds")
      pool.max_idle_seconds =
          RUNVM_TRY(integer(c, value, "pool.max_idle_seconds", 0, 365ull * 24 * 3600));
    else
      return make_error(at(c.path, key.source()) + "pool." + printable(name) +
                        ": unknown key (known: pool.size, pool.max_idle_seconds)");
  }
  return {};
}

// toml++ 3.3 reaches __builtin_unreachable() (undefined behaviour) when it
// asks whether some non-ASCII characters are whitespace, which it does in
// keys, after values and in strings (found by runvm_config_fuzz). Its
// comments never ask: so runvm.toml is ASCII outside comments. Returns the
// 1-based line of the first offending byte, or 0. A comment is found as TOML
// finds it: a '#' outside strings; when the two disagree (odd quoting) this
// sees a string where TOML sees a comment, which only errs on refusing.
size_t first_non_ascii_outside_comments(std::string_view text) {
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } in = In::kCode;
  size_t line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    std::string_view rest = text.substr(i);
    if (c == '\n') {
      ++line;
      if (in == In::kComment || in == In::kBasic || in == In::kLiteral) in = In::kCode;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80 && in != In::kComment) return line;
    switch (in) {
      case In::kCode:
        if (c == '#') {
          in = In::kComment;
        } else if (rest.starts_with("\"\"\"")) {
          in = In::kMultiBasic;
          i += 2;
        } else if (rest.starts_with("'''")) {
          in = In::kMultiLiteral;
          i += 2;
        } else if (c == '"') {
          in = In::kBasic;
        } else if (c == '\'') {
          in = In::kLiteral;
        }
        break;
      case In::kBasic:
      case In::kMultiBasic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          ++i;  // an escaped character (a non-ASCII one is refused all the same)
          if (static_cast<unsigned char>(text[i]) >= 0x80) return line;
        } else if (in == In::kBasic && c == '"') {
          in = In::kCode;
        } else if (in == In::kMultiBasic && rest.starts_with("\"\"\"")) {
          in = In::kCode;
          i += 2;
        }
        break;
      case In::kLiteral:
        if (c == '\'') in = In::kCode;
        break;
      case In::kMultiLiteral:
        if (rest.starts_with("'''")) {
          in = In::kCode;
          i += 2;
        }
        break;
      case In::kComment:
        break;
    }
  }
  return 0;
}

Result<std::string> read_limited(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(path);
  std::string data;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(path);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > kMaxFileSize) return make_error(path + ": larger than 1 MiB");
  }
  return data;
}

}  // namespace

Result<RunvmConfig> parse_runvm_config(std::string_view text, const std::string& path) {
  RunvmConfig config;
  config.path = path;
  if (text.size() > kMaxFileSize) return make_error(path + ": larger than 1 MiB");
  if (size_t line = first_non_ascii_outside_comments(text))
    return make_error(path + ":" + std::to_string(line) +
                      ": non-ASCII characters are only allowed in comments");
  // Only comments hold non-ASCII now, and toml++ is handed none at all: the
  // 3.3.0 that Debian ships reaches __builtin_unreachable in its Unicode
  // whitespace table for U+FC56..U+FEFE (runvm_config_fuzz found it through
  // U+FEFB after "c=5112-11-11 0#"). Blanked, a comment stays a comment.
  std::string ascii(text);
  for (char& ch : ascii)
    if (static_cast<unsigned char>(ch) >= 0x80) ch = ' ';
  toml::parse_result parsed = toml::parse(ascii, path);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return make_error(at(path, e.source()) + one_line(e.description()));
  }
  Ctx c{path};
  for (auto&& [key, value] : parsed.table()) {
    std::string name(key.str());
    if (name == "vm") {
      RUNVM_CHECK(parse_vm(c, value, config.vm));
    } else if (name == "pool") {
      RUNVM_CHECK(parse_pool(c, value, config.pool));
    } else {
      // [network] comes next; until then it is a typo too.
      return make_error(at(path, key.source()) + printable(name) +
                        ": unknown key (known: [vm], [pool])");
    }
  }
  return config;
}

ConfigPath config_path(const std::string& flag_path) {
  if (!flag_path.empty()) return {flag_path, true};
  if (const char* e = getenv(kPathEnv); e && *e) return {e, true};
  return {kDefaultPath, false};
}

Result<RunvmConfig> load_runvm_config(const std::string& flag_path) {
  ConfigPath where = config_path(flag_path);
  auto data = read_limited(where.path);
  if (!data.ok()) {
    // No configuration file installed: the built-in defaults.
    if (!where.named && data.error().code == ENOENT) return RunvmConfig{};
    return std::move(data).error();
  }
  return parse_runvm_config(*data, where.path);
}

}  // namespace runvm::config
