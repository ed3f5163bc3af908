#include "runtime/exec_process.h"

#include <fstream>
#include <sstream>

namespace runvm::cli {
namespace {

Result<uint32_t> parse_id(const std::string& text, const char* what) {
  if (text.empty() || text.size() > 10 || text.find_first_not_of("0123456789") != std::string::npos)
    return make_error(std::string("invalid ") + what + " \"" + text + "\"");
  uint64_t n = std::stoull(text);
  if (n > UINT32_MAX) return make_error(std::string("invalid ") + what + " \"" + text + "\"");
  return static_cast<uint32_t>(n);
}

Result<oci::Process> read_process_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return errno_error("open " + path);
  std::stringstream text;
  text << in.rdbuf();
  return oci::parse_process_json(text.str()).context(path);
}

}  // namespace

Result<oci::Process> exec_process(const ExecFlags& f, const oci::Process& bundle_process) {
  // runc: --process is taken as it is; the flags only shape the default.
  if (!f.process_file.empty()) return read_process_file(f.process_file);
  if (f.args.empty()) return make_error("exec: no command given");
  oci::Process p = bundle_process;
  p.args = f.args;
  if (!f.cwd.empty()) p.cwd = f.cwd;
  p.env.insert(p.env.end(), f.env.begin(), f.env.end());
  p.terminal = f.tty.value_or(false);
  p.console_size.reset();
  if (f.no_new_privs) p.no_new_privileges = true;
  if (!f.user.empty()) {
    size_t colon = f.user.find(':');
    p.user.uid = RUNVM_TRY(parse_id(f.user.substr(0, colon), "user"));
    if (colon != std::string::npos)
      p.user.gid = RUNVM_TRY(parse_id(f.user.substr(colon + 1), "group"));
  }
  p.user.additional_gids.insert(p.user.additional_gids.end(), f.additional_gids.begin(),
                                f.additional_gids.end());
  if (!f.caps.empty()) {
    if (!p.capabilities) p.capabilities.emplace();
    auto& c = *p.capabilities;
    for (const auto& cap : f.caps) {
      c.bounding.push_back(cap);
      c.effective.push_back(cap);
      c.permitted.push_back(cap);
      // Ambient needs inheritable, which --cap does not set (runc's rule).
      if (!c.inheritable.empty()) c.ambient.push_back(cap);
    }
  }
  if (p.cwd.empty() || p.cwd[0] != '/') return make_error("cwd \"" + p.cwd + "\" must be absolute");
  return p;
}

}  // namespace runvm::cli
