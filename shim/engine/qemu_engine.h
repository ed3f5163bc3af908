// Engine implementation running QEMU's microvm machine, controlled by QMP.
#pragma once

#include <chrono>
#include <optional>

#include "shim/engine/child_process.h"
#include "shim/engine/engine.h"
#include "shim/engine/qmp.h"

namespace runvm {

class QemuEngine final : public Engine {
 public:
  static constexpr std::chrono::seconds kQuitGrace{3};

  ~QemuEngine() override = default;  // ChildProcess kills and reaps

  Status start(const VmConfig& config) override;
  Status pause() override;
  Status resume() override;
  Status set_memory(uint64_t bytes) override;
  Status set_cpuset(const std::string& cpus) override;
  Status stop() override;
  Status kill() override;
  Result<int> wait() override;
  pid_t pid() const override { return child_.pid(); }
  int pidfd() const override { return child_.pidfd(); }

  // Runs any QMP command (e.g. "query-status"); returns the reply JSON.
  Result<std::string> qmp(std::string_view cmd, std::string_view args_json = {});

 private:
  // Greets QEMU on our end of its QMP stream.
  Status connect_qmp(UniqueFd fd);
  // Pins the vCPU threads to config_.machine.cpuset (shim/engine/vcpu_affinity.h).
  Status pin_vcpus();
  // --debug: the vCPU threads' CPU time goes on each timeline line.
  void watch_vcpu_clocks();
  // One line for a failed start: how QEMU ended and its last log line.
  Error start_failure(Error cause);

  VmConfig config_;
  ChildProcess child_;
  std::optional<QmpClient> qmp_;
};

}  // namespace runvm
