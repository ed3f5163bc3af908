#include "spec/state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "spec/proc_start_time.h"
#include "spec/rfc3339.h"

namespace runvm::oci {
namespace {

ContainerState sample() {
  ContainerState s;
  s.oci_version = "1.0.2-dev";
  s.id = "c1";
  s.pid = 4242;
  s.status = Status::kRunning;
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created_ns = 1700000000'123456780;
  s.annotations = {{"z", "1"}, {"a", "\"q\""}};
  s.shim.pid = 4200;
  s.shim.start_time = 987654321;
  s.shim.socket = "/run/runvm/c1/shim.sock";
  s.shim.extra = {{"vsock", "/run/runvm/c1/vsock.sock"}};
  return s;
}

TEST(Status, RoundTrips) {
  for (auto s :
       {Status::kCreating, Status::kCreated, Status::kRunning, Status::kPaused, Status::kStopped})
    EXPECT_EQ(parse_status(to_string(s)), s);
  EXPECT_EQ(to_string(Status::kPaused), "paused");
  EXPECT_FALSE(parse_status("Running"));
}

TEST(StateJson, AsRuncStatePrintsIt) {
  EXPECT_EQ(state_json(sample()),
            "{\n"
            "  \"ociVersion\": \"1.0.2-dev\",\n"
            "  \"id\": \"c1\",\n"
            "  \"pid\": 4242,\n"
            "  \"status\": \"running\",\n"
            "  \"bundle\": \"/b\",\n"
            "  \"rootfs\": \"/b/rootfs\",\n"
            "  \"created\": \"2023-11-14T22:13:20.12345678Z\",\n"
            "  \"annotations\": {\n"
            "    \"a\": \"\\\"q\\\"\",\n"
            "    \"z\": \"1\"\n"
            "  },\n"
            "  \"owner\": \"\"\n"
            "}");
}

TEST(StateJson, OmitsEmptyAnnotations) {
  ContainerState s = sample();
  s.annotations.clear();
  EXPECT_EQ(state_json(s).find("annotations"), std::string::npos);
}

TEST(HookStateJson, OciStateShape) {
  ContainerState s = sample();
  s.annotations = {{"k", "v"}};
  EXPECT_EQ(
      hook_state_json(s),
      R"({"ociVersion":"1.0.2-dev","id":"c1","status":"running","pid":4242,"bundle":"/b","annotations":{"k":"v"}})");
  s.pid = 0;
  s.annotations.clear();
  s.status = Status::kStopped;
  EXPECT_EQ(hook_state_json(s),
            R"({"ociVersion":"1.0.2-dev","id":"c1","status":"stopped","bundle":"/b"})");
}

TEST(PersistedState, RoundTrips) {
  ContainerState s = sample();
  auto back = parse_persisted_state(persisted_state_json(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);

  s.annotations.clear();
  s.shim = ShimInfo{};
  s.status = Status::kCreating;
  s.created_ns = 0;
  back = parse_persisted_state(persisted_state_json(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
}

TEST(PersistedState, Errors) {
  auto err = [](std::string_view json) {
    auto s = parse_persisted_state(json);
    return s.ok() ? std::string("(parsed)") : s.error().message;
  };
  EXPECT_EQ(err("{}"), "id: is required");
  EXPECT_EQ(err(R"({"id":"c","status":"gone","created":"1970-01-01T00:00:00Z"})"),
            R"(status: unknown status "gone")");
  EXPECT_EQ(err(R"({"id":"c","status":"created"})"), "created: is required");
  EXPECT_EQ(err(R"({"id":"c","status":"created","created":"yesterday"})"),
            R"(created: invalid RFC 3339 time "yesterday")");
  EXPECT_EQ(err(R"({"id":"c","status":"created","created":"1970-01-01T00:00:00Z","pid":-1})"),
            "pid: must be between 0 and 2147483647");
  EXPECT_EQ(
      err(R"({"id":"c","status":"created","created":"1970-01-01T00:00:00Z","runvm":{"shimPid":"1"}})"),
      "runvm.shimPid: must be an integer");
}

TEST(Rfc3339, FormatsLikeGoRFC3339Nano) {
  EXPECT_EQ(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_nano(1'500'000'000), "1970-01-01T00:00:01.5Z");
  EXPECT_EQ(format_rfc3339_nano(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(format_rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(Rfc3339, ParsesWhatItFormatsAndOffsets) {
  for (int64_t ns : {int64_t{0}, int64_t{1}, int64_t{1700000000'123456789}, int64_t{-1}})
    EXPECT_EQ(*parse_rfc3339_nano(format_rfc3339_nano(ns)), ns);
  EXPECT_EQ(*parse_rfc3339_nano("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(*parse_rfc3339_nano("1970-01-01T00:00:00.1234567891Z"), 123456789);
  for (const char* bad :
       {"", "1970-01-01", "1970-01-01T00:00:00", "1970-13-01T00:00:00Z", "1970-01-01T00:00:00.Z",
        "1970-01-01T00:00:00Zjunk", "1970-01-01T00:00:00+0100", "9999-01-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339_nano(bad).ok()) << bad;
}

TEST(ProcStartTime, ParsesField22PastTrickyComm) {
  std::string stat =
      "123 (a) b) c) S 1 123 123 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
      "98765 1000 10\n";
  EXPECT_EQ(*parse_stat_start_time(stat), 98765u);
  EXPECT_FALSE(parse_stat_start_time("123 (x) S 1 2").ok());
  EXPECT_FALSE(parse_stat_start_time("no paren").ok());
}

TEST(ProcStartTime, OwnProcessIsStableAndNonZero) {
  auto a = process_start_time(getpid());
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_GT(*a, 0u);
  EXPECT_EQ(*process_start_time(getpid()), *a);
  EXPECT_FALSE(process_start_time(-5).ok());
}

}  // namespace
}  // namespace runvm::oci
