// Arbitrary front-end bytes and fd counts through the vhost-user parser:
// it must never crash, leak an fd, or accept something it cannot re-encode
// identically.
#include <fcntl.h>
#include <sys/eventfd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "shim/vhost_user/message.h"

using namespace runvm;
using namespace runvm::vhost_user;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t nfds = data[0] % (kMaxFds + 2);
  const bool raw_header = data[1] & 1;
  data += 2;
  size -= 2;

  Header h;
  std::span<const uint8_t> payload;
  if (raw_header) {
    auto parsed = parse_header({data, size});
    if (!parsed.ok()) return 0;
    h = *parsed;
    if (size - kHeaderSize < h.size) return 0;
    payload = {data + kHeaderSize, h.size};
  } else {
    // Steer towards known requests with a valid header; the rest is payload.
    if (size < 2) return 0;
    h.request = data[0] % 42;
    h.flags = kVersion | (data[1] & kNeedReplyFlag);
    payload = {data + 2, size - 2};
    if (payload.size() > kMaxPayloadSize) return 0;
    h.size = static_cast<uint32_t>(payload.size());
  }

  std::vector<UniqueFd> fds;
  for (size_t i = 0; i < nfds; ++i) fds.emplace_back(eventfd(0, EFD_CLOEXEC));
  auto msg = parse_message(h, payload, std::move(fds));
  if (!msg.ok()) {
    (void)failure_reply(h, msg.error());
    return 0;
  }

  Encoded e = encode(*msg);
  auto h2 = parse_header(e.bytes);
  if (!h2.ok()) abort();
  std::vector<UniqueFd> fds2;
  for (int fd : e.fds) fds2.emplace_back(fcntl(fd, F_DUPFD_CLOEXEC, 0));
  auto again = parse_message(*h2, std::span(e.bytes).subspan(kHeaderSize), std::move(fds2));
  if (!again.ok()) abort();
  if (encode(*again).bytes != e.bytes) abort();
  return 0;
}
