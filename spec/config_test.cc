#include "spec/config.h"

#include <gtest/gtest.h>

#include <string>

namespace runvm::oci {
namespace {

// A minimal valid config with `members` added to the top-level object.
std::string with(std::string_view members) {
  std::string s = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"})";
  if (!members.empty()) s += "," + std::string(members);
  return s + "}";
}

// A config whose process has `members` besides args and cwd.
std::string with_process(std::string_view members) {
  std::string p = R"("process":{"args":["sh"],"cwd":"/")";
  if (!members.empty()) p += "," + std::string(members);
  return with(p + "}");
}

std::string error_of(const std::string& json) {
  auto c = parse_config(json);
  if (c.ok()) return "(parsed)";
  return c.error().message;
}

TEST(ParseConfig, MinimalHasDefaults) {
  auto c = parse_config(with(""));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->oci_version, "1.0.2");
  EXPECT_EQ(c->root.path, "rootfs");
  EXPECT_FALSE(c->root.readonly);
  EXPECT_FALSE(c->process.has_value());
  EXPECT_FALSE(c->linux_.has_value());
  EXPECT_TRUE(c->mounts.empty());
}

TEST(ParseConfig, NullMeansAbsentAndUnknownFieldsAreIgnored) {
  auto c = parse_config(with(
      R"("hostname":null,"mounts":null,"linux":null,"vm":{"hypervisor":1},"process":{"args":["x"],"cwd":"/","env":null,"user":{"uid":5,"x":[]},"terminal":null})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hostname, "");
  EXPECT_FALSE(c->linux_.has_value());
  ASSERT_TRUE(c->process.has_value());
  EXPECT_EQ(c->process->user.uid, 5u);
  EXPECT_FALSE(c->process->terminal);
  EXPECT_TRUE(c->process->env.empty());
}

TEST(ParseConfig, Process) {
  auto c = parse_config(with_process(
      R"("terminal":true,"consoleSize":{"height":24,"width":80},
         "user":{"uid":1000,"gid":1001,"umask":18,"additionalGids":[5,4294967295]},
         "env":["A=1","EMPTY="],"capabilities":{"bounding":["CAP_KILL"],"ambient":[]},
         "rlimits":[{"type":"RLIMIT_NOFILE","hard":18446744073709551615,"soft":1024}],
         "noNewPrivileges":true,"apparmorProfile":"p","selinuxLabel":"l","oomScoreAdj":-1000,
         "scheduler":{"policy":"SCHED_FIFO","priority":10,"flags":["SCHED_FLAG_RESET_ON_FORK"]},
         "ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":7})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  const Process& p = *c->process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->height, 24u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, UINT32_MAX}));
  EXPECT_EQ(p.env, (std::vector<std::string>{"A=1", "EMPTY="}));
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding, std::vector<std::string>{"CAP_KILL"});
  EXPECT_TRUE(p.capabilities->effective.empty());
  ASSERT_EQ(p.rlimits.size(), 1u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, UINT64_MAX);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.apparmor_profile, "p");
  EXPECT_EQ(p.selinux_label, "l");
  EXPECT_EQ(p.oom_score_adj, -1000);
  ASSERT_TRUE(p.scheduler);
  EXPECT_EQ(p.scheduler->policy, "SCHED_FIFO");
  EXPECT_EQ(p.scheduler->priority, 10);
  EXPECT_EQ(p.scheduler->flags, std::vector<std::string>{"SCHED_FLAG_RESET_ON_FORK"});
  ASSERT_TRUE(p.io_priority);
  EXPECT_EQ(p.io_priority->io_class, "IOPRIO_CLASS_IDLE");
  EXPECT_EQ(p.io_priority->priority, 7);
}

TEST(ParseConfig, MountsHooksAnnotations) {
  auto c = parse_config(with(
      R"("hostname":"h","domainname":"d",
         "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                   {"destination":"/data","type":"bind","source":"/srv","options":["rbind","ro"]}],
         "hooks":{"prestart":[{"path":"/bin/a"}],
                  "createRuntime":[{"path":"/bin/b","args":["b","1"],"env":["X=y"],"timeout":5}],
                  "poststop":[{"path":"/bin/c"},{"path":"/bin/d"}]},
         "annotations":{"b":"2","a":"1"})"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hostname, "h");
  EXPECT_EQ(c->domainname, "d");
  ASSERT_EQ(c->mounts.size(), 2u);
  EXPECT_EQ(c->mounts[1].destination, "/data");
  EXPECT_EQ(c->mounts[1].type, "bind");
  EXPECT_EQ(c->mounts[1].source, "/srv");
  EXPECT_EQ(c->mounts[1].options, (std::vector<std::string>{"rbind", "ro"}));
  EXPECT_TRUE(c->mounts[0].options.empty());
  ASSERT_EQ(c->hooks.prestart.size(), 1u);
  ASSERT_EQ(c->hooks.create_runtime.size(), 1u);
  const Hook& h = c->hooks.create_runtime[0];
  EXPECT_EQ(h.path, "/bin/b");
  EXPECT_EQ(h.args, (std::vector<std::string>{"b", "1"}));
  EXPECT_EQ(h.env, std::vector<std::string>{"X=y"});
  EXPECT_EQ(h.timeout, 5);
  EXPECT_FALSE(c->hooks.prestart[0].timeout);
  EXPECT_EQ(c->hooks.poststop.size(), 2u);
  EXPECT_TRUE(c->hooks.create_container.empty());
  EXPECT_EQ(c->annotations, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
}

struct ErrorCase {
  std::string json;
  std::string error;
  friend void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.json; }
};

class ConfigErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrors, NamesThePath) {
  std::string got = error_of(GetParam().json);
  EXPECT_EQ(got, GetParam().error) << GetParam().json;
  EXPECT_EQ(got.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    TopLevel, ConfigErrors,
    testing::Values(
        ErrorCase{"[]", "must be a JSON object"},
        ErrorCase{"{", "invalid JSON: parse error: premature EOF"},
        ErrorCase{std::string(100, '[') + std::string(100, ']'),
                  "invalid JSON: nested deeper than 64 levels"},
        ErrorCase{R"({"root":{"path":"r"}})", "ociVersion: is required"},
        ErrorCase{R"({"ociVersion":null,"root":{"path":"r"}})", "ociVersion: is required"},
        ErrorCase{R"({"ociVersion":1,"root":{"path":"r"}})", "ociVersion: must be a string"},
        ErrorCase{R"({"ociVersion":"","root":{"path":"r"}})", "ociVersion: must not be empty"},
        ErrorCase{R"({"ociVersion":"1.0.2"})", "root: is required"},
        ErrorCase{R"({"ociVersion":"1.0.2","root":"rootfs"})", "root: must be an object"},
        ErrorCase{R"({"ociVersion":"1.0.2","root":{}})", "root.path: is required"},
        ErrorCase{R"({"ociVersion":"1.0.2","root":{"path":""}})", "root.path: must not be empty"},
        ErrorCase{R"({"ociVersion":"1.0.2","root":{"path":"r","readonly":"yes"}})",
                  "root.readonly: must be a boolean"},
        ErrorCase{with(R"("hostname":5)"), "hostname: must be a string"},
        ErrorCase{with(R"("mounts":{})"), "mounts: must be an array"},
        ErrorCase{
            with(R"("mounts":[{"destination":"/a"},{"destination":"/b"},{"destination":"c"}])"),
            "mounts[2].destination: must be an absolute path"},
        ErrorCase{with(R"("mounts":[{"type":"tmpfs"}])"), "mounts[0].destination: is required"},
        ErrorCase{with(R"("mounts":[{"destination":"/a","options":["ro",1]}])"),
                  "mounts[0].options[1]: must be a string"},
        ErrorCase{with(R"("annotations":{"a":"1","b":2})"),
                  R"(annotations["b"]: must be a string)"},
        ErrorCase{with(R"("annotations":{"x\ny":true})"),
                  R"(annotations["x\x0ay"]: must be a string)"},
        ErrorCase{with(R"("annotations":[])"), "annotations: must be an object"},
        ErrorCase{with(R"("hooks":[])"), "hooks: must be an object"},
        ErrorCase{with(R"("hooks":{"poststart":[{"path":"rel"}]})"),
                  "hooks.poststart[0].path: must be an absolute path"},
        ErrorCase{with(R"("hooks":{"createContainer":[{"args":[]}]})"),
                  "hooks.createContainer[0].path: is required"},
        ErrorCase{with(R"("hooks":{"prestart":[{"path":"/a","timeout":0}]})"),
                  "hooks.prestart[0].timeout: must be greater than zero"},
        ErrorCase{with(R"("hooks":{"prestart":[{"path":"/a","timeout":1.5}]})"),
                  "hooks.prestart[0].timeout: must be an integer"},
        ErrorCase{with(R"("hooks":{"startContainer":[{"path":"/a","env":["NOEQUALS"]}]})"),
                  "hooks.startContainer[0].env[0]: must be of the form KEY=VALUE"}));

INSTANTIATE_TEST_SUITE_P(
    Process, ConfigErrors,
    testing::Values(
        ErrorCase{with(R"("process":[])"), "process: must be an object"},
        ErrorCase{with(R"("process":{"cwd":"/"})"), "process.args: is required"},
        ErrorCase{with(R"("process":{"args":[],"cwd":"/"})"), "process.args: must not be empty"},
        ErrorCase{with(R"("process":{"args":"sh","cwd":"/"})"), "process.args: must be an array"},
        ErrorCase{with(R"("process":{"args":["sh",3],"cwd":"/"})"),
                  "process.args[1]: must be a string"},
        ErrorCase{with(R"("process":{"args":["sh"]})"), "process.cwd: is required"},
        ErrorCase{with(R"("process":{"args":["sh"],"cwd":"tmp"})"),
                  "process.cwd: must be an absolute path"},
        ErrorCase{with(R"("process":{"args":["sh"],"cwd":""})"),
                  "process.cwd: must be an absolute path"},
        ErrorCase{with_process(R"("env":["A=1","B=2","C=3","=x"])"),
                  "process.env[3]: must be of the form KEY=VALUE"},
        ErrorCase{with_process(R"("env":["PATH"])"),
                  "process.env[0]: must be of the form KEY=VALUE"},
        ErrorCase{with_process(R"("terminal":1)"), "process.terminal: must be a boolean"},
        ErrorCase{with_process(R"("user":{"uid":-1})"),
                  "process.user.uid: must be a non-negative integer"},
        ErrorCase{with_process(R"("user":{"gid":4294967296})"),
                  "process.user.gid: must be at most 4294967295"},
        ErrorCase{with_process(R"("user":{"umask":512})"),
                  "process.user.umask: must be at most 511"},
        ErrorCase{with_process(R"("user":{"additionalGids":[1,"2"]})"),
                  "process.user.additionalGids[1]: must be a non-negative integer"},
        ErrorCase{with_process(R"("consoleSize":{"height":1.5})"),
                  "process.consoleSize.height: must be a non-negative integer"},
        ErrorCase{with_process(R"("capabilities":{"bounding":"CAP_KILL"})"),
                  "process.capabilities.bounding: must be an array"},
        ErrorCase{with_process(R"("rlimits":[{"hard":1}])"),
                  "process.rlimits[0].type: is required"},
        ErrorCase{with_process(R"("rlimits":[{"type":"RLIMIT_CORE","soft":-1}])"),
                  "process.rlimits[0].soft: must be a non-negative integer"},
        ErrorCase{with_process(R"("oomScoreAdj":1001)"),
                  "process.oomScoreAdj: must be between -1000 and 1000"},
        ErrorCase{with_process(R"("scheduler":{"nice":1})"),
                  "process.scheduler.policy: is required"},
        ErrorCase{with_process(R"("scheduler":{"policy":"SCHED_FAST"})"),
                  R"(process.scheduler.policy: unknown policy "SCHED_FAST")"},
        ErrorCase{with_process(R"("scheduler":{"policy":"SCHED_RR","nice":20})"),
                  "process.scheduler.nice: must be between -20 and 19"},
        ErrorCase{with_process(R"("scheduler":{"policy":"SCHED_RR","flags":["X"]})"),
                  R"(process.scheduler.flags[0]: unknown flag "X")"},
        ErrorCase{with_process(R"("ioPriority":{"class":"IOPRIO_CLASS_NONE"})"),
                  R"(process.ioPriority.class: unknown class "IOPRIO_CLASS_NONE")"},
        ErrorCase{with_process(R"("ioPriority":{"class":"IOPRIO_CLASS_BE","priority":8})"),
                  "process.ioPriority.priority: must be between 0 and 7"}));

TEST(EffectiveEnv, AddsDefaultPathWhenMissing) {
  EXPECT_EQ(effective_env({"A=1"}),
            (std::vector<std::string>{"A=1", "PATH=" + std::string(kDefaultPath)}));
  EXPECT_EQ(effective_env({}), std::vector<std::string>{"PATH=" + std::string(kDefaultPath)});
}

TEST(EffectiveEnv, KeepsGivenPathAndLastDuplicateWins) {
  EXPECT_EQ(effective_env({"PATH=/bin", "A=1", "B=2", "A=3", "PATHX=1"}),
            (std::vector<std::string>{"PATH=/bin", "A=3", "B=2", "PATHX=1"}));
  EXPECT_EQ(effective_env({"PATH="}), std::vector<std::string>{"PATH="});
}

TEST(NamespaceType, RoundTrips) {
  for (auto t :
       {NamespaceType::kPid, NamespaceType::kNetwork, NamespaceType::kMount, NamespaceType::kIpc,
        NamespaceType::kUts, NamespaceType::kUser, NamespaceType::kCgroup, NamespaceType::kTime})
    EXPECT_EQ(parse_namespace_type(to_string(t)), t);
  EXPECT_FALSE(parse_namespace_type("net"));
}

}  // namespace
}  // namespace runvm::oci
