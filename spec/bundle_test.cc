#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "spec/config.h"
#include "tests/support/temp_dir.h"

namespace runvm::oci {
namespace {

namespace fs = std::filesystem;

class LoadBundle : public ::testing::Test {
 protected:
  void write_config(const std::string& text) { std::ofstream(dir_ + "/config.json") << text; }

  runvm::testing::TempDir tmp_{"runvm-bundle"};
  const std::string dir_ = tmp_.path();
};

constexpr char kConfig[] =
    R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}})";

TEST_F(LoadBundle, ResolvesRelativeRootfs) {
  fs::create_directory(dir_ + "/rootfs");
  write_config(kConfig);
  auto b = load_bundle(dir_ + "/./");
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->dir, dir_);
  EXPECT_EQ(b->rootfs, dir_ + "/rootfs");
  EXPECT_EQ(b->config.process->args, std::vector<std::string>{"sh"});
}

TEST_F(LoadBundle, RelativeBindSourceIsTheBundles) {
  fs::create_directory(dir_ + "/rootfs");
  write_config(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[
      {"destination":"/a","type":"bind","source":"data/./x"},
      {"destination":"/b","source":"/abs","options":["rbind"]},
      {"destination":"/c","type":"tmpfs","source":"tmpfs"}]})");
  auto b = load_bundle(dir_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->config.mounts[0].source, dir_ + "/data/x");
  EXPECT_EQ(b->config.mounts[1].source, "/abs");
  EXPECT_EQ(b->config.mounts[2].source, "tmpfs");  // not a bind mount: left alone
}

// Resolved once, where checked: what the shim opens later, with no
// symlink followed (pinned_path.h), is what was checked.
TEST_F(LoadBundle, BindSourcesAndTheRootfsComeBackResolved) {
  std::string real = fs::canonical(dir_).string();
  fs::create_directories(dir_ + "/real/root");
  fs::create_directory_symlink("real/root", dir_ + "/rootfs");
  fs::create_directory(dir_ + "/data");
  fs::create_directory_symlink("data", dir_ + "/link");
  write_config(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[
      {"destination":"/a","type":"bind","source":"link"},
      {"destination":"/b","type":"bind","source":")" +
               dir_ + R"(/link/"}]})");
  auto b = load_bundle(dir_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->rootfs, dir_ + "/rootfs");
  EXPECT_EQ(b->rootfs_real, real + "/real/root");
  EXPECT_EQ(b->config.mounts[0].source, real + "/data");
  EXPECT_EQ(b->config.mounts[1].source, real + "/data");
}

TEST_F(LoadBundle, RelativeBundleDirBecomesAbsolute) {
  fs::create_directory(dir_ + "/rootfs");
  write_config(kConfig);
  auto old = fs::current_path();
  fs::current_path(fs::path(dir_).parent_path());
  auto b = load_bundle(fs::path(dir_).filename());
  fs::current_path(old);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->dir, dir_);
}

TEST_F(LoadBundle, AbsoluteRootfsStays) {
  fs::create_directory(dir_ + "/elsewhere");
  write_config(R"({"ociVersion":"1.0.2","root":{"path":")" + dir_ + R"(//elsewhere/."}})");
  auto b = load_bundle(dir_);
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(b->rootfs, dir_ + "/elsewhere");
}

TEST_F(LoadBundle, MissingConfig) {
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "config.json: open: No such file or directory");
  EXPECT_EQ(b.error().code, ENOENT);
}

TEST_F(LoadBundle, ConfigIsADirectory) {
  fs::create_directory(dir_ + "/config.json");
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "config.json: not a regular file");
}

TEST_F(LoadBundle, ParseErrorIsPrefixed) {
  write_config(
      R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":[],"cwd":"/"}})");
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "config.json: process.args: must not be empty");
}

TEST_F(LoadBundle, OversizedConfig) {
  std::string big = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"pad":")";
  big += std::string(kMaxConfigSize, 'x') + "\"}";
  write_config(big);
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "config.json: larger than 10485760 bytes");
}

TEST_F(LoadBundle, MissingRootfs) {
  write_config(kConfig);
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "config.json: root.path: " + dir_ + "/rootfs: No such file or directory");
}

TEST_F(LoadBundle, RootfsNotADirectory) {
  std::ofstream(dir_ + "/rootfs") << "x";
  write_config(kConfig);
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "config.json: root.path: " + dir_ + "/rootfs: not a directory");
}

TEST_F(LoadBundle, ARelativeRootfsThatLeadsOutOfTheBundleIsRefused) {
  fs::create_directory_symlink("/", dir_ + "/rootfs");
  write_config(kConfig);
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message,
            "config.json: root.path: " + dir_ + "/rootfs resolves to /, outside the bundle");
  // Within the bundle a symlink is fine.
  fs::remove(dir_ + "/rootfs");
  fs::create_directory(dir_ + "/real");
  fs::create_directory_symlink("real", dir_ + "/rootfs");
  EXPECT_TRUE(load_bundle(dir_).ok());
}

TEST_F(LoadBundle, ARelativeBindSourceThatLeadsOutOfTheBundleIsRefused) {
  fs::create_directory(dir_ + "/rootfs");
  fs::create_symlink("/etc/passwd", dir_ + "/data");
  write_config(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[
      {"destination":"/a","type":"bind","source":"data"}]})");
  auto b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().message, "config.json: mounts[0].source: " + dir_ +
                                   "/data resolves to /etc/passwd, outside the bundle");
  // "..": out of the bundle without any symlink.
  write_config(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[
      {"destination":"/a","type":"bind","source":"../"}]})");
  b = load_bundle(dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("outside the bundle"), std::string::npos);
  // An absolute source is the caller's: followed, as runc does.
  write_config(R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[
      {"destination":"/a","type":"bind","source":")" +
               dir_ + R"(/data"}]})");
  EXPECT_TRUE(load_bundle(dir_).ok());
}

}  // namespace
}  // namespace runvm::oci
