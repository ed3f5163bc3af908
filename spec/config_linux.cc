// The "linux" section of config.json (resources and seccomp have their own
// files).
#include <sys/stat.h>

#include "spec/config_parse.h"
#include "spec/json_fields.h"

namespace runvm::oci::detail {

namespace {

using json::Value;

Result<uint32_t> as_u32(const Value& v) {
  return static_cast<uint32_t>(RUNVM_TRY(fields::as_uint(v, UINT32_MAX)));
}

Result<std::optional<uint32_t>> opt_u32(const Value& obj, std::string_view key) {
  auto u = RUNVM_TRY(fields::opt_uint(obj, key, UINT32_MAX));
  if (!u) return std::optional<uint32_t>();
  return std::optional<uint32_t>(static_cast<uint32_t>(*u));
}

Result<Namespace> parse_namespace(const Value& v) {
  Namespace ns;
  Value type = RUNVM_TRY(fields::require(v, "type"));
  std::string name = RUNVM_TRY(type.as_string());
  auto t = parse_namespace_type(name);
  if (!t) return type.error("unknown namespace " + fields::quote(name));
  ns.type = *t;
  if (auto path = RUNVM_TRY(fields::get(v, "path"))) {
    ns.path = RUNVM_TRY(path->as_string());
    if (!ns.path.empty() && !fields::is_absolute_path(ns.path))
      return path->error("must be an absolute path");
  }
  return ns;
}

Result<std::vector<Namespace>> parse_namespaces(const Value& lx) {
  auto list = RUNVM_TRY(fields::list<Namespace>(lx, "namespaces", parse_namespace));
  for (size_t i = 0; i < list.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (list[i].type == list[j].type)
        return make_error(lx.path() + ".namespaces[" + std::to_string(i) +
                          "].type: duplicate namespace \"" + std::string(to_string(list[i].type)) +
                          "\"");
  return list;
}

Result<IdMapping> parse_id_mapping(const Value& v) {
  IdMapping m;
  m.container_id = RUNVM_TRY(as_u32(RUNVM_TRY(fields::require(v, "containerID"))));
  m.host_id = RUNVM_TRY(as_u32(RUNVM_TRY(fields::require(v, "hostID"))));
  Value size = RUNVM_TRY(fields::require(v, "size"));
  m.size = RUNVM_TRY(as_u32(size));
  if (m.size == 0) return size.error("must be greater than zero");
  return m;
}

Result<Device> parse_device(const Value& v) {
  Device d;
  Value type = RUNVM_TRY(fields::require(v, "type"));
  d.type = RUNVM_TRY(type.as_string());
  if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
    return type.error("must be one of c, b, u, p");
  Value path = RUNVM_TRY(fields::require(v, "path"));
  d.path = RUNVM_TRY(path.as_string());
  if (!fields::is_absolute_path(d.path)) return path.error("must be an absolute path");
  if (d.path.find_first_not_of('/') == std::string::npos) return path.error("must name a file");
  // Only FIFOs have no device number. The ranges are what dev_t carries.
  if (d.type != "p") {
    d.major = RUNVM_TRY(fields::as_int(RUNVM_TRY(fields::require(v, "major")), 0, 4095));
    d.minor = RUNVM_TRY(fields::as_int(RUNVM_TRY(fields::require(v, "minor")), 0, 1048575));
  }
  if (auto mode = RUNVM_TRY(fields::get(v, "fileMode"))) {
    // As runc: the file type comes from "type", not from these bits.
    uint32_t m = RUNVM_TRY(as_u32(*mode)) & ~static_cast<uint32_t>(S_IFMT);
    if (m > 07777) return mode->error("must be permission bits (at most 07777)");
    d.file_mode = m;
  }
  d.uid = RUNVM_TRY(opt_u32(v, "uid"));
  d.gid = RUNVM_TRY(opt_u32(v, "gid"));
  return d;
}

}  // namespace

Result<Linux> parse_linux(const Value& v) {
  if (!v.is_object()) return v.error("must be an object");
  Linux l;
  l.uid_mappings = RUNVM_TRY(fields::list<IdMapping>(v, "uidMappings", parse_id_mapping));
  l.gid_mappings = RUNVM_TRY(fields::list<IdMapping>(v, "gidMappings", parse_id_mapping));
  l.sysctl = RUNVM_TRY(fields::string_map(v, "sysctl"));
  if (auto r = RUNVM_TRY(fields::get(v, "resources"))) l.resources = RUNVM_TRY(parse_resources(*r));
  l.cgroups_path = RUNVM_TRY(fields::string_or_empty(v, "cgroupsPath"));
  l.namespaces = RUNVM_TRY(parse_namespaces(v));
  l.devices = RUNVM_TRY(fields::list<Device>(v, "devices", parse_device));
  if (auto s = RUNVM_TRY(fields::get(v, "seccomp"))) l.seccomp = RUNVM_TRY(parse_seccomp(*s));
  if (auto p = RUNVM_TRY(fields::get(v, "rootfsPropagation"))) {
    l.rootfs_propagation =
        RUNVM_TRY(fields::one_of(*p,
                                 {"", "shared", "slave", "private", "unbindable", "rshared",
                                  "rslave", "rprivate", "runbindable"},
                                 "propagation"));
  }
  l.masked_paths = RUNVM_TRY(fields::string_list(v, "maskedPaths"));
  l.readonly_paths = RUNVM_TRY(fields::string_list(v, "readonlyPaths"));
  l.mount_label = RUNVM_TRY(fields::string_or_empty(v, "mountLabel"));
  return l;
}

}  // namespace runvm::oci::detail
