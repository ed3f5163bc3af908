// Random bytes through the control-stream decoder and both message parsers
// (and those of the test agent's extension, guest/test_agent): nothing may
// crash, and whatever parses must re-encode to an equal message.
#include <cstdlib>
#include <span>

#include "guest/protocol/frame.h"
#include "guest/protocol/messages.h"
#include "guest/test_agent/transfer_messages.h"

namespace {

template <class Parse>
void round_trip(std::string_view body, Parse parse) {
  auto m = parse(body);
  if (!m.ok()) return;
  auto json = std::visit([](const auto& x) { return runvm::proto::to_json(x); }, *m);
  auto again = parse(json);
  if (!again.ok() || !(*again == *m)) std::abort();
}

void round_trip_all(std::string_view body) {
  using namespace runvm;
  round_trip(body, proto::parse_host_message);
  round_trip(body, proto::parse_agent_message);
  round_trip(body, test_agent::parse_test_host_message);
  round_trip(body, test_agent::parse_test_agent_message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm::proto;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Whole input as one body.
  round_trip_all(input);
  // And as a framed stream fed in uneven pieces (small limit reaches the
  // oversize path often).
  FrameDecoder dec(size % 2 ? 64 : kMaxFrameSize);
  size_t step = 1 + size % 7;
  for (size_t off = 0; off < size; off += step) {
    if (!dec.feed(input.substr(off, step)).ok()) return 0;
    for (;;) {
      auto f = dec.next();
      if (!f.ok() || !*f) break;
      round_trip_all(**f);
    }
  }
  return 0;
}
