#include "runtime/pod_role.h"

#include <gtest/gtest.h>

namespace runvm::cli {
namespace {

oci::Config with(std::map<std::string, std::string> annotations) {
  oci::Config c;
  c.annotations = std::move(annotations);
  return c;
}

std::optional<std::string> no_shims(long) { return std::nullopt; }

TEST(PodRole, NoAnnotationsNoNamespacesIsNone) {
  EXPECT_EQ(*pod_role(oci::Config{}, "c", no_shims), PodRole{});
}

TEST(PodRole, ContainerdSandboxAndMember) {
  EXPECT_EQ(*pod_role(with({{kCriContainerType, "sandbox"}, {kCriSandboxId, "p"}}), "p", no_shims),
            (PodRole{PodRole::kSandbox, ""}));
  EXPECT_EQ(
      *pod_role(with({{kCriContainerType, "container"}, {kCriSandboxId, "p"}}), "c", no_shims),
      (PodRole{PodRole::kMember, "p"}));
}

TEST(PodRole, CrioSandboxAndMember) {
  EXPECT_EQ(*pod_role(with({{kCrioContainerType, "sandbox"}}), "p", no_shims),
            (PodRole{PodRole::kSandbox, ""}));
  EXPECT_EQ(
      *pod_role(with({{kCrioContainerType, "container"}, {kCrioSandboxId, "p"}}), "c", no_shims),
      (PodRole{PodRole::kMember, "p"}));
}

TEST(PodRole, BadAnnotationsAreOneError) {
  auto unknown = pod_role(with({{kCriContainerType, "pause"}}), "c", no_shims);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message,
            "annotations: io.kubernetes.cri.container-type: unknown container type \"pause\"");
  auto no_id = pod_role(with({{kCriContainerType, "container"}}), "c", no_shims);
  ASSERT_FALSE(no_id.ok());
  EXPECT_NE(no_id.error().message.find("io.kubernetes.cri.sandbox-id is missing"),
            std::string::npos);
  auto self =
      pod_role(with({{kCrioContainerType, "container"}, {kCrioSandboxId, "c"}}), "c", no_shims);
  ASSERT_FALSE(self.ok());
  auto id_only = pod_role(with({{kCriSandboxId, "p"}}), "c", no_shims);
  ASSERT_FALSE(id_only.ok());
}

oci::Config joining(std::vector<std::string> paths) {
  oci::Config c;
  c.linux_.emplace();
  for (auto& p : paths) c.linux_->namespaces.push_back({oci::NamespaceType::kIpc, p});
  return c;
}

TEST(PodRole, NamespaceOfARunvmShimMakesAMember) {
  auto owner = [](long pid) -> std::optional<std::string> {
    if (pid == 4242) return "infra";
    return std::nullopt;
  };
  EXPECT_EQ(*pod_role(joining({"/proc/1/ns/net", "/proc/4242/ns/ipc"}), "c", owner),
            (PodRole{PodRole::kMember, "infra", true}));
  // Not a runvm shim's: no pod (the namespace paths' own checks apply).
  EXPECT_EQ(*pod_role(joining({"/proc/77/ns/ipc", "/var/run/netns/x"}), "c", owner), PodRole{});
}

TEST(PodRole, AnnotationsWinOverNamespacePaths) {
  auto c = joining({"/proc/4242/ns/ipc"});
  c.annotations = {{kCriContainerType, "sandbox"}};
  auto owner = [](long) -> std::optional<std::string> { return "infra"; };
  EXPECT_EQ(*pod_role(c, "p", owner), (PodRole{PodRole::kSandbox, ""}));
}

oci::Config podman(std::vector<std::string> args, std::string manager = "libpod") {
  oci::Config c;
  c.annotations = {{kContainerManager, manager}, {"io.podman.annotations.init", "FALSE"}};
  c.process.emplace();
  c.process->args = std::move(args);
  return c;
}

TEST(PodRole, PodmanInfraIsASandbox) {
  // As Podman 4.3 writes a pod's infra container.
  EXPECT_EQ(*pod_role(podman({"/catatonit", "-P"}), "infra", no_shims),
            (PodRole{PodRole::kSandbox, ""}));
}

TEST(PodRole, OtherPodmanContainersAreNotSandboxes) {
  // `podman run --init`, catatonit not in pause mode, another manager, no process.
  EXPECT_EQ(*pod_role(podman({"/run/podman-init", "--", "sh"}), "c", no_shims), PodRole{});
  EXPECT_EQ(*pod_role(podman({"/catatonit", "--", "sh"}), "c", no_shims), PodRole{});
  EXPECT_EQ(*pod_role(podman({"/catatonit", "-P", "x"}), "c", no_shims), PodRole{});
  EXPECT_EQ(*pod_role(podman({"catatonit", "-P"}), "c", no_shims), PodRole{});
  EXPECT_EQ(*pod_role(podman({"/catatonit", "-P"}, "cri-o"), "c", no_shims), PodRole{});
  auto no_process = podman({});
  no_process.process.reset();
  EXPECT_EQ(*pod_role(no_process, "c", no_shims), PodRole{});
  EXPECT_FALSE(is_podman_infra(oci::Config{}));
}

TEST(PodRole, PodmanMemberJoinsTheInfraShimsNamespaces) {
  auto c = podman({"httpd", "-f"});
  c.linux_.emplace();
  c.linux_->namespaces.push_back({oci::NamespaceType::kUts, "/proc/4242/ns/uts"});
  auto owner = [](long pid) -> std::optional<std::string> {
    if (pid == 4242) return "infra";
    return std::nullopt;
  };
  EXPECT_EQ(*pod_role(c, "c", owner), (PodRole{PodRole::kMember, "infra", true}));
}

// `podman pod create --infra-command /bin/sleep` (Podman 4.3's config.json,
// cgroupfs manager): no catatonit, but the pod's cgroup and no namespace of
// another container's.
TEST(PodRole, PodmanCustomInfraIsASandbox) {
  const std::string pod = "7caf4122271226c2cf0ff17461b066b5e338ba013b99b827a865a384b3738569";
  auto c = podman({"/bin/sleep"});
  c.linux_.emplace();
  c.linux_->cgroups_path = "/libpod_parent/" + pod + "/libpod-c3e60f4cf98d";
  for (auto t : {oci::NamespaceType::kPid, oci::NamespaceType::kIpc, oci::NamespaceType::kUts})
    c.linux_->namespaces.push_back({t, ""});
  c.linux_->namespaces.push_back({oci::NamespaceType::kNetwork, "/run/netns/netns-1a2b"});
  EXPECT_TRUE(is_podman_infra(c));
  EXPECT_EQ(*pod_role(c, "infra", no_shims), (PodRole{PodRole::kSandbox, ""}));
  // systemd's cgroup manager names the pod in the slice.
  c.linux_->cgroups_path = "machine-libpod_pod_" + pod + ".slice:libpod:c3e60f4cf98d";
  EXPECT_TRUE(is_podman_infra(c));
  // A member joins the infra's namespaces: not a sandbox (a member when the
  // infra is a runvm shim).
  auto m = c;
  m.linux_->namespaces.push_back({oci::NamespaceType::kUts, "/proc/4242/ns/uts"});
  EXPECT_FALSE(is_podman_infra(m));
  // A container of no pod, or of another manager: not one either.
  auto plain = c;
  plain.linux_->cgroups_path = "/libpod_parent/libpod-ff21ecc495e5";
  EXPECT_FALSE(is_podman_infra(plain));
  auto other = c;
  other.annotations[kContainerManager] = "cri-o";
  EXPECT_FALSE(is_podman_infra(other));
}

TEST(PodRole, PodmanPodCgroup) {
  const std::string pod(64, 'a');
  EXPECT_TRUE(in_podman_pod_cgroup("/libpod_parent/" + pod + "/libpod-x"));
  EXPECT_TRUE(in_podman_pod_cgroup("/" + pod + "/libpod-x"));
  EXPECT_TRUE(in_podman_pod_cgroup("user-libpod_pod_" + pod + ".slice:libpod:x"));
  EXPECT_FALSE(in_podman_pod_cgroup("/libpod_parent/" + pod + "/other-x"));
  EXPECT_FALSE(in_podman_pod_cgroup("/libpod_parent/" + pod.substr(1) + "/libpod-x"));
  EXPECT_FALSE(in_podman_pod_cgroup("/libpod_parent/" + std::string(64, 'G') + "/libpod-x"));
  EXPECT_FALSE(in_podman_pod_cgroup("machine-libpod_pod_" + pod + ":libpod:x"));
  EXPECT_FALSE(in_podman_pod_cgroup("machine-libpod_pod_abc.slice:libpod:x"));
  EXPECT_FALSE(in_podman_pod_cgroup(""));
  EXPECT_FALSE(in_podman_pod_cgroup("/libpod-x"));
  EXPECT_FALSE(in_podman_pod_cgroup(pod + "/libpod-x"));
}

TEST(PodRole, CriAnnotationsWinOverPodmanInfra) {
  auto c = podman({"/catatonit", "-P"});
  c.annotations[kCriContainerType] = "container";
  c.annotations[kCriSandboxId] = "p";
  EXPECT_EQ(*pod_role(c, "c", no_shims), (PodRole{PodRole::kMember, "p"}));
}

TEST(PodRole, ProcNsPid) {
  EXPECT_EQ(proc_ns_pid("/proc/123/ns/ipc"), 123);
  EXPECT_EQ(proc_ns_pid("/proc/self/ns/ipc"), std::nullopt);
  EXPECT_EQ(proc_ns_pid("/proc/123/ns/"), std::nullopt);
  EXPECT_EQ(proc_ns_pid("/proc/123/ns/a/b"), std::nullopt);
  EXPECT_EQ(proc_ns_pid("/proc/0123/ns/ipc"), std::nullopt);
  EXPECT_EQ(proc_ns_pid("/proc/1234567890/ns/ipc"), std::nullopt);
  EXPECT_EQ(proc_ns_pid("/proc//ns/ipc"), std::nullopt);
  EXPECT_EQ(proc_ns_pid("proc/1/ns/ipc"), std::nullopt);
}

}  // namespace
}  // namespace runvm::cli
