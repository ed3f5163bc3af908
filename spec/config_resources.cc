// linux.resources: the cgroup settings runvm applies (memory, cpu, pids,
// hugepages, device rules, unified); the rest is ignored like any unknown field.
#include "spec/config_parse.h"
#include "spec/json_fields.h"

namespace runvm::oci::detail {

namespace {

using json::Value;

Result<DeviceRule> parse_device_rule(const Value& v) {
  DeviceRule r;
  Value allow = RUNVM_TRY(fields::require(v, "allow"));
  r.allow = RUNVM_TRY(allow.as_bool());
  if (auto t = RUNVM_TRY(fields::get(v, "type")))
    r.type = RUNVM_TRY(fields::one_of(*t, {"", "a", "c", "b"}, "device type"));
  r.major = RUNVM_TRY(fields::opt_int(v, "major", -1));
  r.minor = RUNVM_TRY(fields::opt_int(v, "minor", -1));
  if (auto a = RUNVM_TRY(fields::get(v, "access"))) {
    r.access = RUNVM_TRY(a->as_string());
    if (r.access.find_first_not_of("rwm") != std::string::npos)
      return a->error("must contain only the letters r, w and m");
  }
  return r;
}

Result<MemoryResources> parse_memory(const Value& v) {
  MemoryResources m;
  m.limit = RUNVM_TRY(fields::opt_int(v, "limit"));
  m.reservation = RUNVM_TRY(fields::opt_int(v, "reservation"));
  m.swap = RUNVM_TRY(fields::opt_int(v, "swap"));
  m.swappiness = RUNVM_TRY(fields::opt_uint(v, "swappiness"));
  if (auto d = RUNVM_TRY(fields::get(v, "disableOOMKiller")))
    m.disable_oom_killer = RUNVM_TRY(d->as_bool());
  return m;
}

Result<CpuResources> parse_cpu(const Value& v) {
  CpuResources c;
  c.shares = RUNVM_TRY(fields::opt_uint(v, "shares"));
  c.quota = RUNVM_TRY(fields::opt_int(v, "quota"));
  c.period = RUNVM_TRY(fields::opt_uint(v, "period"));
  c.cpus = RUNVM_TRY(fields::string_or_empty(v, "cpus"));
  c.mems = RUNVM_TRY(fields::string_or_empty(v, "mems"));
  return c;
}

Result<PidsResources> parse_pids(const Value& v) {
  PidsResources p;
  p.limit = RUNVM_TRY(RUNVM_TRY(fields::require(v, "limit")).as_int());
  return p;
}

bool valid_page_size(std::string_view s) {
  if (s.size() < 3 || s[0] < '1' || s[0] > '9') return false;
  std::string_view unit = s.substr(s.size() - 2);
  if (unit != "KB" && unit != "MB" && unit != "GB") return false;
  return s.substr(0, s.size() - 2).find_first_not_of("0123456789") == std::string_view::npos;
}

Result<HugepageLimit> parse_hugepage_limit(const Value& v) {
  HugepageLimit h;
  Value size = RUNVM_TRY(fields::require(v, "pageSize"));
  h.page_size = RUNVM_TRY(size.as_string());
  // It names a cgroup file (hugetlb.<size>.max): nothing but a size.
  if (!valid_page_size(h.page_size)) return size.error("must be like \"2MB\" (KB, MB or GB)");
  h.limit = RUNVM_TRY(fields::as_uint(RUNVM_TRY(fields::require(v, "limit"))));
  return h;
}

}  // namespace

Result<Resources> parse_resources(const Value& v) {
  if (!v.is_object()) return v.error("must be an object");
  Resources r;
  r.devices = RUNVM_TRY(fields::list<DeviceRule>(v, "devices", parse_device_rule));
  if (auto m = RUNVM_TRY(fields::get(v, "memory"))) r.memory = RUNVM_TRY(parse_memory(*m));
  if (auto c = RUNVM_TRY(fields::get(v, "cpu"))) r.cpu = RUNVM_TRY(parse_cpu(*c));
  if (auto p = RUNVM_TRY(fields::get(v, "pids"))) r.pids = RUNVM_TRY(parse_pids(*p));
  r.hugepage_limits =
      RUNVM_TRY(fields::list<HugepageLimit>(v, "hugepageLimits", parse_hugepage_limit));
  r.unified = RUNVM_TRY(fields::string_map(v, "unified"));
  return r;
}

}  // namespace runvm::oci::detail
