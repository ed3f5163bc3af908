// The fixture of suites that drive `runvm` on a --root of their own: a
// runvm(args) that runs the CLI there, and the check at the end that
// nothing outlives the test (no container state, no QEMU). A container an
// early assertion abandoned is deleted, so its VM never outlives the test.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/bundle_fixture.h"

namespace runvm::testing {

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override { RUNVM_REQUIRE_VM_ASSETS(); }
  void TearDown() override {
    auto left = root_.entries();
    EXPECT_TRUE(left.empty()) << "state left under " << root_.path() << ": "
                              << (left.empty() ? std::string() : left.front());
    for (const auto& id : left) runvm({"delete", "--force", id});
    EXPECT_TRUE(qemu_processes_mentioning(root_.path()).empty()) << "QEMU left running";
  }
  CommandResult runvm(const std::vector<std::string>& args) {
    return run_command(runvm_argv(root_.path(), args));
  }
  TempDir root_, files_;
};

}  // namespace runvm::testing
