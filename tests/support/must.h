// Set-up steps in a test that return a Result or Status: a failure is
// reported with the error's message.
#pragma once

#include <gtest/gtest.h>

#include <utility>

#include "spec/base/result.h"

namespace runvm::testing {

// The value; a failure is reported first (value() then ends the test
// binary: the rest of the test could not mean anything).
template <class T>
T must(Result<T> r) {
  if (!r.ok()) ADD_FAILURE() << r.error().message;
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

// A failed step is reported; the test goes on.
inline void must(Status s) { EXPECT_TRUE(s.ok()) << s.error().message; }

}  // namespace runvm::testing
