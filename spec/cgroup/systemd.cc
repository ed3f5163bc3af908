#include "spec/cgroup/systemd.h"

#include <systemd/sd-bus.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace runvm::cgroup {
namespace {

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
// runc waits as long for systemd to run the job.
constexpr auto kJobTimeout = std::chrono::seconds(30);

struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct SlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;
using Slot = std::unique_ptr<sd_bus_slot, SlotUnref>;

struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
};

Error sd_error(const std::string& what, int r) { return errno_error(what, -r); }

Result<Bus> connect() {
  sd_bus* b = nullptr;
  int r = sd_bus_open_system(&b);
  if (r < 0)
    return make_error(
        std::string("systemd is not running (cannot reach the system bus: ") + strerror(-r) + ")",
        -r);
  return Bus(b);
}

// JobRemoved(u id, o job, s unit, s result) for the job we wait for.
struct JobWait {
  std::string job;
  bool done = false;
  std::string result;
};

int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* w = static_cast<JobWait*>(userdata);
  uint32_t id;
  const char *job, *unit, *result;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  if (w->job == job) {
    w->done = true;
    w->result = result;
  }
  return 0;
}

// Sends `m` (a Manager method returning its job's path) and waits until
// systemd reports the job done. The match is in place before the call, so
// the signal cannot come unseen.
Status run_job(sd_bus* bus, sd_bus_message* m, const std::string& what, bool missing_ok) {
  JobWait wait;
  sd_bus_slot* raw_slot = nullptr;
  int r = sd_bus_match_signal(bus, &raw_slot, kService, kPath, kManager, "JobRemoved",
                              on_job_removed, &wait);
  if (r < 0) return sd_error(what + ": match JobRemoved", r);
  Slot slot(raw_slot);
  BusError error;
  sd_bus_message* raw_reply = nullptr;
  r = sd_bus_call(bus, m, 0, &error.e, &raw_reply);
  Message reply(raw_reply);
  if (r < 0) {
    std::string name = error.e.name ? error.e.name : "";
    if (missing_ok && name == "org.freedesktop.systemd1.NoSuchUnit") return {};
    std::string msg = error.e.message ? error.e.message : strerror(-r);
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner")
      return make_error("systemd is not running (" + msg + ")");
    return make_error(what + ": " + msg);
  }
  const char* job = nullptr;
  r = sd_bus_message_read(reply.get(), "o", &job);
  if (r < 0) return sd_error(what + ": reply", r);
  wait.job = job;
  auto deadline = std::chrono::steady_clock::now() + kJobTimeout;
  while (!wait.done) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) return sd_error(what + ": waiting for its job", r);
    if (r > 0) continue;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return make_error(what + ": systemd did not finish job " + wait.job);
    r = sd_bus_wait(bus, static_cast<uint64_t>(left.count()));
    if (r < 0 && r != -EINTR) return sd_error(what + ": waiting for its job", r);
  }
  if (wait.result != "done") return make_error(what + ": job " + wait.result);
  return {};
}

// One (sv) property. sd_bus_message_append's varargs need the C types.
template <class... A>
Status property(sd_bus_message* m, const char* name, const char* sig, A... values) {
  int r = sd_bus_message_append(m, "(sv)", name, sig, values...);
  if (r < 0) return sd_error(std::string("property ") + name, r);
  return {};
}

// A cpuset list ("0-3,8") as systemd's CPU mask: byte i bit j is CPU 8i+j.
Result<std::vector<uint8_t>> cpu_mask_bytes(std::string_view list) {
  constexpr unsigned kMaxCpu = 8192;  // systemd's CPU_SET_MAX would be far larger
  auto bad = [&] {
    return make_error("cpuset \"" + std::string(list.substr(0, 64)) + "\" is not a CPU list");
  };
  std::vector<uint8_t> bytes;
  auto number = [](std::string_view s) -> std::optional<unsigned> {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n >= kMaxCpu)
      return std::nullopt;
    return n;
  };
  while (!list.empty() || bytes.empty()) {
    size_t comma = list.find(',');
    std::string_view part = list.substr(0, comma);
    size_t dash = part.find('-');
    auto first = number(part.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : number(part.substr(dash + 1));
    if (!first || !last || *last < *first) return bad();
    if (bytes.size() < *last / 8 + 1) bytes.resize(*last / 8 + 1);
    for (unsigned c = *first; c <= *last; ++c) bytes[c / 8] |= static_cast<uint8_t>(1u << (c % 8));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
    if (list.empty()) return bad();
  }
  return bytes;
}

// One (say) property: sd_bus_message_append cannot take an array by pointer.
Status bytes_property(sd_bus_message* m, const char* name, const std::vector<uint8_t>& bytes) {
  int r = sd_bus_message_open_container(m, 'r', "sv");
  if (r >= 0) r = sd_bus_message_append(m, "s", name);
  if (r >= 0) r = sd_bus_message_open_container(m, 'v', "ay");
  if (r >= 0) r = sd_bus_message_append_array(m, 'y', bytes.data(), bytes.size());
  if (r >= 0) r = sd_bus_message_close_container(m);
  if (r >= 0) r = sd_bus_message_close_container(m);
  if (r < 0) return sd_error(std::string("property ") + name, r);
  return {};
}

// The unit properties runc sets for `limits` (memory_v1: the v1 names).
Status append_limits(sd_bus_message* m, const Limits& limits, bool memory_v1) {
  if (limits.memory_bytes) {
    uint64_t bytes =
        *limits.memory_bytes < 0 ? UINT64_MAX : static_cast<uint64_t>(*limits.memory_bytes);
    RUNVM_CHECK(property(m, memory_v1 ? "MemoryLimit" : "MemoryMax", "t", bytes));
  }
  if (limits.cpu_shares && *limits.cpu_shares > 0) {
    if (memory_v1)  // the v1 layout: systemd's CPUShares; v2: CPUWeight
      RUNVM_CHECK(property(m, "CPUShares", "t", *limits.cpu_shares));
    else
      RUNVM_CHECK(property(m, "CPUWeight", "t", cpu_weight_of_shares(*limits.cpu_shares)));
  }
  if (limits.cpu_quota_us && *limits.cpu_quota_us > 0) {
    uint64_t period = limits.cpu_period_us.value_or(100000);
    if (period == 0) period = 100000;
    // systemd counts CPU time per second, in whole 10 ms: round up, as runc.
    uint64_t per_sec = static_cast<uint64_t>(*limits.cpu_quota_us) * 1000000 / period;
    per_sec = (per_sec + 9999) / 10000 * 10000;
    RUNVM_CHECK(property(m, "CPUQuotaPerSecUSec", "t", per_sec));
  } else if (limits.cpu_quota_us && *limits.cpu_quota_us < 0) {
    // No quota: systemd's infinity (runvm update --cpu-quota -1).
    RUNVM_CHECK(property(m, "CPUQuotaPerSecUSec", "t", UINT64_MAX));
  }
  if (limits.cpu_period_us)
    RUNVM_CHECK(property(m, "CPUQuotaPeriodUSec", "t", *limits.cpu_period_us));
  // systemd has the cpuset controller on cgroup v2 only (as runc, the v1
  // layout leaves it: the vCPU threads are pinned by the shim anyway).
  if (limits.cpuset_cpus && !memory_v1)
    RUNVM_CHECK(bytes_property(
        m, "AllowedCPUs", RUNVM_TRY(cpu_mask_bytes(*limits.cpuset_cpus).context("AllowedCPUs"))));
  return {};
}

}  // namespace

Result<SystemdUnit> parse_systemd_path(std::string_view path) {
  size_t a = path.find(':');
  size_t b = a == std::string_view::npos ? a : path.find(':', a + 1);
  if (b == std::string_view::npos || path.find(':', b + 1) != std::string_view::npos)
    return make_error(
        "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd "
        "cgroups, got \"" +
        std::string(path) + "\" instead");
  SystemdUnit u;
  u.slice = std::string(path.substr(0, a));
  std::string prefix(path.substr(a + 1, b - a - 1));
  std::string name(path.substr(b + 1));
  if (name.empty()) return make_error("cgroupsPath \"" + std::string(path) + "\": no unit name");
  if (u.slice.empty()) u.slice = "system.slice";
  if (!u.slice.ends_with(".slice"))
    return make_error("cgroupsPath \"" + std::string(path) + "\": " + u.slice +
                      " is not a slice (*.slice)");
  u.unit = (prefix.empty() ? "" : prefix + "-") + name + ".scope";
  for (char c : u.slice + u.unit)
    if (!(isalnum(static_cast<unsigned char>(c)) || strchr(":-_.\\@", c)))
      return make_error("cgroupsPath \"" + std::string(path) + "\": not a valid unit name");
  return u;
}

Status start_scope(const SystemdUnit& u, pid_t pid, const Limits& limits, bool memory_v1) {
  Bus bus = RUNVM_TRY(connect());
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus.get(), &raw, kService, kPath, kManager,
                                         "StartTransientUnit");
  if (r < 0) return sd_error("StartTransientUnit", r);
  Message m(raw);
  r = sd_bus_message_append(m.get(), "ss", u.unit.c_str(), "replace");
  if (r >= 0) r = sd_bus_message_open_container(m.get(), 'a', "(sv)");
  if (r < 0) return sd_error("StartTransientUnit", r);
  std::string description = "runvm container " + u.unit;
  RUNVM_CHECK(property(m.get(), "Description", "s", description.c_str()));
  RUNVM_CHECK(property(m.get(), "Slice", "s", u.slice.c_str()));
  RUNVM_CHECK(property(m.get(), "Delegate", "b", 1));
  RUNVM_CHECK(property(m.get(), "PIDs", "au", 1, static_cast<uint32_t>(pid)));
  RUNVM_CHECK(property(m.get(), "DefaultDependencies", "b", 0));
  RUNVM_CHECK(property(m.get(), "MemoryAccounting", "b", 1));
  RUNVM_CHECK(property(m.get(), "CPUAccounting", "b", 1));
  RUNVM_CHECK(property(m.get(), "TasksAccounting", "b", 1));
  RUNVM_CHECK(append_limits(m.get(), limits, memory_v1));
  r = sd_bus_message_close_container(m.get());
  if (r >= 0) r = sd_bus_message_append(m.get(), "a(sa(sv))", 0);
  if (r < 0) return sd_error("StartTransientUnit", r);
  return run_job(bus.get(), m.get(), "systemd unit " + u.unit, false);
}

Status set_unit_limits(const std::string& unit, const Limits& limits, bool memory_v1) {
  Bus bus = RUNVM_TRY(connect());
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus.get(), &raw, kService, kPath, kManager,
                                         "SetUnitProperties");
  if (r < 0) return sd_error("SetUnitProperties", r);
  Message m(raw);
  // runtime: the change lasts as long as the transient unit does.
  r = sd_bus_message_append(m.get(), "sb", unit.c_str(), 1);
  if (r >= 0) r = sd_bus_message_open_container(m.get(), 'a', "(sv)");
  if (r < 0) return sd_error("SetUnitProperties", r);
  RUNVM_CHECK(append_limits(m.get(), limits, memory_v1));
  r = sd_bus_message_close_container(m.get());
  if (r < 0) return sd_error("SetUnitProperties", r);
  BusError error;
  sd_bus_message* raw_reply = nullptr;
  r = sd_bus_call(bus.get(), m.get(), 0, &error.e, &raw_reply);
  Message reply(raw_reply);
  if (r < 0) {
    std::string name = error.e.name ? error.e.name : "";
    std::string msg = error.e.message ? error.e.message : strerror(-r);
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner")
      return make_error("systemd is not running (" + msg + ")");
    return make_error("systemd unit " + unit + ": " + msg);
  }
  return {};
}

Status stop_unit(const std::string& unit) {
  Bus bus = RUNVM_TRY(connect());
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus.get(), &raw, kService, kPath, kManager, "StopUnit");
  if (r < 0) return sd_error("StopUnit", r);
  Message m(raw);
  r = sd_bus_message_append(m.get(), "ss", unit.c_str(), "replace");
  if (r < 0) return sd_error("StopUnit", r);
  return run_job(bus.get(), m.get(), "stop systemd unit " + unit, true);
}

}  // namespace runvm::cgroup
