#include "shim/container/status_file.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "spec/base/state_layout.h"
#include "tests/support/temp_dir.h"

namespace runvm {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What `runvm state` makes of the file (runtime/container.cc trims both).
std::string status_in(const std::string& dir) {
  std::string v = read(dir + "/" + layout::kStatusFile);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

TEST(StatusFile, EachWriteReplacesTheStatusAndOnlyTwoFilesExist) {
  testing::TempDir dir;
  StatusFile f(dir.path());
  for (const char* s : {"created", "running", "paused", "running", "stopped"}) {
    ASSERT_TRUE(f.write(s).ok()) << s;
    EXPECT_EQ(status_in(dir.path()), s);
    EXPECT_EQ(read(dir / layout::kStatusFile).size(), StatusFile::kSlotSize);
  }
  EXPECT_EQ(dir.entries(),
            (std::vector<std::string>{layout::kStatusFile, layout::kStatusSpareFile}));
}

TEST(StatusFile, AStatusThatDoesNotFitIsAnError) {
  testing::TempDir dir;
  StatusFile f(dir.path());
  EXPECT_FALSE(f.write(std::string(StatusFile::kSlotSize, 'x')).ok());
  EXPECT_TRUE(dir.entries().empty());
}

TEST(StatusFile, AMissingDirectoryIsAnError) {
  StatusFile f("/nonexistent/runvm-status-test");
  EXPECT_FALSE(f.write("created").ok());
}

// The regression test of docs/faults.md's disk-full cases: once the first
// status is written, changes need no new space.
TEST(StatusFile, ChangesStillLandOnAFullFilesystem) {
  testing::TempDir dir;
  if (mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "mounting a tmpfs needs CAP_SYS_ADMIN";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir.path()};
  StatusFile f(dir.path());
  ASSERT_TRUE(f.write("created").ok());
  {
    std::ofstream fill(dir / "filler", std::ios::binary);
    std::string page(4096, 'x');
    while (fill.write(page.data(), static_cast<std::streamsize>(page.size())) && fill.flush()) {
    }
  }
  // Full indeed: a new file's first byte finds no space.
  std::ofstream probe(dir / "probe", std::ios::binary);
  probe << 'x';
  probe.flush();
  ASSERT_FALSE(probe.good());
  probe.close();
  for (const char* s : {"running", "paused", "running", "stopped"}) {
    ASSERT_TRUE(f.write(s).ok()) << s;
    EXPECT_EQ(status_in(dir.path()), s);
  }
}

}  // namespace
}  // namespace runvm
