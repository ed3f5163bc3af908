#include "guest/protocol/messages.h"

#include <gtest/gtest.h>

#include "guest/protocol/constants.h"

namespace runvm::proto {
namespace {

template <class V>
std::string error_of(const Result<V>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

TEST(Messages, HostMessagesRoundTrip) {
  HostMessage msgs[] = {Ping{7}, Ping{UINT64_MAX}, Shutdown{9}};
  for (const auto& m : msgs) {
    auto back = parse_host_message(to_json(m));
    ASSERT_TRUE(back.ok()) << error_of(back);
    EXPECT_EQ(*back, m);
  }
}

TEST(Messages, AgentMessagesRoundTrip) {
  AgentMessage msgs[] = {Hello{kProtocolVersion, "0.1.0 abc", 123456789, "6.1.0"}, Pong{1}, Ok{3},
                         ErrorReply{4, "boom"}};
  for (const auto& m : msgs) {
    auto back = parse_agent_message(to_json(m));
    ASSERT_TRUE(back.ok()) << error_of(back);
    EXPECT_EQ(*back, m);
  }
}

TEST(Messages, WireFormat) {
  EXPECT_EQ(to_json(Ping{5}), R"({"type":"ping","id":5})");
  EXPECT_EQ(to_json(Hello{1, "v", 10, "k"}),
            R"({"type":"hello","version":1,"agent":"v","boot_ns":10,"kernel":"k"})");
  EXPECT_EQ(to_json(ErrorReply{3, "no \"x\""}), R"({"type":"error","id":3,"message":"no \"x\""})");
}

TEST(Messages, UnknownFieldsIgnoredFieldOrderFree) {
  auto m = parse_host_message(R"({"id":3,"extra":{"a":[1]},"type":"ping"})");
  ASSERT_TRUE(m.ok()) << error_of(m);
  EXPECT_EQ(std::get<Ping>(*m).id, 3u);
}

TEST(Messages, ErrorsNameThePath) {
  EXPECT_EQ(error_of(parse_host_message(R"({"type":"ping"})")), "id: is required");
  EXPECT_EQ(error_of(parse_host_message(R"({"type":"ping","id":"1"})")),
            "id: must be a non-negative integer");
  EXPECT_EQ(error_of(parse_host_message(R"({"type":"ping","id":-1})")),
            "id: must be a non-negative integer");
  EXPECT_EQ(error_of(parse_agent_message(R"({"type":"hello","version":4294967296,)"
                                         R"("agent":"a","boot_ns":1,"kernel":"k"})")),
            "version: must fit in 32 bits");
  EXPECT_EQ(error_of(parse_host_message(R"({"id":1})")), "type: is required");
  EXPECT_EQ(error_of(parse_host_message(R"({"type":7})")), "type: must be a string");
}

// The test agent's "transfer" (guest/test_agent) is not part of the protocol.
TEST(Messages, TestExtensionTypesRejected) {
  EXPECT_EQ(
      error_of(parse_host_message(R"({"type":"transfer","id":1,"port":9,"bytes":1,"seed":0})")),
      "type: unknown message type \"transfer\"");
  EXPECT_EQ(error_of(parse_agent_message(R"({"type":"transfer_done","id":1,"bytes":1})")),
            "type: unknown message type \"transfer_done\"");
}

TEST(Messages, UnknownOrWrongDirectionTypeRejected) {
  EXPECT_EQ(error_of(parse_host_message(R"({"type":"launch","id":1})")),
            "type: unknown message type \"launch\"");
  EXPECT_FALSE(parse_host_message(R"({"type":"pong","id":1})").ok());
  EXPECT_FALSE(parse_agent_message(R"({"type":"ping","id":1})").ok());
  // Echoed type is sanitised.
  auto r = parse_host_message("{\"type\":\"a\\nb\\u00e9\",\"id\":1}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "type: unknown message type \"a?b??\"");
}

TEST(Messages, NonObjectsAndGarbageRejected) {
  for (const char* bad :
       {"", "[]", "1", "null", "\"ping\"", "{", "{\"type\":\"ping\",\"id\":1", "\xff\xfe"}) {
    EXPECT_FALSE(parse_host_message(bad).ok()) << bad;
    EXPECT_FALSE(parse_agent_message(bad).ok()) << bad;
  }
}

TEST(Messages, SalvageId) {
  EXPECT_EQ(salvage_id(R"({"type":"nope","id":42})"), 42u);
  EXPECT_EQ(salvage_id(R"({"type":"signal","id":5,"signal":-1})"), 5u);
  EXPECT_EQ(salvage_id(R"({"id":"x"})"), 0u);
  EXPECT_EQ(salvage_id("[1]"), 0u);
  EXPECT_EQ(salvage_id("garbage"), 0u);
}

TEST(Messages, Printable) {
  EXPECT_EQ(printable("ok text"), "ok text");
  EXPECT_EQ(printable("a\x01\n\x7f\x80z"), "a????z");
  EXPECT_EQ(printable("abcdef", 3), "abc");
}

}  // namespace
}  // namespace runvm::proto
