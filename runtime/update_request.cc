#include "runtime/update_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "spec/base/json.h"

namespace runvm::cli {

namespace {

// runc update's fields: {JSON object, member, flag}.
struct Field {
  const char* object;
  const char* member;
  const char* flag;
  bool is_string;
  bool ram;  // the flag takes RAMInBytes sizes
};
constexpr Field kFields[] = {
    {"memory", "limit", "memory", false, true},
    {"memory", "reservation", "memory-reservation", false, true},
    {"memory", "swap", "memory-swap", false, true},
    {"memory", "kernel", "kernel-memory", false, true},
    {"memory", "kernelTCP", "kernel-memory-tcp", false, true},
    {"cpu", "shares", "cpu-share", false, false},
    {"cpu", "quota", "cpu-quota", false, false},
    {"cpu", "period", "cpu-period", false, false},
    {"cpu", "realtimeRuntime", "cpu-rt-runtime", false, false},
    {"cpu", "realtimePeriod", "cpu-rt-period", false, false},
    {"cpu", "cpus", "cpuset-cpus", true, false},
    {"cpu", "mems", "cpuset-mems", true, false},
    {"cpu", "idle", "cpu-idle", false, false},
    {"blockIO", "weight", "blkio-weight", false, false},
    {"pids", "limit", "pids-limit", false, false},
    // Flags only: Intel RDT is set in linux.intelRdt, not in resources.
    {"intelRdt", "l3CacheSchema", "l3-cache-schema", true, false},
    {"intelRdt", "memBwSchema", "mem-bw-schema", true, false},
};

std::string path_of(const Field& f) { return std::string(f.object) + "." + f.member; }

// The container's current value of `field`, when its config sets one.
std::optional<std::string> current_value(const std::string& field,
                                         const std::optional<oci::Resources>& r) {
  if (!r) return std::nullopt;
  auto num = [](const auto& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return std::to_string(*v);
  };
  auto str = [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return std::nullopt;
    return v;
  };
  if (r->memory) {
    if (field == "memory.limit") return num(r->memory->limit);
    if (field == "memory.reservation") return num(r->memory->reservation);
    if (field == "memory.swap") return num(r->memory->swap);
  }
  if (r->cpu) {
    if (field == "cpu.shares") return num(r->cpu->shares);
    if (field == "cpu.quota") return num(r->cpu->quota);
    if (field == "cpu.period") return num(r->cpu->period);
    if (field == "cpu.cpus") return str(r->cpu->cpus);
    if (field == "cpu.mems") return str(r->cpu->mems);
  }
  if (r->pids && field == "pids.limit") return std::to_string(r->pids->limit);
  return std::nullopt;
}

}  // namespace

Result<std::vector<ResourceUpdate>> parse_resources_json(std::string_view text) {
  auto doc = RUNVM_TRY(json::Document::parse(text));
  json::Value top = doc.root();
  if (!top.is_object()) return make_error("resources: must be a JSON object");
  std::vector<ResourceUpdate> out;
  for (const auto& f : kFields) {
    auto obj = RUNVM_TRY(top.get(f.object));
    if (!obj || obj->is_null()) continue;
    auto v = RUNVM_TRY(obj->get(f.member));
    if (!v || v->is_null()) continue;
    std::string value;
    if (f.is_string) {
      value = RUNVM_TRY(v->as_string());
      if (value.empty()) continue;
    } else if (auto i = v->as_int(); i.ok()) {
      value = std::to_string(*i);
    } else {
      value = std::to_string(RUNVM_TRY(v->as_uint()));
    }
    if (path_of(f) == "pids.limit" && value == "0") continue;  // runc: 0 leaves it
    out.push_back({path_of(f), value});
  }
  return out;
}

Result<int64_t> parse_ram_in_bytes(std::string_view text) {
  auto invalid = [&] { return make_error("invalid size: '" + std::string(text) + "'"); };
  size_t i = 0;
  while (i < text.size() && (isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) i++;
  if (i == 0 || text[0] == '.') return invalid();
  std::string number(text.substr(0, i));
  std::string_view suffix = text.substr(i);
  if (!suffix.empty() && suffix[0] == ' ') suffix.remove_prefix(1);
  double multiplier = 1;
  if (!suffix.empty()) {
    static constexpr std::string_view kUnits = "kmgtp";
    size_t u = kUnits.find(static_cast<char>(tolower(static_cast<unsigned char>(suffix[0]))));
    if (u != std::string_view::npos) {
      multiplier = std::pow(1024.0, static_cast<double>(u + 1));
      suffix.remove_prefix(1);
    }
  }
  if (!suffix.empty() && (suffix[0] == 'i' || suffix[0] == 'I')) suffix.remove_prefix(1);
  if (!suffix.empty() && (suffix[0] == 'b' || suffix[0] == 'B')) suffix.remove_prefix(1);
  if (!suffix.empty()) return invalid();
  char* end = nullptr;
  double value = strtod(number.c_str(), &end);
  if (*end) return invalid();
  return static_cast<int64_t>(value * multiplier);
}

Result<std::optional<ResourceUpdate>> update_from_flag(std::string_view flag,
                                                       const std::string& value) {
  for (const auto& f : kFields) {
    if (flag != f.flag) continue;
    if (value.empty()) return std::optional<ResourceUpdate>();
    std::string canonical = value;
    if (f.ram && value != "-1") {
      canonical = std::to_string(
          RUNVM_TRY(parse_ram_in_bytes(value).context("invalid value for " + std::string(flag))));
    } else if (!f.is_string) {
      char* end = nullptr;
      errno = 0;
      long long n = strtoll(value.c_str(), &end, 10);
      if (*end || errno) return make_error("invalid value for " + std::string(flag) + ": " + value);
      canonical = std::to_string(n);
    }
    // runc's integer flags default to 0, meaning "leave as is".
    if ((flag == "pids-limit" || flag == "blkio-weight") && canonical == "0")
      return std::optional<ResourceUpdate>();
    return std::optional<ResourceUpdate>(ResourceUpdate{path_of(f), canonical});
  }
  return make_error("unknown update flag --" + std::string(flag));
}

Result<std::vector<ResourceUpdate>> drop_swap_without_effect(std::vector<ResourceUpdate> updates) {
  auto find = [&](std::string_view field) {
    return std::find_if(updates.begin(), updates.end(),
                        [&](const ResourceUpdate& u) { return u.field == field; });
  };
  auto number = [](const std::string& v) -> std::optional<int64_t> {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
    return n;
  };
  auto swap = find("memory.swap");
  auto limit = find("memory.limit");
  if (swap == updates.end() || limit == updates.end()) return updates;
  auto s = number(swap->value), l = number(limit->value);
  if (!s || !l) return updates;  // check_updates names what is wrong
  if (*s != -1 && *s < *l)
    return make_error("memory.swap: " + swap->value + " is less than memory.limit " + limit->value +
                      " (it counts memory plus swap)");
  updates.erase(swap);
  return updates;
}

Status check_updates(const std::vector<ResourceUpdate>& updates,
                     const std::optional<oci::Resources>& current) {
  for (const auto& u : updates) {
    if (current_value(u.field, current) == u.value) continue;
    return make_error(u.field + ": cannot be changed on a running microVM");
  }
  return {};
}

namespace {

std::optional<int64_t> as_number(const std::string& v) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

const Field* field_of(std::string_view path) {
  for (const auto& f : kFields)
    if (path_of(f) == path) return &f;
  return nullptr;
}

}  // namespace

Result<LivePlan> plan_live_update(const std::vector<ResourceUpdate>& updates,
                                  const std::optional<oci::Resources>& current) {
  LivePlan plan;
  std::vector<ResourceUpdate> fixed;
  auto out_of_range = [](const ResourceUpdate& u, std::string_view range) {
    return make_error(u.field + ": " + u.value + " is out of range (" + std::string(range) + ")");
  };
  bool cpu_max = false;
  for (const auto& u : updates) {
    bool live = u.field == "memory.limit" || u.field == "cpu.quota" || u.field == "cpu.period" ||
                u.field == "cpu.shares" || u.field == "pids.limit" || u.field == "cpu.cpus";
    if (!live) {
      fixed.push_back(u);
      continue;
    }
    if (u.field == "cpu.cpus") {
      // Checked fully by the host cgroup and the shim; a list's characters here.
      if (u.value.find_first_not_of("0123456789-,") != std::string::npos || u.value.size() > 1024)
        return make_error("cpu.cpus: \"" + u.value.substr(0, 64) + "\" is not a CPU list");
      plan.cpus = u.value;
      plan.changes.push_back(u);
      continue;
    }
    auto n = as_number(u.value);
    if (!n) return make_error(u.field + ": " + u.value + " is not a number");
    if (u.field == "memory.limit") {
      // runc: -1 is no limit, which the VM's fixed RAM cannot give.
      if (*n <= 0)
        return make_error("memory.limit: " + u.value + " cannot be set on a running microVM");
      if (*n > (1ll << 50)) return out_of_range(u, "at most 2^50");
      plan.memory = static_cast<uint64_t>(*n);
    } else if (u.field == "cpu.quota") {
      // runc: 0 leaves it; negative is none.
      if (*n == 0) continue;
      if (*n > 0 && (*n < 1000 || *n > (1ll << 40))) return out_of_range(u, "1000 .. 2^40, or -1");
      plan.cpu_quota = *n < 0 ? -1 : *n;
      cpu_max = true;
    } else if (u.field == "cpu.period") {
      if (*n == 0) continue;
      if (*n < 1000 || *n > 1000000) return out_of_range(u, "1000 .. 1000000");
      plan.cpu_period = static_cast<uint64_t>(*n);
      cpu_max = true;
    } else if (u.field == "cpu.shares") {
      if (*n == 0) continue;
      if (*n < 2 || *n > 262144) return out_of_range(u, "2 .. 262144");
      plan.cpu_shares = static_cast<uint64_t>(*n);
    } else if (u.field == "pids.limit") {
      if (*n == 0) continue;
      if (*n > (1ll << 22)) return out_of_range(u, "at most 2^22, or -1");
      plan.pids_limit = *n < 0 ? -1 : *n;
    }
    plan.changes.push_back({u.field, std::to_string(*n < 0 ? -1 : *n)});
  }
  RUNVM_CHECK(check_updates(fixed, current));
  if (cpu_max) {
    // cpu.max holds both: what is not updated keeps the container's value.
    const oci::CpuResources* cpu = current && current->cpu ? &*current->cpu : nullptr;
    if (!plan.cpu_quota) plan.cpu_quota = cpu && cpu->quota && *cpu->quota > 0 ? *cpu->quota : -1;
    if (!plan.cpu_period)
      plan.cpu_period = cpu && cpu->period && *cpu->period >= 1000 && *cpu->period <= 1000000
                            ? *cpu->period
                            : 100000;
  }
  return plan;
}

void apply_updates(oci::Resources& r, const std::vector<ResourceUpdate>& updates) {
  for (const auto& u : updates) {
    auto n = as_number(u.value);
    if (u.field == "cpu.cpus" || u.field == "cpu.mems") {
      if (!r.cpu) r.cpu.emplace();
      (u.field == "cpu.cpus" ? r.cpu->cpus : r.cpu->mems) = u.value;
      continue;
    }
    if (!n) continue;
    if (u.field.starts_with("memory.")) {
      if (!r.memory) r.memory.emplace();
      if (u.field == "memory.limit") r.memory->limit = *n;
      if (u.field == "memory.reservation") r.memory->reservation = *n;
      if (u.field == "memory.swap") r.memory->swap = *n;
    } else if (u.field.starts_with("cpu.")) {
      if (!r.cpu) r.cpu.emplace();
      if (u.field == "cpu.quota") r.cpu->quota = *n;
      if (u.field == "cpu.period" && *n > 0) r.cpu->period = static_cast<uint64_t>(*n);
      if (u.field == "cpu.shares" && *n > 0) r.cpu->shares = static_cast<uint64_t>(*n);
    } else if (u.field == "pids.limit") {
      if (!r.pids) r.pids.emplace();
      r.pids->limit = *n;
    }
  }
}

std::string resources_json(const std::vector<ResourceUpdate>& base,
                           const std::vector<ResourceUpdate>& more) {
  std::vector<ResourceUpdate> all = base;
  for (const auto& u : more) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const ResourceUpdate& a) { return a.field == u.field; });
    if (it != all.end())
      it->value = u.value;
    else
      all.push_back(u);
  }
  json::Writer w;
  w.begin_object();
  for (const char* object : {"memory", "cpu", "blockIO", "pids", "intelRdt"}) {
    bool open = false;
    for (const auto& u : all) {
      const Field* f = field_of(u.field);
      if (!f || std::string_view(f->object) != object) continue;
      if (!open) w.key(object).begin_object();
      open = true;
      w.key(f->member);
      if (f->is_string)
        w.string(u.value);
      else if (auto n = as_number(u.value))
        w.integer(*n);
      else
        w.null();
    }
    if (open) w.end_object();
  }
  w.end_object();
  return w.str();
}

}  // namespace runvm::cli
