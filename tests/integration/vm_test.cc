// Boots the real guest kernel in QEMU with the real agent and talks to it
// over our vhost-user vsock backend.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <thread>

#include "guest/protocol/constants.h"
#include "guest/test_agent/transfer_client.h"
#include "guest/test_agent/transfer_stream.h"
#include "spec/base/state_layout.h"
#include "spec/base/unix_socket.h"
#include "tests/integration/vm_fixture.h"

namespace runvm {
namespace {

using testing::TempDir;

TEST(MicroVm, BootsAndAnswersThousandPings) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir dir;
  auto vm = MicroVm::boot(testing::vm_config(dir.path()));
  ASSERT_TRUE(vm.ok()) << vm.error().message;
  const auto& hello = (*vm)->hello();
  EXPECT_EQ(hello.version, proto::kProtocolVersion);
  EXPECT_NE(hello.kernel.find("runvm"), std::string::npos) << hello.kernel;
  EXPECT_GT(hello.boot_ns, 0u);
  for (int i = 0; i < 1000; ++i) {
    auto r = (*vm)->agent().ping();
    ASSERT_TRUE(r.ok()) << "ping " << i << ": " << r.error().message;
  }
  auto status = (*vm)->shutdown();
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
}

// Accepts one connection on a Unix socket and checks it carries exactly
// `expect` bytes of TransferStream(seed).
struct StreamSink {
  UniqueFd listener;
  std::thread thread;
  uint64_t received = 0;
  bool matched = true;

  StreamSink(const std::string& path, uint64_t seed) {
    auto l = listen_unix(path, {.backlog = 1});
    if (!l.ok()) {
      ADD_FAILURE() << l.error().message;
      return;
    }
    listener = std::move(*l);
    thread = std::thread([this, seed] {
      UniqueFd conn(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) return;
      test_agent::TransferStream expect(seed);
      std::vector<uint8_t> buf(1 << 20);
      ssize_t n;
      while ((n = read(conn.get(), buf.data(), buf.size())) > 0) {
        if (!expect.matches(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n))))
          matched = false;
        received += static_cast<uint64_t>(n);
      }
    });
  }
  ~StreamSink() {
    if (thread.joinable()) thread.join();
  }
};

// Bulk guest->host vsock through the test agent's "transfer" (the production
// agent has no such request).
TEST(MicroVm, GuestToHostTransferIsByteExact) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir dir;
  auto vm = MicroVm::boot(testing::test_agent_vm_config(dir.path()));
  ASSERT_TRUE(vm.ok()) << vm.error().message;
  constexpr uint64_t kBytes = 64ull << 20;
  constexpr uint32_t kPort = 5000;
  const uint64_t seed = static_cast<uint64_t>(getpid()) * 7919 + 17;
  {
    // Hybrid vsock: the guest's connection to host port P reaches <vsock>_P.
    StreamSink sink((*vm)->vsock_path() + "_" + std::to_string(kPort), seed);
    // The client's ids start at 1: this one cannot collide with them.
    test_agent::Transfer req{uint64_t{1} << 62, kPort, kBytes, seed};
    auto sent = test_agent::request_transfer((*vm)->agent().fd(), req, 30'000);
    ASSERT_TRUE(sent.ok()) << sent.error().message;
    EXPECT_EQ(*sent, kBytes);
    sink.thread.join();
    EXPECT_EQ(sink.received, kBytes);
    EXPECT_TRUE(sink.matched) << "transferred bytes differ from the stream";
  }
  ASSERT_TRUE((*vm)->agent().ping().ok());  // control channel unaffected
  ASSERT_TRUE((*vm)->shutdown().ok());
}

TEST(MicroVm, TeardownLeavesNothingBehind) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir dir;
  pid_t pid;
  {
    auto vm = MicroVm::boot(testing::vm_config(dir.path()));
    ASSERT_TRUE(vm.ok()) << vm.error().message;
    pid = (*vm)->engine().pid();
    ASSERT_TRUE(testing::process_exists(pid));
    ASSERT_TRUE((*vm)->agent().ping().ok());
    // No orderly shutdown: destruction alone must clean up.
  }
  EXPECT_FALSE(testing::process_exists(pid));
  EXPECT_TRUE(testing::qemu_processes_mentioning(dir.path()).empty());
  // Only the logs stay (they belong to the state dir's owner); no sockets.
  for (const auto& name : dir.entries())
    EXPECT_TRUE(name == layout::kConsoleLog || name == layout::kEngineLog)
        << "left behind: " << name;
}

TEST(MicroVm, EngineDeathFailsAgentCallsPromptly) {
  RUNVM_REQUIRE_VM_ASSETS();
  TempDir dir;
  auto vm = MicroVm::boot(testing::vm_config(dir.path()));
  ASSERT_TRUE(vm.ok()) << vm.error().message;
  ASSERT_EQ(kill((*vm)->engine().pid(), SIGKILL), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*vm)->agent().ping();
  EXPECT_FALSE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace runvm
