#include "guest/initramfs/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/support/temp_dir.h"

namespace runvm::initramfs {
namespace {

namespace fs = std::filesystem;

class InitramfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = dir_ / "agent";
    for (int i = 0; i < 70000; ++i) agent_data_.push_back(static_cast<char>(i * 7 + i / 251));
    std::ofstream(agent_, std::ios::binary) << agent_data_;
  }

  static std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  runvm::testing::TempDir tmp_{"runvm-initramfs-test"};
  const fs::path dir_ = tmp_.path();
  fs::path agent_;
  std::string agent_data_;
};

struct Entry {
  mode_t type, perm;
  int64_t size, mtime;
  int64_t uid, gid;
  dev_t rmajor, rminor;
  std::string data;
};

// Reads the cpio back with libarchive, in archive order.
std::vector<std::pair<std::string, Entry>> read_back(const fs::path& p) {
  std::vector<std::pair<std::string, Entry>> out;
  archive* a = archive_read_new();
  archive_read_support_format_cpio(a);
  EXPECT_EQ(archive_read_open_filename(a, p.c_str(), 4096), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Entry x{archive_entry_filetype(e),  archive_entry_perm(e),      archive_entry_size(e),
            archive_entry_mtime(e),     archive_entry_uid(e),       archive_entry_gid(e),
            archive_entry_rdevmajor(e), archive_entry_rdevminor(e), {}};
    char buf[8192];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) x.data.append(buf, n);
    out.emplace_back(archive_entry_pathname(e), x);
  }
  EXPECT_EQ(archive_format(a), ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);  // newc
  archive_read_free(a);
  return out;
}

TEST_F(InitramfsTest, DeterministicBytes) {
  ASSERT_TRUE(build_initramfs({agent_.string()}, (dir_ / "a.cpio").string()).ok());
  // Different mtime on the input must not matter either.
  fs::last_write_time(agent_, fs::file_time_type::clock::now() - std::chrono::hours(5));
  ASSERT_TRUE(build_initramfs({agent_.string()}, (dir_ / "b.cpio").string()).ok());
  std::string a = slurp(dir_ / "a.cpio"), b = slurp(dir_ / "b.cpio");
  EXPECT_GT(a.size(), agent_data_.size());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.substr(0, 6), "070701");  // newc magic, uncompressed
}

TEST_F(InitramfsTest, ContentsReadBack) {
  auto out = dir_ / "initramfs.cpio";
  auto st = build_initramfs({agent_.string()}, out.string());
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto entries = read_back(out);
  std::vector<std::string> names;
  for (auto& [n, e] : entries) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"dev", "dev/console", "proc", "sys", "run", "tmp",
                                             "mnt", "etc", "init"}));
  std::map<std::string, Entry> by_name(entries.begin(), entries.end());
  for (auto& [n, e] : by_name) {
    EXPECT_EQ(e.mtime, 0) << n;
    EXPECT_EQ(e.uid, 0) << n;
    EXPECT_EQ(e.gid, 0) << n;
  }
  for (const char* d : {"dev", "proc", "sys", "run", "mnt", "etc"}) {
    EXPECT_EQ(by_name[d].type, AE_IFDIR) << d;
    EXPECT_EQ(by_name[d].perm, 0755u) << d;
  }
  EXPECT_EQ(by_name["tmp"].type, AE_IFDIR);
  EXPECT_EQ(by_name["tmp"].perm, 01777u);
  EXPECT_EQ(by_name["dev/console"].type, AE_IFCHR);
  EXPECT_EQ(by_name["dev/console"].rmajor, 5u);
  EXPECT_EQ(by_name["dev/console"].rminor, 1u);
  EXPECT_EQ(by_name["init"].type, AE_IFREG);
  EXPECT_EQ(by_name["init"].perm, 0755u);
  EXPECT_EQ(by_name["init"].size, static_cast<int64_t>(agent_data_.size()));
  EXPECT_EQ(by_name["init"].data, agent_data_);
  EXPECT_EQ(fs::status(out).permissions(), fs::perms(0644));
}

TEST_F(InitramfsTest, ReplacesExistingAtomicallyAndLeavesNoTemp) {
  auto out = dir_ / "initramfs.cpio";
  std::ofstream(out) << "old";
  ASSERT_TRUE(build_initramfs({agent_.string()}, out.string()).ok());
  EXPECT_EQ(read_back(out).back().second.data, agent_data_);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

TEST_F(InitramfsTest, Errors) {
  auto out = dir_ / "x.cpio";
  auto missing = build_initramfs({(dir_ / "nope").string()}, out.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
  EXPECT_FALSE(build_initramfs({dir_.string()}, out.string()).ok());  // a directory
  EXPECT_FALSE(build_initramfs({agent_.string()}, (dir_ / "no/such/dir.cpio").string()).ok());
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace runvm::initramfs
