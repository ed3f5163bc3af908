#include "runtime/pod_member.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "spec/base/state_layout.h"
#include "spec/proc_start_time.h"
#include "tests/support/temp_dir.h"

namespace runvm::cli {
namespace {

class PodMemberTest : public ::testing::Test {
 protected:
  // A container under the root whose "shim" is this test process (alive) or
  // a pid that is not its shim (a start time that does not match).
  void add(const std::string& id, bool alive, const char* status, bool sandbox) {
    Container c{ContainerDir(root_.path(), id), {}};
    ASSERT_TRUE(c.dir.create().ok());
    c.state.id = id;
    c.state.status = oci::Status::kCreated;
    c.state.bundle = "/b";
    c.state.pid = getpid();
    c.state.shim.pid = getpid();
    c.state.shim.start_time = *oci::process_start_time(getpid()) + (alive ? 0 : 1);
    if (sandbox) c.state.shim.extra[kPodExtraKey] = kPodSandbox;
    ASSERT_TRUE(save_state(c).ok());
    std::ofstream(c.dir.file(layout::kStatusFile)) << status;
  }
  GlobalOptions g() {
    GlobalOptions o;
    o.root = root_.path();
    return o;
  }
  testing::TempDir root_{"runvm-pod"};
};

TEST_F(PodMemberTest, ShimOwnerIsTheLiveContainerWithThatShim) {
  add("dead", false, "running", true);
  EXPECT_EQ(runvm_shim_owner(root_.path(), getpid()), std::nullopt);
  add("infra", true, "running", false);
  EXPECT_EQ(runvm_shim_owner(root_.path(), getpid()), "infra");
  EXPECT_EQ(runvm_shim_owner(root_.path(), 1), std::nullopt);
  EXPECT_EQ(runvm_shim_owner(root_.path() + "/none", getpid()), std::nullopt);
}

TEST_F(PodMemberTest, RunningSandbox) {
  add("sb", true, "running", true);
  auto sb = running_sandbox(g(), "sb");
  ASSERT_TRUE(sb.ok()) << sb.error().message;
  EXPECT_EQ(sb->state.id, "sb");
  add("created", true, "created", true);
  EXPECT_TRUE(running_sandbox(g(), "created").ok());
}

TEST_F(PodMemberTest, NotARunningSandboxIsOneError) {
  add("stopped", true, "stopped", true);
  add("dead", false, "running", true);
  for (const char* id : {"stopped", "dead", "missing", "../x"}) {
    auto r = running_sandbox(g(), id);
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().message,
              "sandbox \"" + std::string(id) + "\": not a running runvm container");
  }
  add("plain", true, "running", false);
  auto plain = running_sandbox(g(), "plain");
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().message,
            "sandbox \"plain\": its VM takes no members (not created as a pod sandbox)");
}

TEST_F(PodMemberTest, ContainerPodRoleFindsTheShimUnderTheRoot) {
  add("infra", true, "running", false);
  oci::Config c;
  c.linux_.emplace();
  c.linux_->namespaces.push_back(
      {oci::NamespaceType::kIpc, "/proc/" + std::to_string(getpid()) + "/ns/ipc"});
  auto role = container_pod_role(g(), c, "m");
  ASSERT_TRUE(role.ok());
  EXPECT_EQ(*role, (PodRole{PodRole::kMember, "infra", true}));
}

TEST_F(PodMemberTest, MemberSocketsAreItsSandboxs) {
  Container m{ContainerDir(root_.path(), "m"), {}};
  EXPECT_EQ(shim_socket_of(m), m.dir.socket(layout::kShimSocket));
  m.state.shim.socket = "/r/@s/abc/shim.sock";
  EXPECT_EQ(shim_socket_of(m), "/r/@s/abc/shim.sock");
  EXPECT_EQ(vsock_socket_of(m), "/r/@s/abc/vsock.sock");
}

}  // namespace
}  // namespace runvm::cli
