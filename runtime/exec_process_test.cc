#include "runtime/exec_process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace runvm::cli {
namespace {

oci::Process bundle_process() {
  oci::Process p;
  p.args = {"sh"};
  p.env = {"PATH=/bin", "A=1"};
  p.cwd = "/srv";
  p.user.uid = 5;
  p.user.gid = 6;
  p.terminal = true;
  p.console_size = oci::ConsoleSize{24, 80};
  return p;
}

TEST(ExecProcess, FlagsShapeTheBundleProcess) {
  ExecFlags f;
  f.args = {"ls", "-l"};
  f.env = {"FOO=bar"};
  f.cwd = "/tmp";
  f.user = "1000:1001";
  f.additional_gids = {7};
  f.caps = {"CAP_NET_ADMIN"};
  f.no_new_privs = true;
  auto p = exec_process(f, bundle_process());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->args, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(p->env, (std::vector<std::string>{"PATH=/bin", "A=1", "FOO=bar"}));
  EXPECT_EQ(p->cwd, "/tmp");
  EXPECT_EQ(p->user.uid, 1000u);
  EXPECT_EQ(p->user.gid, 1001u);
  EXPECT_EQ(p->user.additional_gids, std::vector<uint32_t>{7});
  EXPECT_TRUE(p->no_new_privileges);
  EXPECT_FALSE(p->terminal) << "exec has no terminal unless -t, as runc";
  ASSERT_TRUE(p->capabilities);
  EXPECT_EQ(p->capabilities->bounding, std::vector<std::string>{"CAP_NET_ADMIN"});
  EXPECT_TRUE(p->capabilities->ambient.empty());
}

TEST(ExecProcess, DefaultsComeFromTheBundle) {
  ExecFlags f;
  f.args = {"true"};
  f.user = "42";
  auto p = exec_process(f, bundle_process());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->cwd, "/srv");
  EXPECT_EQ(p->user.uid, 42u);
  EXPECT_EQ(p->user.gid, 6u);
}

TEST(ExecProcess, BadInputIsRefused) {
  auto err = [](ExecFlags f) {
    auto p = exec_process(f, bundle_process());
    return p.ok() ? std::string("<ok>") : p.error().message;
  };
  EXPECT_EQ(err({}), "exec: no command given");
  EXPECT_EQ(err({.args = {"x"}, .user = "me"}), "invalid user \"me\"");
  EXPECT_EQ(err({.args = {"x"}, .user = "1:99999999999"}), "invalid group \"99999999999\"");
  EXPECT_EQ(err({.args = {"x"}, .cwd = "rel"}), "cwd \"rel\" must be absolute");
}

TEST(ExecProcess, ProcessFileIsTakenAsIs) {
  char tmpl[] = "/tmp/runvm-exec-process-XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string path = tmpl;
  std::ofstream(path)
      << R"({"args":["echo","hi"],"cwd":"/","env":["X=1"],"user":{"uid":3,"gid":4}})";
  auto p = exec_process({.process_file = path, .args = {"ignored"}}, bundle_process());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->args, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_EQ(p->user.uid, 3u);
  std::ofstream(path) << R"({"args":[]})";
  EXPECT_FALSE(exec_process({.process_file = path}, bundle_process()).ok());
  unlink(path.c_str());
}

}  // namespace
}  // namespace runvm::cli
