// The one scratch directory for tests: the base's TempDir (a fresh directory,
// removed with everything in it when it goes out of scope, so a test that
// fails halfway leaves nothing behind either) under /tmp, made in a
// constructor.
#pragma once

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "spec/base/temp_dir.h"

namespace runvm::testing {

class TempDir {
 public:
  // The directory is /tmp/<prefix>-XXXXXX. Failing to make it throws, which
  // gtest reports as a failure of the test (or of its fixture's construction)
  // instead of letting it go on with a path that is not there.
  TempDir() : TempDir("runvm-test") {}
  explicit TempDir(std::string_view prefix) : dir_(make(prefix)) {}

  const std::string& path() const { return dir_.path(); }
  // path() + "/" + name.
  std::string operator/(std::string_view name) const { return dir_ / name; }
  // The names in the directory, sorted (for "left nothing behind" checks).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(path(), ec))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  static runvm::TempDir make(std::string_view prefix) {
    auto dir = runvm::TempDir::create("/tmp", prefix);
    if (!dir.ok())
      throw std::system_error(dir.error().code, std::generic_category(), dir.error().message);
    return std::move(*dir);
  }
  runvm::TempDir dir_;
};

}  // namespace runvm::testing
