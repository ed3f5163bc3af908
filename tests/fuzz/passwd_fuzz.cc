// Random bytes as a container's /etc/passwd (guest/agent/passwd.h), read
// through a file as the container's init reads it: never crashes, fails
// exactly when a line is 64 KiB or more (as runc), and the HOME it finds is
// "/" or a home field (maybe empty): no ':' and no newline.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "guest/agent/passwd.h"
#include "spec/base/unique_fd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm;
  if (size < 1) return 0;
  // The first byte picks the uid: small ones, which a passwd line names.
  const uint32_t uid = data[0] % 8;
  // Each 0xff byte followed by a count n stands for 65530 + n copies of the
  // byte after them: inputs stay within libFuzzer's default max_len and
  // still reach both sides of the 64 KiB line limit.
  static std::string content;
  content.clear();
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0xff && i + 2 < size) {
      content.append(65530 + data[i + 1] % 16, static_cast<char>(data[i + 2]));
      i += 2;
    } else {
      content.push_back(static_cast<char>(data[i]));
    }
  }
  static const int fd = ::memfd_create("passwd", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, content.data(), content.size(), 0) != static_cast<ssize_t>(content.size()) ||
      ::lseek(fd, 0, SEEK_SET) != 0)
    std::abort();
  // A memfd reads without error: a line of 64 KiB or more is the one failure.
  bool long_line = false;
  for (size_t start = 0; start <= content.size() && !long_line;) {
    size_t end = std::min(content.find('\n', start), content.size());
    long_line = end - start >= 64 * 1024;
    start = end + 1;
  }
  auto found = agent::home_from_passwd(fd, uid);
  if (found.ok() == long_line) std::abort();
  if (!found.ok()) return 0;
  const std::string& home = *found;
  if (home.find(':') != std::string::npos || home.find('\n') != std::string::npos) std::abort();
  if (home != "/" && content.find(home) == std::string_view::npos) std::abort();
  // Each line alone agrees with the reader on lines it matches.
  size_t start = 0;
  while (start <= content.size()) {
    size_t end = content.find('\n', start);
    std::string_view line =
        std::string_view(content).substr(start, end == std::string::npos ? end : end - start);
    if (auto h = agent::passwd_home(line, uid)) {
      if (*h != home) std::abort();  // the first match is the reader's answer
      break;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return 0;
}
