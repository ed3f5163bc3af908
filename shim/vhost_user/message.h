// vhost-user wire format (QEMU docs/interop/vhost-user.rst): a 12-byte
// header {request, flags, size} followed by `size` payload bytes, with file
// descriptors passed alongside as SCM_RIGHTS. Pure parse/encode functions;
// every size and count from the front-end is validated here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

#include "shim/virtio/guest_memory.h"
#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm::vhost_user {

// Front-end requests (the subset with a number we name; others stay raw).
enum Request : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kResetOwner = 4,
  kSetMemTable = 5,
  kSetLogBase = 6,
  kSetLogFd = 7,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kGetVringBase = 11,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kSetVringErr = 14,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kGetConfig = 24,
  kSetConfig = 25,
  kGetInflightFd = 31,
  kResetDevice = 34,
  kGetMaxMemSlots = 36,
  kGetStatus = 40,
};

inline constexpr size_t kHeaderSize = 12;
inline constexpr uint32_t kVersion = 0x1;
inline constexpr uint32_t kVersionMask = 0x3;
inline constexpr uint32_t kReplyFlag = 0x4;
inline constexpr uint32_t kNeedReplyFlag = 0x8;
// Our cap on any payload: comfortably above the largest message we parse
// (a full memory table, 264 bytes; a config message, 268 bytes).
inline constexpr uint32_t kMaxPayloadSize = 4096;
inline constexpr size_t kMaxMemRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS
inline constexpr size_t kMaxFds = kMaxMemRegions;
inline constexpr uint32_t kMaxConfigSize = 256;

// Transport feature bit in GET/SET_FEATURES (not a virtio feature).
inline constexpr uint64_t kFeatureProtocolFeatures = 1ull << 30;
// Protocol feature bits (GET/SET_PROTOCOL_FEATURES).
inline constexpr uint64_t kProtocolMq = 1ull << 0;
inline constexpr uint64_t kProtocolReplyAck = 1ull << 3;
inline constexpr uint64_t kProtocolConfig = 1ull << 9;

struct Header {
  uint32_t request = 0;
  uint32_t flags = 0;
  uint32_t size = 0;  // payload bytes that follow

  bool need_reply() const { return flags & kNeedReplyFlag; }
};

// SET_VRING_NUM / SET_VRING_BASE / GET_VRING_BASE / SET_VRING_ENABLE.
struct VringState {
  uint32_t index = 0;
  uint32_t num = 0;
};

// SET_VRING_ADDR: ring addresses are front-end virtual addresses.
struct VringAddr {
  uint32_t index = 0;
  uint32_t flags = 0;
  uint64_t desc_uva = 0;
  uint64_t used_uva = 0;
  uint64_t avail_uva = 0;
  uint64_t log_gpa = 0;
};

// SET_VRING_KICK / SET_VRING_CALL / SET_VRING_ERR; no fd (invalid) when the
// front-end set the "no fd" bit.
struct VringFd {
  uint32_t index = 0;
  UniqueFd fd;
};

// SET_MEM_TABLE, each region carrying its fd (ready for MappedGuestMemory::map).
struct MemTable {
  std::vector<MappedGuestMemory::FdRegion> regions;
};

// GET_CONFIG / SET_CONFIG: `data` holds `size` bytes.
struct ConfigSpace {
  uint32_t offset = 0;
  uint32_t flags = 0;
  std::vector<uint8_t> data;
};

// monostate: no payload (or a request we do not parse; its bytes and fds are dropped).
using Payload =
    std::variant<std::monostate, uint64_t, VringState, VringAddr, VringFd, MemTable, ConfigSpace>;

struct Message {
  Header header;
  Payload payload;
};

struct Reply {
  uint32_t request = 0;
  std::vector<uint8_t> payload;
};

// Decodes and checks the header: version 1, not a reply, size <= kMaxPayloadSize.
// A failure here means the stream cannot be trusted any further.
Result<Header> parse_header(std::span<const uint8_t> bytes);

// Decodes the payload of `header` (payload.size() must equal header.size) and
// takes ownership of `fds`, which must be exactly those the request carries.
// Failures leave the stream in sync: the request can be failed politely.
Result<Message> parse_message(const Header& header, std::span<const uint8_t> payload,
                              std::vector<UniqueFd> fds);

// Wire form of a request; `fds` are borrowed from the message.
struct Encoded {
  std::vector<uint8_t> bytes;
  std::vector<int> fds;
};
Encoded encode(const Message& msg);

// Replies.
Reply reply_u64(uint32_t request, uint64_t value);
Reply reply_vring_state(uint32_t request, const VringState& state);
Reply reply_config(uint32_t request, const ConfigSpace& config);
std::vector<uint8_t> serialize(const Reply& reply);
// Decodes a serialized reply (used by tests and front-end style clients).
Result<Reply> parse_reply(std::span<const uint8_t> bytes);

// True for requests whose protocol defines a reply message (need_reply is moot).
bool has_reply(uint32_t request);
// What to send when `header`'s request failed: an empty reply where the
// front-end waits for one (the spec's error signal for GET_CONFIG; a size
// mismatch it reports for the others), a non-zero ack when it asked for one,
// else nothing.
std::optional<Reply> failure_reply(const Header& header, const Error& error);

}  // namespace runvm::vhost_user
