// The whole of a file as a string, for expectations and failure messages:
// "" when it cannot be read, so the expectation on it fails and says so.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

namespace runvm::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace runvm::testing
