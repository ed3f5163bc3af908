// The one way a test says it cannot run here (no guest kernel, no tool, not
// root): it skips on a developer's machine, but fails when
// RUNVM_REQUIRE_VM=1 (setup.sh test, CI), where a missing prerequisite is a
// broken set-up and a skipped test would pass silently.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

namespace runvm::testing {

// True when RUNVM_REQUIRE_VM is set to anything but "" or "0".
inline bool prerequisites_required() {
  const char* v = std::getenv("RUNVM_REQUIRE_VM");
  return v && *v && std::string_view(v) != "0";
}

}  // namespace runvm::testing

// Skips the current test (or fails it under RUNVM_REQUIRE_VM=1) unless
// `cond` holds; `what` names the missing prerequisite. Like FAIL() and
// GTEST_SKIP(), it returns from the enclosing void function (a test body or
// SetUp()).
#define RUNVM_REQUIRE(cond, what)                                             \
  do {                                                                        \
    if (!(cond)) {                                                            \
      if (::runvm::testing::prerequisites_required())                         \
        FAIL() << "missing prerequisite (RUNVM_REQUIRE_VM is set): " << what; \
      GTEST_SKIP() << "missing prerequisite: " << what;                       \
    }                                                                         \
  } while (0)

// Root, for tests that mount, mknod or change owners.
#define RUNVM_REQUIRE_ROOT(why) RUNVM_REQUIRE(::geteuid() == 0, "root privilege (" << why << ")")
