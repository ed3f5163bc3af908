#include "guest/agent/capabilities.h"

#include <sys/prctl.h>

#include <algorithm>
#include <memory>

namespace runvm::agent {
namespace {

Result<std::vector<cap_value_t>> resolve(std::string_view set,
                                         const std::vector<std::string>& names) {
  std::vector<cap_value_t> out;
  for (size_t i = 0; i < names.size(); ++i) {
    cap_value_t value;
    if (!names[i].starts_with("CAP_") || cap_from_name(names[i].c_str(), &value) != 0)
      return make_error("process.capabilities." + std::string(set) + "[" + std::to_string(i) +
                        "]: unknown capability \"" + names[i] + "\"");
    // Newer than the guest kernel: runc warns and skips these.
    if (value <= static_cast<cap_value_t>(cap_max_bits()) - 1) out.push_back(value);
  }
  return out;
}

std::string cap_name(cap_value_t c) {
  char* n = cap_to_name(c);
  std::string s = n ? n : std::to_string(c);
  cap_free(n);
  return s;
}

bool contains(const std::vector<cap_value_t>& set, cap_value_t v) {
  return std::find(set.begin(), set.end(), v) != set.end();
}

struct CapFree {
  void operator()(cap_t c) const { cap_free(c); }
};
using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

}  // namespace

Result<CapabilityPlan> resolve_capabilities(const proto::Capabilities& caps) {
  CapabilityPlan p;
  p.bounding = RUNVM_TRY(resolve("bounding", caps.bounding));
  p.effective = RUNVM_TRY(resolve("effective", caps.effective));
  p.inheritable = RUNVM_TRY(resolve("inheritable", caps.inheritable));
  p.permitted = RUNVM_TRY(resolve("permitted", caps.permitted));
  p.ambient = RUNVM_TRY(resolve("ambient", caps.ambient));
  return p;
}

Status apply_bounding_set(const CapabilityPlan& plan) {
  int last = static_cast<int>(cap_max_bits());
  for (cap_value_t c = 0; c < last; ++c) {
    if (contains(plan.bounding, c)) continue;
    if (cap_drop_bound(c) != 0)
      return errno_error("dropping " + cap_name(c) + " from the bounding set");
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return errno_error("prctl(PR_SET_KEEPCAPS)");
  return {};
}

Status apply_capabilities(const CapabilityPlan& plan) {
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return errno_error("prctl(PR_SET_KEEPCAPS)");
  CapPtr caps(cap_init());
  if (!caps) return errno_error("cap_init");
  auto set = [&](cap_flag_t flag, const std::vector<cap_value_t>& values) -> Status {
    if (!values.empty() && cap_set_flag(caps.get(), flag, static_cast<int>(values.size()),
                                        values.data(), CAP_SET) != 0)
      return errno_error("cap_set_flag");
    return {};
  };
  RUNVM_CHECK(set(CAP_EFFECTIVE, plan.effective));
  RUNVM_CHECK(set(CAP_PERMITTED, plan.permitted));
  RUNVM_CHECK(set(CAP_INHERITABLE, plan.inheritable));
  if (cap_set_proc(caps.get()) != 0) return errno_error("applying capabilities");
  if (cap_reset_ambient() != 0) return errno_error("clearing the ambient capabilities");
  // As runc: an ambient capability missing from the permitted or inheritable
  // set cannot be raised, and that is not an error.
  for (cap_value_t c : plan.ambient) (void)cap_set_ambient(c, CAP_SET);
  return {};
}

}  // namespace runvm::agent
