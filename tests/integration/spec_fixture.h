// The fixture of the OCI spec tests (spec_test.cc, spec_guest_test.cc):
// `runvm run` of a bundle under a private --root, and the check that a
// refusal is one line with nothing left behind.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <string>

#include "tests/integration/bundle_fixture.h"

namespace runvm::testing {

class SpecTest : public ::testing::Test {
 protected:
  void SetUp() override { RUNVM_REQUIRE_VM_ASSETS(); }
  CommandResult run(const Bundle& b, const std::string& id) {
    return run_command({runvm_binary(), "--root", root_.path(), "run", "-b", b.dir(), id});
  }
  // A run that must succeed; returns its stdout.
  std::string run_ok(const BundleSpec& spec, const std::string& id) {
    Bundle b(spec);
    auto r = run(b, id);
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << r.status << ": " << r.err;
    return r.out;
  }
  // A run that must be refused with exactly one line containing `message`,
  // leaving no state and no VM.
  void expect_refused(const BundleSpec& spec, const std::string& id, const std::string& message) {
    Bundle b(spec);
    auto r = run(b, id);
    ASSERT_TRUE(WIFEXITED(r.status)) << r.status;
    EXPECT_EQ(WEXITSTATUS(r.status), 1);
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(root_.entries().empty());
    EXPECT_TRUE(qemu_processes_mentioning(root_.path()).empty());
  }
  TempDir root_;
};

}  // namespace runvm::testing
