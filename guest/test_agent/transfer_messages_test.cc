#include "guest/test_agent/transfer_messages.h"

#include <gtest/gtest.h>

namespace runvm::test_agent {
namespace {

template <class V>
std::string error_of(const Result<V>& r) {
  return r.ok() ? std::string("<ok>") : r.error().message;
}

TEST(TransferMessages, RoundTrip) {
  Transfer t{8, 5000, kMaxTransferBytes, UINT64_MAX};
  auto back = parse_test_host_message(proto::to_json(t));
  ASSERT_TRUE(back.ok()) << error_of(back);
  EXPECT_EQ(std::get<Transfer>(*back), t);
  TransferDone d{2, 64 << 20};
  auto done = parse_test_agent_message(proto::to_json(d));
  ASSERT_TRUE(done.ok()) << error_of(done);
  EXPECT_EQ(std::get<TransferDone>(*done), d);
}

TEST(TransferMessages, WireFormat) {
  EXPECT_EQ(proto::to_json(Transfer{1, 2, 3, 4}),
            R"({"type":"transfer","id":1,"port":2,"bytes":3,"seed":4})");
  EXPECT_EQ(proto::to_json(TransferDone{7, 9}), R"({"type":"transfer_done","id":7,"bytes":9})");
}

TEST(TransferMessages, ErrorsNameThePath) {
  EXPECT_EQ(error_of(parse_test_host_message(R"({"type":"transfer","id":1,"port":4294967296,)"
                                             R"("bytes":1,"seed":1})")),
            "port: must fit in 32 bits");
  EXPECT_EQ(error_of(parse_test_host_message(
                R"({"type":"transfer","id":1,"port":9,"bytes":1073741825,"seed":0})")),
            "bytes: must be at most 1073741824");
  EXPECT_EQ(error_of(parse_test_host_message(R"({"type":"ping","id":1})")),
            "type: unknown message type \"ping\"");
}

}  // namespace
}  // namespace runvm::test_agent
