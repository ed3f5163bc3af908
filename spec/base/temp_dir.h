// A private directory made by mkdtemp and removed, with everything in it,
// when its owner goes: the scratch and throwaway state directories that must
// not outlive a command (or a test) however it ends.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "spec/base/result.h"

namespace runvm {

class TempDir {
 public:
  // Creates <parent>/<prefix>-XXXXXX (mode 0700, as mkdtemp makes it).
  static Result<TempDir> create(const std::string& parent, std::string_view prefix);

  // Moving hands the directory over: only the last owner removes it.
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace runvm
