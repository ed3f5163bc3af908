// Random bytes through the control-stream decoder and both message parsers:
// nothing may crash, and whatever parses must re-encode to an equal message.
#include <cstdlib>
#include <span>

#include "guest/protocol/frame.h"
#include "guest/protocol/messages.h"

namespace {

template <class Parse>
void round_trip(std::string_view body, Parse parse) {
  auto m = parse(body);
  if (!m.ok()) return;
  auto again = parse(runvm::proto::to_json(*m));
  if (!again.ok() || !(*again == *m)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace runvm::proto;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Whole input as one body.
  round_trip(input, parse_host_message);
  round_trip(input, parse_agent_message);
  // And as a framed stream fed in uneven pieces (small limit reaches the
  // oversize path often).
  FrameDecoder dec(size % 2 ? 64 : kMaxFrameSize);
  size_t step = 1 + size % 7;
  for (size_t off = 0; off < size; off += step) {
    if (!dec.feed(input.substr(off, step)).ok()) return 0;
    for (;;) {
      auto f = dec.next();
      if (!f.ok() || !*f) break;
      round_trip(**f, parse_host_message);
      round_trip(**f, parse_agent_message);
    }
  }
  return 0;
}
