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

}  // namespace runvm::cli
