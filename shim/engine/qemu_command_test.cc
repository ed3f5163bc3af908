#include "shim/engine/qemu_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace runvm {
namespace {

using ::testing::HasSubstr;

// The value following the first (or n-th) occurrence of `flag`.
std::string after(const std::vector<std::string>& argv, const std::string& flag, int nth = 0) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag && nth-- == 0) return argv[i + 1];
  return "<absent>";
}

std::vector<std::string> all_after(const std::vector<std::string>& argv, const std::string& flag) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == flag) out.push_back(argv[i + 1]);
  return out;
}

bool has(const std::vector<std::string>& argv, const std::string& arg) {
  return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

VmConfig base_config() {
  VmConfig c;
  c.machine.kernel = "/k/vmlinux";
  c.console_log = "/run/vm/console.log";
  return c;
}

// The engine's descriptors: QMP on 5, the console (when there is one) on 6,
// vhost-user device i on 10 + i.
std::vector<std::string> line(const VmConfig& c) {
  QemuFds fds{.qmp = 5, .console = c.console_log.empty() ? -1 : 6};
  for (size_t i = 0; i < c.devices.size(); ++i) fds.devices.push_back(10 + static_cast<int>(i));
  return qemu_command_line(c, fds);
}

TEST(QemuEscape, DoublesCommas) {
  EXPECT_EQ(qemu_escape("plain"), "plain");
  EXPECT_EQ(qemu_escape("a,b,,c"), "a,,b,,,,c");
  EXPECT_EQ(qemu_escape(""), "");
}

TEST(QemuCommandLine, TcgDefaults) {
  auto a = line(base_config());
  EXPECT_EQ(a[0], "qemu-system-x86_64");
  EXPECT_EQ(after(a, "-M"), "microvm,acpi=off,x-option-roms=off,isa-serial=on,rtc=on");
  EXPECT_EQ(after(a, "-accel"), "tcg");
  EXPECT_EQ(after(a, "-cpu"), "max");
  EXPECT_EQ(after(a, "-smp"), "1");
  EXPECT_EQ(after(a, "-name"), "runvm,debug-threads=on");
  for (auto f : {"-nodefaults", "-no-user-config", "-nographic", "-no-reboot"})
    EXPECT_TRUE(has(a, f)) << f;
  EXPECT_FALSE(has(a, "-S"));
  EXPECT_FALSE(has(a, "-initrd"));
  EXPECT_EQ(after(a, "-kernel"), "/k/vmlinux");
  EXPECT_EQ(after(a, "-append"),
            "console=ttyS0 reboot=t panic=-1 no_timer_check quiet pty.legacy_count=0 noapictimer");
  EXPECT_EQ(after(a, "-global"), "virtio-mmio.force-legacy=false");
  EXPECT_EQ(after(a, "-sandbox"),
            "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
}

TEST(QemuCommandLine, TcgTranslationCacheSizeOnlyUnderTcg) {
  VmConfig c = base_config();
  c.machine.tcg_tb_size_mib = 64;
  EXPECT_EQ(after(line(c), "-accel"), "tcg,tb-size=64");
  c.machine.kvm = true;  // KVM has no translation cache: the option would be refused
  EXPECT_EQ(after(line(c), "-accel"), "kvm");
}

TEST(QemuCommandLine, KvmUsesHostCpu) {
  VmConfig c = base_config();
  c.machine.kvm = true;
  c.machine.vcpus = 4;
  auto a = line(c);
  EXPECT_EQ(after(a, "-accel"), "kvm");
  EXPECT_EQ(after(a, "-cpu"), "host");
  EXPECT_EQ(after(a, "-smp"), "4");
  // The APIC timer works under KVM: no noapictimer.
  EXPECT_EQ(after(a, "-append"),
            "console=ttyS0 reboot=t panic=-1 no_timer_check quiet pty.legacy_count=0");
}

// Under TCG the guest reads the host's TSC: its rate makes it the guest's
// clocksource. KVM's guest has kvm-clock.
TEST(QemuCommandLine, HostTscRateOnlyUnderTcg) {
  VmConfig c = base_config();
  c.machine.tsc_khz = 2596120;
  EXPECT_EQ(after(line(c), "-append"),
            "console=ttyS0 reboot=t panic=-1 no_timer_check quiet pty.legacy_count=0 noapictimer "
            "tsc_early_khz=2596120 tsc=reliable");
  c.machine.kvm = true;
  EXPECT_EQ(after(line(c), "-append"),
            "console=ttyS0 reboot=t panic=-1 no_timer_check quiet pty.legacy_count=0");
}

TEST(QemuCommandLine, GuestRamIsSharedMemfdOfConfiguredSize) {
  VmConfig c = base_config();
  c.machine.memory_mib = 512;
  auto a = line(c);
  EXPECT_EQ(after(a, "-m"), "512M");
  EXPECT_EQ(after(a, "-object"), "memory-backend-memfd,id=mem,size=512M,share=on");
  EXPECT_EQ(after(a, "-machine"), "memory-backend=mem");
}

TEST(QemuCommandLine, KernelInitrdAndExtraCmdline) {
  VmConfig c = base_config();
  c.machine.initrd = "/k/initrd.img";
  c.machine.cmdline_extra = "runvm.port=1024 init=/init";
  auto a = line(c);
  EXPECT_EQ(after(a, "-initrd"), "/k/initrd.img");
  EXPECT_EQ(after(a, "-append"),
            "console=ttyS0 reboot=t panic=-1 no_timer_check quiet pty.legacy_count=0 noapictimer "
            "runvm.port=1024 init=/init");
}

TEST(QemuCommandLine, SerialGoesToTheInheritedConsoleFdOnly) {
  auto a = line(base_config());
  EXPECT_EQ(after(a, "-serial"), "chardev:console");
  EXPECT_EQ(after(a, "-add-fd"), "fd=6,set=1,opaque=/run/vm/console.log");
  EXPECT_THAT(all_after(a, "-chardev"),
              ::testing::Contains("file,id=console,path=/dev/fdset/1,append=on"));
  VmConfig quiet = base_config();
  quiet.console_log.clear();
  EXPECT_EQ(after(line(quiet), "-serial"), "none");
}

TEST(QemuCommandLine, QmpIsAControlMonitorOnAnInheritedStream) {
  auto a = line(base_config());
  EXPECT_THAT(all_after(a, "-chardev"), ::testing::Contains("socket,id=qmp,fd=5"));
  EXPECT_EQ(after(a, "-mon"), "chardev=qmp,mode=control");
}

TEST(QemuCommandLine, VhostUserDevices) {
  VmConfig c = base_config();
  c.devices.push_back({VhostUserDevice::kVsock, "/run/vm/vsock.sock", 7, ""});
  c.devices.push_back({VhostUserDevice::kFs, "/run/vm/fs.sock", 3, "rootfs"});
  auto a = line(c);
  auto chardevs = all_after(a, "-chardev");
  // Connected by the engine: QEMU opens no socket path.
  EXPECT_THAT(chardevs, ::testing::Contains("socket,id=vu0,fd=10"));
  EXPECT_THAT(chardevs, ::testing::Contains("socket,id=vu1,fd=11"));
  auto devices = all_after(a, "-device");
  ASSERT_EQ(devices.size(), 3u);
  // The guest CID comes from the backend's config space, not the command line.
  EXPECT_EQ(devices[0], "vhost-user-vsock-device,chardev=vu0");
  EXPECT_EQ(devices[1], "vhost-user-fs-device,chardev=vu1,queue-size=1024,tag=rootfs");
  EXPECT_EQ(devices[2], "virtio-balloon-device,free-page-reporting=on");
}

TEST(QemuCommandLine, BalloonReportsFreePagesLast) {
  auto a = line(base_config());
  auto devices = all_after(a, "-device");
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices.back(), "virtio-balloon-device,free-page-reporting=on");
}

TEST(QemuCommandLine, CommasInOptionValuesAreEscaped) {
  VmConfig c = base_config();
  c.machine.kernel = "/k,1/vm linux";
  c.console_log = "/a b,c/console.log";
  c.devices.push_back({VhostUserDevice::kFs, "/a,b/fs.sock", 3, "tag,x"});
  auto a = line(c);
  EXPECT_EQ(after(a, "-add-fd"), "fd=6,set=1,opaque=/a b,,c/console.log");
  // -kernel is taken verbatim by QEMU: no escaping there.
  EXPECT_EQ(after(a, "-kernel"), "/k,1/vm linux");
  EXPECT_EQ(after(a, "-device"), "vhost-user-fs-device,chardev=vu0,queue-size=1024,tag=tag,,x");
}

TEST(QemuCommandLine, TapsAreVirtioNetDevicesOnInheritedFds) {
  VmConfig c = base_config();
  EXPECT_EQ(after(line(c), "-netdev"), "<absent>");  // loopback only
  c.taps = {{7, "02:42:0a:58:00:05"}, {12, "02:00:00:00:00:01"}};
  auto argv = line(c);
  EXPECT_EQ(all_after(argv, "-netdev"), (std::vector<std::string>{"tap,id=net0,fd=7,vhost=off",
                                                                  "tap,id=net1,fd=12,vhost=off"}));
  auto devices = all_after(argv, "-device");
  EXPECT_TRUE(has(devices, "virtio-net-device,netdev=net0,mac=02:42:0a:58:00:05"));
  EXPECT_TRUE(has(devices, "virtio-net-device,netdev=net1,mac=02:00:00:00:00:01"));
}

TEST(QemuCommandLine, StartPausedAddsDashS) {
  VmConfig c = base_config();
  c.start_paused = true;
  EXPECT_TRUE(has(line(c), "-S"));
}

TEST(QemuCommandLine, CustomBinary) {
  VmConfig c = base_config();
  c.machine.qemu = "/opt/qemu/bin/qemu-system-x86_64";
  EXPECT_EQ(line(c)[0], "/opt/qemu/bin/qemu-system-x86_64");
}

}  // namespace
}  // namespace runvm
