// Tests only: a private dbus-daemon with a small fake
// org.freedesktop.systemd1 on it, for the systemd cgroup driver on hosts
// without systemd. It records StartTransientUnit, SetUnitProperties and StopUnit calls, makes
// the scope's cgroup (cgroupfs, under <base>/<slice>/<unit>, relative to the
// test's own cgroup), moves the PIDs into it, and reports each job done
// with JobRemoved, as systemd does. DBUS_SYSTEM_BUS_ADDRESS points at it
// while it lives (for this process and the runvm it starts).
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "spec/base/result.h"
#include "spec/cgroup/layout.h"

namespace runvm::cgroup {

class FakeSystemd {
 public:
  // `dir`: where the bus socket and config go. `base`: the relative cgroup
  // path scopes go under.
  static Result<std::unique_ptr<FakeSystemd>> start(const std::string& dir, Layout layout,
                                                    std::string base);
  ~FakeSystemd();

  // One entry per call: "StartTransientUnit UNIT MODE" then a line per
  // property ("PIDs=123", "Delegate=true", "MemoryMax=402653184"...);
  // "StopUnit UNIT MODE"; "SetUnitProperties UNIT RUNTIME" then its properties.
  std::vector<std::string> calls() const;
  // The relative cgroup path of a unit the fake started.
  std::string cgroup_path(const std::string& slice, const std::string& unit) const {
    return base_ + "/" + slice + "/" + unit;
  }

 private:
  FakeSystemd() = default;
  static int on_start(sd_bus_message* m, void* self, sd_bus_error* e);
  static int on_stop(sd_bus_message* m, void* self, sd_bus_error* e);
  static int on_set(sd_bus_message* m, void* self, sd_bus_error* e);
  int job_done(sd_bus_message* m, const std::string& unit);
  void serve();

  Layout layout_;
  std::string base_, socket_;
  pid_t daemon_ = -1;
  sd_bus* bus_ = nullptr;
  sd_bus_slot* slot_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  std::vector<std::pair<std::string, std::string>> units_;  // unit, slice
  uint32_t next_job_ = 1;
};

}  // namespace runvm::cgroup
