#include "spec/base/temp_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <system_error>

namespace runvm {

Result<TempDir> TempDir::create(const std::string& parent, std::string_view prefix) {
  const std::string templ = parent + "/" + std::string(prefix) + "-XXXXXX";
  // mkdtemp fills in the X's even when it fails: the error names the template.
  std::string path = templ;
  if (!mkdtemp(path.data())) return errno_error("mkdtemp " + templ);
  return TempDir(std::move(path));
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace runvm
