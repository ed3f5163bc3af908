#include "shim/engine/qemu_command.h"

namespace runvm {

std::string qemu_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

std::vector<std::string> qemu_command_line(const VmConfig& c, const QemuFds& fds) {
  const MachineConfig& m = c.machine;
  const std::string mem = std::to_string(m.memory_mib) + "M";
  // QEMU fills the translation cache as it translates and never gives it
  // back, so its size bounds TCG's memory beside the guest's (runvm.toml(5)).
  std::string accel = m.kvm ? "kvm" : "tcg";
  if (!m.kvm && m.tcg_tb_size_mib > 0) accel += ",tb-size=" + std::to_string(m.tcg_tb_size_mib);
  std::vector<std::string> a = {
      m.qemu,
      // acpi=off: QEMU then lists the virtio-mmio devices on the kernel
      // command line, so the guest needs no ACPI/DT probing.
      "-M",
      "microvm,acpi=off,x-option-roms=off,isa-serial=on,rtc=on",
      "-nodefaults",
      "-no-user-config",
      // Names QEMU's threads ("CPU 0/TCG"), so ps and top show which are
      // the vCPUs the cpuset pins (vcpu_affinity.h).
      "-name",
      "runvm,debug-threads=on",
      "-nographic",
      "-no-reboot",
      "-accel",
      accel,
      "-cpu",
      m.kvm ? "host" : "max",
      "-smp",
      std::to_string(m.vcpus),
      "-m",
      mem,
      // vhost-user backends map guest RAM, so it must be a shareable fd.
      "-object",
      "memory-backend-memfd,id=mem,size=" + mem + ",share=on",
      "-machine",
      "memory-backend=mem",
      // vhost-user devices only speak modern (virtio 1.x) transport.
      "-global",
      "virtio-mmio.force-legacy=false",
      // QEMU's own seccomp filter (docs/security.md): no obsolete syscalls, no
      // setuid/setgid/capset, no fork/execve, no scheduler, affinity or NUMA
      // changes. vCPU pinning needs none of these: the shim pins QEMU's
      // threads from outside (vcpu_affinity.h).
      "-sandbox",
      "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
  };
  // -kernel/-initrd/-append take their value verbatim (no option parsing).
  a.insert(a.end(), {"-kernel", m.kernel});
  if (!m.initrd.empty()) a.insert(a.end(), {"-initrd", m.initrd});
  // no_timer_check: the kernel otherwise counts timer interrupts during a
  // busy-wait at boot, and a TCG vCPU starved by a loaded host misses them
  // and panics ("IO-APIC + timer doesn't work!", 1 boot in ~100 with 12-16
  // VMs booting at once on 2 cores). QEMU's emulated timer is known good.
  std::string append = "console=ttyS0 reboot=t panic=-1 no_timer_check quiet";
  // The kernel registers 256 BSD-style (legacy) pty pairs at boot, each a
  // device node and sysfs entries: ~90 ms of a TCG boot. Nothing in the
  // guest uses them (the agent allocates ptys from devpts, /dev/ptmx).
  append += " pty.legacy_count=0";
  // Under TCG the local APIC timer never passes the kernel's calibration
  // ("APIC timer disabled due to verification failure"): the guest ticks on
  // the PIT either way, but the calibration first waits out its jiffies
  // (~250 ms of guest time, more on a loaded host). Skipping it ends in the
  // same clock event device at once. Under KVM the APIC timer works and is
  // the better one: kept.
  if (!m.kvm) append += " noapictimer";
  // Under TCG the guest's TSC is the host's, which the guest cannot
  // calibrate (host_tsc.h): given its rate, the guest keeps time with it
  // (ns resolution, no ticks lost on a loaded host, no delay-loop
  // calibration at boot). reliable: no watchdog to check it against, and
  // every vCPU reads the same host TSC.
  if (!m.kvm && m.tsc_khz > 0)
    append += " tsc_early_khz=" + std::to_string(m.tsc_khz) + " tsc=reliable";
  if (!m.cmdline_extra.empty()) append += " " + m.cmdline_extra;
  a.insert(a.end(), {"-append", append});
  // Serial through an explicit chardev so it goes to the file only: the
  // inherited console fd, which QEMU reaches as fd set 1 (-add-fd). The
  // log's path rides along as the fd's description (opaque=, never opened):
  // ps and the tests still tell which container a QEMU belongs to.
  if (fds.console >= 0)
    a.insert(
        a.end(),
        {"-add-fd",
         "fd=" + std::to_string(fds.console) + ",set=1,opaque=" + qemu_escape(c.console_log),
         "-chardev", "file,id=console,path=/dev/fdset/1,append=on", "-serial", "chardev:console"});
  else
    a.insert(a.end(), {"-serial", "none"});
  // Sockets QEMU would otherwise create or connect to by path come
  // connected: a socket chardev with fd= is an established stream.
  if (fds.qmp >= 0)
    a.insert(a.end(), {"-chardev", "socket,id=qmp,fd=" + std::to_string(fds.qmp), "-mon",
                       "chardev=qmp,mode=control"});
  for (size_t i = 0; i < c.devices.size() && i < fds.devices.size(); ++i) {
    const VhostUserDevice& d = c.devices[i];
    const std::string id = "vu" + std::to_string(i);
    a.insert(a.end(), {"-chardev", "socket,id=" + id + ",fd=" + std::to_string(fds.devices[i])});
    if (d.kind == VhostUserDevice::kVsock)
      a.insert(a.end(), {"-device", "vhost-user-vsock-device,chardev=" + id});
    else
      a.insert(a.end(), {"-device", "vhost-user-fs-device,chardev=" + id +
                                        // 1024 entries: without indirect descriptors the queue
                                        // size bounds FUSE's max_pages (QEMU's default 128 → 120).
                                        ",queue-size=1024,tag=" + qemu_escape(d.tag)});
  }
  // The container's network (shim/net): virtio-net on an inherited tap.
  // vhost=off: the tap lives in the container's namespace, and QEMU's own
  // virtio-net sets the tap's offloads from what the guest negotiates.
  for (size_t i = 0; i < c.taps.size(); ++i) {
    const std::string id = "net" + std::to_string(i);
    a.insert(a.end(),
             {"-netdev", "tap,id=" + id + ",fd=" + std::to_string(c.taps[i].fd) + ",vhost=off",
              "-device", "virtio-net-device,netdev=" + id + ",mac=" + qemu_escape(c.taps[i].mac)});
  }
  // Free page reporting: the guest tells QEMU which of its pages are free
  // (2 MiB blocks, a few seconds after they were freed) and QEMU gives them
  // back to the host (a hole punched in the memfd), so a guest sized for a
  // workload's peak costs the host what it uses now. Last, so the other
  // devices keep their virtio-mmio slots.
  a.insert(a.end(), {"-device", "virtio-balloon-device,free-page-reporting=on"});
  if (c.start_paused) a.push_back("-S");
  return a;
}

}  // namespace runvm
