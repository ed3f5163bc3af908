// The rest of runc's command line on real microVMs: list, pause/resume, ps,
// events, update, checkpoint/restore, hooks, global flags and --help.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "spec/base/json.h"
#include "tests/integration/bundle_fixture.h"

namespace runvm {
namespace {

using testing::Bundle;
using testing::BundleSpec;
using testing::run_command;
using testing::runvm_binary;
using testing::TempDir;

using testing::read_file;

class CliTest : public ::testing::Test {
 protected:
  std::vector<std::string> runvm(std::vector<std::string> args) {
    auto argv = testing::runvm_argv(root_.path(), args);
    return argv;
  }
  testing::CommandResult cli(std::vector<std::string> args) { return run_command(runvm(args)); }
  // Verbs that leave a shim behind get files for stdio (it keeps what it inherits).
  int detached(const std::string& cmd) {
    std::string full;
    for (auto& a : runvm({})) full += a + " ";
    return system(
        (full + cmd + " </dev/null >>" + io_.path() + "/out 2>>" + io_.path() + "/err").c_str());
  }
  static int exit_code(const testing::CommandResult& r) {
    return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
  }
  std::string status_of(const std::string& id) {
    auto r = cli({"list", "--format", "json"});
    auto doc = json::Document::parse(r.out);
    if (!doc.ok() || !doc->root().is_array()) return "";
    auto entries = doc->root().as_array();  // keep the Result alive for the loop
    if (!entries.ok()) return "";
    for (auto& v : *entries)
      if (*(*v.at("id")).as_string() == id) return *(*v.at("status")).as_string();
    return "";
  }
  bool wait_status(const std::string& id, const std::string& want) {
    for (int i = 0; i < 100; ++i, usleep(100 * 1000))
      if (status_of(id) == want) return true;
    return false;
  }
  void expect_clean() {
    EXPECT_TRUE(root_.entries().empty());
    for (int i = 0; i < 50 && !testing::qemu_processes_mentioning(root_.path()).empty(); ++i)
      usleep(100 * 1000);
    EXPECT_TRUE(testing::qemu_processes_mentioning(root_.path()).empty());
  }
  TempDir root_, io_;
};

// Adds config.json "hooks": each hook appends "<name> <state json>" to `log`.
void add_hooks(const Bundle& b, const std::string& log, const std::vector<std::string>& kinds,
               const std::string& failing = "") {
  json::Writer w;
  w.begin_object();
  for (const auto& kind : kinds) {
    std::string script =
        "printf '" + kind + " ' >> " + log + "; cat >> " + log + "; echo >> " + log;
    if (kind == failing) script += "; echo hook-says-no >&2; exit 7";
    w.key(kind).begin_array().begin_object();
    w.key("path").string("/bin/sh");
    w.key("args").begin_array().string("sh").string("-c").string(script).end_array();
    w.end_object().end_array();
  }
  w.end_object();
  std::string config = read_file(b.dir() + "/config.json");
  config.insert(config.rfind('}'), ",\"hooks\":" + w.str());
  std::ofstream(b.dir() + "/config.json") << config;
}

TEST_F(CliTest, EveryVerbHasHelp) {
  for (const char* verb :
       {"check", "checkpoint", "create", "delete", "events", "exec", "features", "kill", "list",
        "pause", "pool", "ps", "restore", "resume", "run", "spec", "start", "state", "update"}) {
    auto r = cli({verb, "--help"});
    EXPECT_EQ(exit_code(r), 0) << verb << r.err;
    EXPECT_EQ(r.out.rfind(std::string("usage: runvm ") + verb, 0), 0u) << verb << r.out;
    EXPECT_EQ(cli({"help", verb}).out, r.out) << verb;
  }
  auto v = cli({"--version"});
  EXPECT_EQ(v.out.rfind("runvm version ", 0), 0u);
  EXPECT_NE(v.out.find("\ncommit: "), std::string::npos);
  EXPECT_NE(v.out.find("\nspec: "), std::string::npos);
}

TEST_F(CliTest, ListOfNothing) {
  EXPECT_EQ(cli({"list"}).out,
            "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n");
  EXPECT_EQ(cli({"list", "--format", "json"}).out, "null\n");
  EXPECT_EQ(cli({"list", "-q"}).out, "");
  auto bad = cli({"list", "--format", "yaml"});
  EXPECT_EQ(exit_code(bad), 1);
  EXPECT_EQ(bad.err, "runvm: list: invalid format option\n");
}

TEST_F(CliTest, CheckpointAndRestoreAreOneLineFailures) {
  for (const char* verb : {"checkpoint", "restore"}) {
    auto r = cli({verb, "--image-path", "/tmp/x", "c1"});
    EXPECT_EQ(exit_code(r), 1);
    EXPECT_EQ(r.err, std::string("runvm: ") + verb +
                         ": not supported: CRIU cannot checkpoint a microVM\n");
  }
}

TEST_F(CliTest, LogFileGetsRuncJsonAndStderrOneLine) {
  std::string log = io_.path() + "/log.json";
  auto r = run_command({runvm_binary(), "--root", root_.path(), "--log", log, "--log-format",
                        "json", "state", "nope"});
  EXPECT_EQ(exit_code(r), 1);
  // As runc: the bare line, which engines print after the runtime's name.
  EXPECT_EQ(r.err, "state nope: container does not exist\n");
  std::string line = read_file(log);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  auto doc = json::Document::parse(line);
  ASSERT_TRUE(doc.ok()) << line;
  EXPECT_EQ(*(*doc->root().at("level")).as_string(), "error");
  EXPECT_EQ(*(*doc->root().at("msg")).as_string(), "state nope: container does not exist");
  EXPECT_TRUE(doc->root().at("time").ok());

  auto unwritable = run_command({runvm_binary(), "--log", "/nonexistent/dir/log", "list"});
  EXPECT_EQ(exit_code(unwritable), 1);
  EXPECT_EQ(unwritable.err.find('\n'), unwritable.err.size() - 1) << unwritable.err;
  // Accepted for runc compatibility.
  EXPECT_EQ(exit_code(cli({"--systemd-cgroup", "--rootless", "false", "--criu", "criu", "list"})),
            0);
}

TEST_F(CliTest, LifecycleThroughListPauseResumePsEventsUpdate) {
  RUNVM_REQUIRE_VM_ASSETS();
  Bundle b({.args = {"sleep", "1000"}});
  ASSERT_EQ(detached("create -b " + b.dir() + " lc"), 0) << read_file(io_.path() + "/err");
  auto table = cli({"list"}).out;
  EXPECT_EQ(table.rfind("ID          PID         STATUS      BUNDLE", 0), 0u) << table;
  EXPECT_NE(table.find("lc          "), std::string::npos) << table;
  EXPECT_NE(table.find(" created "), std::string::npos) << table;
  EXPECT_NE(table.find(b.dir()), std::string::npos) << table;
  auto quiet = cli({"list", "-q"});
  EXPECT_EQ(quiet.out, "lc\n");
  EXPECT_EQ(quiet.err, "");  // the socket directory is not a container

  ASSERT_EQ(detached("start lc"), 0);
  EXPECT_EQ(status_of("lc"), "running");
  // Signal 0 probes, as runc's kill does.
  EXPECT_EQ(exit_code(cli({"kill", "--all", "lc", "0"})), 0);
  EXPECT_EQ(exit_code(cli({"kill", "lc", "0"})), 0);

  // ps: the shim (the container's pid) and its QEMU.
  auto state = json::Document::parse(cli({"state", "lc"}).out);
  ASSERT_TRUE(state.ok());
  int64_t pid = *(*state->root().at("pid")).as_int();
  auto ps = json::Document::parse(cli({"ps", "--format", "json", "lc"}).out);
  ASSERT_TRUE(ps.ok());
  auto pids = *ps->root().as_array();
  ASSERT_GE(pids.size(), 2u);
  bool has_shim = false;
  for (auto& p : pids) has_shim |= *p.as_int() == pid;
  EXPECT_TRUE(has_shim);
  auto table_ps = cli({"ps", "lc"});
  EXPECT_EQ(table_ps.out.rfind("UID", 0), 0u) << table_ps.out << table_ps.err;
  EXPECT_NE(table_ps.out.find("qemu-system"), std::string::npos) << table_ps.out;

  auto ev = cli({"events", "--stats", "lc"});
  ASSERT_EQ(exit_code(ev), 0) << ev.err;
  auto evdoc = json::Document::parse(ev.out);
  ASSERT_TRUE(evdoc.ok()) << ev.out;
  EXPECT_EQ(*(*evdoc->root().at("type")).as_string(), "stats");
  EXPECT_EQ(*(*evdoc->root().at("id")).as_string(), "lc");
  auto data = *evdoc->root().at("data");
  // runc's slots: the container's cgroup in the guest; runvm_host: shim and
  // QEMU, the processes ps lists.
  EXPECT_GT(*(*(*(*data.at("cpu")).at("usage")).at("total")).as_uint(), 0u);
  EXPECT_GT(*(*(*(*data.at("memory")).at("usage")).at("usage")).as_uint(), 0u);
  EXPECT_GE(*(*(*data.at("pids")).at("current")).as_uint(), 1u);
  auto host = *data.at("runvm_host");
  EXPECT_EQ(*(*host.at("processes")).as_uint(), pids.size());
  EXPECT_GT(*(*host.at("rss")).as_uint(), 1u << 20);
  EXPECT_GT(*(*(*host.at("cpu")).at("total")).as_uint(), 0u);  // TCG burns CPU
  auto stream = cli({"events", "--interval", "10ms", "--stats", "lc"});
  EXPECT_EQ(exit_code(stream), 0);
  EXPECT_EQ(exit_code(cli({"events", "--interval", "0s", "lc"})), 1);

  EXPECT_EQ(exit_code(cli({"update", "lc"})), 0);  // nothing asked: nothing to do
  // The memory limit changes live up to the boot size (2 GiB by default),
  // and so do cpu and pids; what a running VM cannot change is refused.
  auto upd = cli({"update", "--memory", "1g", "lc"});
  EXPECT_EQ(exit_code(upd), 0) << upd.err;
  auto past = cli({"update", "--memory", "4g", "lc"});
  EXPECT_EQ(exit_code(past), 1);
  EXPECT_EQ(past.err,
            "runvm: update lc: memory.limit: 4294967296 is more than the VM's boot size "
            "2147483648 (the maximum)\n");
  auto quota = cli({"update", "--cpu-quota", "50000", "lc"});
  EXPECT_EQ(exit_code(quota), 0) << quota.err;
  auto mems = cli({"update", "--cpuset-mems", "0", "lc"});
  EXPECT_EQ(exit_code(mems), 1);
  EXPECT_EQ(mems.err, "runvm: update lc: cpu.mems: cannot be changed on a running microVM\n");

  ASSERT_EQ(exit_code(cli({"pause", "lc"})), 0);
  EXPECT_EQ(status_of("lc"), "paused");
  auto again = cli({"pause", "lc"});
  EXPECT_EQ(again.err, "runvm: pause lc: container not running\n");
  // A paused guest cannot answer: the host numbers only, at once.
  auto paused = cli({"events", "--stats", "lc"});
  EXPECT_EQ(exit_code(paused), 0) << paused.err;
  EXPECT_NE(paused.out.find(R"("cpu":{"usage":{"kernel":0,"user":0})"), std::string::npos)
      << paused.out;
  EXPECT_NE(paused.out.find(R"("runvm_host":{"processes":)"), std::string::npos) << paused.out;
  ASSERT_EQ(exit_code(cli({"resume", "lc"})), 0);
  EXPECT_EQ(status_of("lc"), "running");
  EXPECT_EQ(cli({"resume", "lc"}).err, "runvm: resume lc: container not paused\n");

  ASSERT_EQ(exit_code(cli({"kill", "lc", "KILL"})), 0);
  ASSERT_TRUE(wait_status("lc", "stopped"));
  EXPECT_EQ(cli({"pause", "lc"}).err, "runvm: pause lc: container not running\n");
  EXPECT_EQ(cli({"ps", "--format", "json", "lc"}).out, "null\n");
  EXPECT_EQ(cli({"events", "--stats", "lc"}).err,
            "runvm: events lc: container with id lc is not running\n");
  EXPECT_EQ(cli({"update", "lc"}).err, "runvm: update lc: container not running\n");
  auto probe = cli({"kill", "lc", "0"});
  EXPECT_EQ(exit_code(probe), 1);
  EXPECT_EQ(probe.err, "runvm: kill lc: container not running\n");
  EXPECT_EQ(cli({"kill", "lc", "KILL"}).err, "runvm: kill lc: container not running\n");
  // runc's `kill --all` on a stopped container succeeds: nothing is left.
  auto all = cli({"kill", "--all", "lc", "KILL"});
  EXPECT_EQ(exit_code(all), 0) << all.err;
  ASSERT_EQ(exit_code(cli({"delete", "lc"})), 0);
  EXPECT_EQ(cli({"list", "--format", "json"}).out, "null\n");
  expect_clean();
}

TEST_F(CliTest, ANetworkNamespacePathIsJoinedByTheVmsHostSide) {
  RUNVM_REQUIRE_VM_ASSETS();
  // A network namespace held by a process of its own (as CNI's would be).
  pid_t holder = fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    if (unshare(CLONE_NEWNET) == 0) pause();
    _exit(1);
  }
  std::string ns = "/proc/" + std::to_string(holder) + "/ns/net";
  std::string wanted;
  for (int i = 0; i < 100; ++i, usleep(10000)) {  // until the child unshared
    wanted = std::filesystem::read_symlink(ns).string();
    if (wanted != std::filesystem::read_symlink("/proc/self/ns/net").string()) break;
  }
  Bundle b({.args = {"sleep", "1000"},
            .config_json = R"("linux":{"namespaces":[{"type":"network","path":")" + ns + "\"}]}"});
  EXPECT_EQ(detached("create -b " + b.dir() + " netns"), 0) << read_file(io_.path() + "/err");
  auto state = json::Document::parse(cli({"state", "netns"}).out);
  if (state.ok()) {
    std::string pid = std::to_string(*(*state->root().at("pid")).as_int());
    EXPECT_EQ(std::filesystem::read_symlink("/proc/" + pid + "/ns/net").string(), wanted);
  } else {
    ADD_FAILURE() << "no state";
  }
  EXPECT_EQ(exit_code(cli({"delete", "--force", "netns"})), 0);
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  expect_clean();
}

TEST_F(CliTest, HooksRunAtTheirLifecyclePointsWithState) {
  RUNVM_REQUIRE_VM_ASSETS();
  Bundle b({.args = {"sleep", "1000"}});
  std::string log = io_.path() + "/hooks.log";
  add_hooks(
      b, log,
      {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"});
  ASSERT_EQ(detached("create -b " + b.dir() + " hk"), 0) << read_file(io_.path() + "/err");
  std::string pid = std::to_string(
      *(*(*json::Document::parse(cli({"state", "hk"}).out)).root().at("pid")).as_int());
  std::string after_create = read_file(log);
  auto state_json = [&](const std::string& status) {
    return R"({"ociVersion":"1.0.2","id":"hk","status":")" + status + R"(","pid":)" + pid +
           R"(,"bundle":")" + b.dir() + "\"}\n";
  };
  std::string creating = state_json("creating");
  // prestart: "created", as the runtime spec says (runc passes "creating").
  EXPECT_EQ(after_create, "prestart " + state_json("created") + "createRuntime " + creating +
                              "createContainer " + creating);
  ASSERT_EQ(detached("start hk"), 0);
  std::string after_start = read_file(log).substr(after_create.size());
  EXPECT_NE(after_start.find("startContainer {\"ociVersion\":\"1.0.2\",\"id\":\"hk\",\"status\":"
                             "\"created\",\"pid\":" +
                             pid),
            std::string::npos)
      << after_start;
  EXPECT_NE(after_start.find("poststart {\"ociVersion\":\"1.0.2\",\"id\":\"hk\",\"status\":"
                             "\"running\""),
            std::string::npos)
      << after_start;
  EXPECT_EQ(after_start.find("poststop"), std::string::npos);
  ASSERT_EQ(exit_code(cli({"delete", "--force", "hk"})), 0);
  EXPECT_NE(read_file(log).find("poststop {\"ociVersion\":\"1.0.2\",\"id\":\"hk\",\"status\":"
                                "\"stopped\",\"bundle\""),
            std::string::npos)
      << read_file(log);
  expect_clean();
}

TEST_F(CliTest, FailingCreateRuntimeHookFailsCreateAndCleansUp) {
  RUNVM_REQUIRE_VM_ASSETS();
  Bundle b({.args = {"sleep", "1000"}});
  add_hooks(b, io_.path() + "/hooks.log", {"createRuntime"}, "createRuntime");
  ASSERT_NE(detached("create -b " + b.dir() + " bad"), 0);
  std::string err = read_file(io_.path() + "/err");
  EXPECT_EQ(err,
            "runvm: create bad: createRuntime hook #0: exit status 7, stdout: , stderr: "
            "hook-says-no\n");
  expect_clean();
}

TEST_F(CliTest, FailingPoststartHookIsAWarning) {
  RUNVM_REQUIRE_VM_ASSETS();
  Bundle b({.args = {"true"}});
  add_hooks(b, io_.path() + "/hooks.log", {"poststart"}, "poststart");
  auto r = run_command(runvm({"run", "-b", b.dir(), "ps1"}));
  EXPECT_EQ(exit_code(r), 0) << r.err;
  EXPECT_NE(r.err.find("runvm: warning: poststart hook #0: exit status 7"), std::string::npos)
      << r.err;
  expect_clean();
}

// A foreground run stands for the container: a signal sent to it reaches
// the process, whose exit is run's.
TEST_F(CliTest, ForegroundRunPassesSignalsOn) {
  RUNVM_REQUIRE_VM_ASSETS();
  Bundle b({.args = {"sh", "-c",
                     "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 1; done"}});
  std::string out = io_.path() + "/fg.out";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    dup2(fd, 1);
    auto argv = runvm({"run", "-b", b.dir(), "sig"});
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  for (int i = 0; i < 300 && read_file(out).find("ready") == std::string::npos; ++i)
    usleep(100 * 1000);
  ASSERT_NE(read_file(out).find("ready"), std::string::npos);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 9) << status;
  EXPECT_EQ(read_file(out), "ready\ngot-term\n");
  expect_clean();
}

}  // namespace
}  // namespace runvm
