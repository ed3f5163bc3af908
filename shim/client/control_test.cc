#include "shim/client/control.h"

#include <gtest/gtest.h>

namespace runvm::control {
namespace {

TEST(Control, RequestRoundTrip) {
  Request k{"kill", 9, true, 0, 0};
  auto r = parse_request(encode(k));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->op, "kill");
  EXPECT_EQ(r->signal, 9);
  EXPECT_TRUE(r->all);
  auto z = parse_request(encode(Request{"resize", 0, false, 40, 120}));
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->rows, 40u);
  EXPECT_EQ(z->cols, 120u);
}

TEST(Control, RejectsBadRequests) {
  EXPECT_FALSE(parse_request(R"({"op":"kill","signal":0})").ok());
  EXPECT_FALSE(parse_request(R"({"op":"kill","signal":"TERM"})").ok());
  EXPECT_FALSE(parse_request(R"({"op":"resize","rows":70000,"cols":1})").ok());
  EXPECT_FALSE(parse_request(R"({"signal":9})").ok());
  EXPECT_FALSE(parse_request("not json").ok());
}

TEST(Control, ReplyCarriesError) {
  EXPECT_TRUE(parse_reply(encode_reply({})).ok());
  auto s = parse_reply(encode_reply(make_error("container not running")));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "container not running");
}

}  // namespace
}  // namespace runvm::control
