// The one scratch directory for tests: a fresh directory under /tmp, removed
// with everything in it when the TempDir goes out of scope (a test that fails
// halfway leaves nothing behind either).
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace runvm::testing {

class TempDir {
 public:
  // The directory is /tmp/<prefix>-XXXXXX. mkdtemp failing throws, which
  // gtest reports as a failure of the test (or of its fixture's construction)
  // instead of letting it go on with a path that is not there.
  TempDir() : TempDir("runvm-test") {}
  explicit TempDir(std::string_view prefix) {
    std::string templ = "/tmp/" + std::string(prefix) + "-XXXXXX";
    if (!mkdtemp(templ.data()))
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
    path_ = std::move(templ);
  }
  // Moving hands the directory over: only the last owner removes it.
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }
  // The names in the directory, sorted (for "left nothing behind" checks).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(path_, ec))
      out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

}  // namespace runvm::testing
