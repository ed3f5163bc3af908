// parse_config(): the top level of config.json (root, mounts, hooks,
// annotations); process and linux live in their own files.
#include <array>
#include <utility>

#include "spec/config_parse.h"
#include "spec/json_fields.h"

namespace runvm::oci {

namespace {

using json::Value;

constexpr std::array<std::pair<NamespaceType, std::string_view>, 8> kNamespaceNames{{
    {NamespaceType::kPid, "pid"},
    {NamespaceType::kNetwork, "network"},
    {NamespaceType::kMount, "mount"},
    {NamespaceType::kIpc, "ipc"},
    {NamespaceType::kUts, "uts"},
    {NamespaceType::kUser, "user"},
    {NamespaceType::kCgroup, "cgroup"},
    {NamespaceType::kTime, "time"},
}};

Result<Root> parse_root(const Value& v) {
  Root r;
  Value path = RUNVM_TRY(fields::require(v, "path"));
  r.path = RUNVM_TRY(path.as_string());
  if (r.path.empty()) return path.error("must not be empty");
  r.readonly = RUNVM_TRY(fields::bool_or_false(v, "readonly"));
  return r;
}

Result<Mount> parse_mount(const Value& v) {
  Mount m;
  Value dest = RUNVM_TRY(fields::require(v, "destination"));
  m.destination = RUNVM_TRY(dest.as_string());
  if (!fields::is_absolute_path(m.destination)) return dest.error("must be an absolute path");
  m.type = RUNVM_TRY(fields::string_or_empty(v, "type"));
  m.source = RUNVM_TRY(fields::string_or_empty(v, "source"));
  m.options = RUNVM_TRY(fields::string_list(v, "options"));
  return m;
}

Result<Hook> parse_hook(const Value& v) {
  Hook h;
  Value path = RUNVM_TRY(fields::require(v, "path"));
  h.path = RUNVM_TRY(path.as_string());
  if (!fields::is_absolute_path(h.path)) return path.error("must be an absolute path");
  h.args = RUNVM_TRY(fields::string_list(v, "args"));
  h.env = RUNVM_TRY(detail::parse_env(v));
  if (auto t = RUNVM_TRY(fields::get(v, "timeout"))) {
    int64_t timeout = RUNVM_TRY(t->as_int());
    if (timeout <= 0) return t->error("must be greater than zero");
    h.timeout = timeout;
  }
  return h;
}

Result<Hooks> parse_hooks(const Value& v) {
  Hooks h;
  h.prestart = RUNVM_TRY(fields::list<Hook>(v, "prestart", parse_hook));
  h.create_runtime = RUNVM_TRY(fields::list<Hook>(v, "createRuntime", parse_hook));
  h.create_container = RUNVM_TRY(fields::list<Hook>(v, "createContainer", parse_hook));
  h.start_container = RUNVM_TRY(fields::list<Hook>(v, "startContainer", parse_hook));
  h.poststart = RUNVM_TRY(fields::list<Hook>(v, "poststart", parse_hook));
  h.poststop = RUNVM_TRY(fields::list<Hook>(v, "poststop", parse_hook));
  return h;
}

}  // namespace

std::string_view to_string(NamespaceType t) {
  for (const auto& [type, name] : kNamespaceNames)
    if (type == t) return name;
  return "unknown";
}

std::optional<NamespaceType> parse_namespace_type(std::string_view s) {
  for (const auto& [type, name] : kNamespaceNames)
    if (name == s) return type;
  return std::nullopt;
}

Result<std::vector<std::string>> detail::parse_env(const Value& obj) {
  auto env = RUNVM_TRY(fields::get(obj, "env"));
  std::vector<std::string> out;
  if (!env) return out;
  for (const Value& e : RUNVM_TRY(env->as_array())) {
    std::string s = RUNVM_TRY(e.as_string());
    if (!fields::is_env_entry(s)) return e.error("must be of the form KEY=VALUE");
    out.push_back(std::move(s));
  }
  return out;
}

Result<Process> parse_process_json(std::string_view text) {
  json::Document doc = RUNVM_TRY(json::Document::parse(text));
  return detail::parse_process(doc.root());
}

Result<Config> parse_config(std::string_view text) {
  json::Document doc = RUNVM_TRY(json::Document::parse(text));
  Value top = doc.root();
  if (!top.is_object()) return make_error("must be a JSON object");

  Config c;
  Value version = RUNVM_TRY(fields::require(top, "ociVersion"));
  c.oci_version = RUNVM_TRY(version.as_string());
  if (c.oci_version.empty()) return version.error("must not be empty");
  Value root = RUNVM_TRY(fields::require(top, "root"));
  c.root = RUNVM_TRY(parse_root(root));
  c.hostname = RUNVM_TRY(fields::string_or_empty(top, "hostname"));
  c.domainname = RUNVM_TRY(fields::string_or_empty(top, "domainname"));
  c.mounts = RUNVM_TRY(fields::list<Mount>(top, "mounts", parse_mount));
  if (auto p = RUNVM_TRY(fields::get(top, "process")))
    c.process = RUNVM_TRY(detail::parse_process(*p));
  if (auto h = RUNVM_TRY(fields::get(top, "hooks"))) c.hooks = RUNVM_TRY(parse_hooks(*h));
  c.annotations = RUNVM_TRY(fields::string_map(top, "annotations"));
  if (auto l = RUNVM_TRY(fields::get(top, "linux"))) c.linux_ = RUNVM_TRY(detail::parse_linux(*l));
  return c;
}

std::vector<std::string> effective_env(const std::vector<std::string>& env) {
  std::vector<std::string> out;
  std::map<std::string, size_t, std::less<>> index;  // key -> position in out
  for (const std::string& e : env) {
    std::string key = e.substr(0, e.find('='));
    auto it = index.find(key);
    if (it != index.end()) {
      out[it->second] = e;
    } else {
      index.emplace(std::move(key), out.size());
      out.push_back(e);
    }
  }
  if (!index.contains("PATH")) out.push_back("PATH=" + std::string(kDefaultPath));
  return out;
}

}  // namespace runvm::oci
