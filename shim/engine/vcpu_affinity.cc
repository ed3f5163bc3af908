#include "shim/engine/vcpu_affinity.h"

#include <charconv>
#include <string>

#include "spec/base/json.h"

namespace runvm {
namespace {

std::optional<unsigned> cpu_number(std::string_view s) {
  unsigned n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || n >= CPU_SETSIZE)
    return std::nullopt;
  return n;
}

}  // namespace

Result<cpu_set_t> cpu_mask_from_list(std::string_view list) {
  const std::string quoted = "\"" + std::string(list.substr(0, 64)) + "\"";
  auto bad = [&] { return make_error("cpuset " + quoted + " is not a CPU list like \"0-3,5\""); };
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (list.empty()) return bad();
  while (true) {
    size_t comma = list.find(',');
    std::string_view part = list.substr(0, comma);
    size_t dash = part.find('-');
    auto first = cpu_number(part.substr(0, dash));
    auto last = dash == std::string_view::npos ? first : cpu_number(part.substr(dash + 1));
    if (!first || !last || *last < *first) return bad();
    for (unsigned c = *first; c <= *last; ++c) CPU_SET(c, &mask);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return mask;
}

Result<std::vector<pid_t>> vcpu_threads_from_qmp(std::string_view reply_json) {
  auto doc = RUNVM_TRY(json::Document::parse(reply_json).context("query-cpus-fast"));
  auto cpus = RUNVM_TRY(doc.root().as_array().context("query-cpus-fast"));
  std::vector<pid_t> tids;
  for (const auto& cpu : cpus) {
    auto tid = RUNVM_TRY(RUNVM_TRY(cpu.at("thread-id")).as_int().context("query-cpus-fast"));
    if (tid <= 0 || tid > INT32_MAX)
      return make_error("query-cpus-fast: thread-id " + std::to_string(tid) + " out of range");
    tids.push_back(static_cast<pid_t>(tid));
  }
  if (tids.empty()) return make_error("query-cpus-fast: no vCPUs");
  return tids;
}

Status pin_threads(const std::vector<pid_t>& tids, const cpu_set_t& mask) {
  for (pid_t tid : tids)
    if (sched_setaffinity(tid, sizeof(mask), &mask) < 0)
      return errno_error("sched_setaffinity vCPU thread " + std::to_string(tid));
  return {};
}

}  // namespace runvm
