#include "spec/default_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "spec/config.h"

namespace runvm::oci {
namespace {

// `runc spec` (runc 1.1.x) on a cgroup v1 host, verbatim.
constexpr std::string_view kRuncSpec = R"({
	"ociVersion": "1.0.2-dev",
	"process": {
		"terminal": true,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"env": [
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"TERM=xterm"
		],
		"cwd": "/",
		"capabilities": {
			"bounding": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"effective": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"permitted": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			],
			"ambient": [
				"CAP_AUDIT_WRITE",
				"CAP_KILL",
				"CAP_NET_BIND_SERVICE"
			]
		},
		"rlimits": [
			{
				"type": "RLIMIT_NOFILE",
				"hard": 1024,
				"soft": 1024
			}
		],
		"noNewPrivileges": true
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hostname": "runc",
	"mounts": [
		{
			"destination": "/proc",
			"type": "proc",
			"source": "proc"
		},
		{
			"destination": "/dev",
			"type": "tmpfs",
			"source": "tmpfs",
			"options": [
				"nosuid",
				"strictatime",
				"mode=755",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/pts",
			"type": "devpts",
			"source": "devpts",
			"options": [
				"nosuid",
				"noexec",
				"newinstance",
				"ptmxmode=0666",
				"mode=0620",
				"gid=5"
			]
		},
		{
			"destination": "/dev/shm",
			"type": "tmpfs",
			"source": "shm",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"mode=1777",
				"size=65536k"
			]
		},
		{
			"destination": "/dev/mqueue",
			"type": "mqueue",
			"source": "mqueue",
			"options": [
				"nosuid",
				"noexec",
				"nodev"
			]
		},
		{
			"destination": "/sys",
			"type": "sysfs",
			"source": "sysfs",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"ro"
			]
		},
		{
			"destination": "/sys/fs/cgroup",
			"type": "cgroup",
			"source": "cgroup",
			"options": [
				"nosuid",
				"noexec",
				"nodev",
				"relatime",
				"ro"
			]
		}
	],
	"linux": {
		"resources": {
			"devices": [
				{
					"allow": false,
					"access": "rwm"
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			},
			{
				"type": "network"
			},
			{
				"type": "ipc"
			},
			{
				"type": "uts"
			},
			{
				"type": "mount"
			}
		],
		"maskedPaths": [
			"/proc/acpi",
			"/proc/asound",
			"/proc/kcore",
			"/proc/keys",
			"/proc/latency_stats",
			"/proc/timer_list",
			"/proc/timer_stats",
			"/proc/sched_debug",
			"/sys/firmware",
			"/proc/scsi"
		],
		"readonlyPaths": [
			"/proc/bus",
			"/proc/fs",
			"/proc/irq",
			"/proc/sys",
			"/proc/sysrq-trigger"
		]
	}
})";

std::vector<NamespaceType> namespace_types(const Config& c) {
  std::vector<NamespaceType> out;
  for (const Namespace& ns : c.linux_->namespaces) out.push_back(ns.type);
  return out;
}

TEST(DefaultSpec, IsRuncSpecVerbatim) {
  EXPECT_EQ(default_config_json(DefaultSpecOptions{}), kRuncSpec);
}

TEST(DefaultSpec, Parses) {
  auto c = parse_config(default_config_json(DefaultSpecOptions{}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->oci_version, "1.0.2-dev");
  EXPECT_TRUE(c->process->terminal);
  EXPECT_EQ(c->process->args, std::vector<std::string>{"sh"});
  EXPECT_TRUE(c->root.readonly);
  EXPECT_EQ(c->mounts.size(), 7u);
  EXPECT_TRUE(c->linux_->resources);
  using enum NamespaceType;
  EXPECT_EQ(namespace_types(*c), (std::vector<NamespaceType>{kPid, kNetwork, kIpc, kUts, kMount}));
}

TEST(DefaultSpec, CgroupNamespaceOnCgroup2) {
  auto c = parse_config(default_config_json(DefaultSpecOptions{.cgroup_ns = true}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(namespace_types(*c).back(), NamespaceType::kCgroup);
}

TEST(DefaultSpec, RootlessAsRuncToRootless) {
  auto c = parse_config(default_config_json(
      DefaultSpecOptions{.rootless = true, .cgroup_ns = true, .uid = 1000, .gid = 1001}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  using enum NamespaceType;
  EXPECT_EQ(namespace_types(*c),
            (std::vector<NamespaceType>{kPid, kIpc, kUts, kMount, kCgroup, kUser}));
  ASSERT_EQ(c->linux_->uid_mappings.size(), 1u);
  EXPECT_EQ(c->linux_->uid_mappings[0].container_id, 0u);
  EXPECT_EQ(c->linux_->uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(c->linux_->uid_mappings[0].size, 1u);
  EXPECT_EQ(c->linux_->gid_mappings[0].host_id, 1001u);
  EXPECT_FALSE(c->linux_->resources);
  const Mount& pts = c->mounts[2];
  EXPECT_EQ(pts.destination, "/dev/pts");
  EXPECT_EQ(std::count(pts.options.begin(), pts.options.end(), "gid=5"), 0);
  EXPECT_EQ(pts.options.size(), 5u);
  const Mount& sys = c->mounts[5];
  EXPECT_EQ(sys.destination, "/sys");
  EXPECT_EQ(sys.type, "none");
  EXPECT_EQ(sys.source, "/sys");
  EXPECT_EQ(sys.options, (std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
}

TEST(DefaultSpec, HostVariantParses) {
  for (bool rootless : {false, true}) {
    auto c = parse_config(default_config_json(rootless));
    ASSERT_TRUE(c.ok()) << c.error().message;
  }
}

}  // namespace
}  // namespace runvm::oci
