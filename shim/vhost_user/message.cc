#include "shim/vhost_user/message.h"

#include <cstring>
#include <string>

namespace runvm::vhost_user {

namespace {

constexpr uint64_t kVringIndexMask = 0xff;
constexpr uint64_t kVringNoFdFlag = 0x100;
constexpr size_t kVringStateSize = 8;
constexpr size_t kVringAddrSize = 40;
constexpr size_t kMemTableHeaderSize = 8;  // nregions + padding
constexpr size_t kMemRegionSize = 32;
constexpr size_t kConfigHeaderSize = 12;

// Little cursor over an untrusted byte span; callers check sizes first.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b) : b_(b) {}
  template <class T>
  T get() {
    T v;
    std::memcpy(&v, b_.data() + off_, sizeof v);
    off_ += sizeof v;
    return v;
  }
  std::span<const uint8_t> rest() const { return b_.subspan(off_); }

 private:
  std::span<const uint8_t> b_;
  size_t off_ = 0;
};

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

Error bad(uint32_t request, const std::string& what) {
  return make_error("vhost-user request " + std::to_string(request) + ": " + what, EINVAL);
}

Status expect_size(const Header& h, size_t want) {
  if (h.size != want)
    return bad(h.request,
               "payload size " + std::to_string(h.size) + ", expected " + std::to_string(want));
  return {};
}

Result<VringFd> parse_vring_fd(const Header& h, Cursor& c, std::vector<UniqueFd>& fds) {
  uint64_t v = c.get<uint64_t>();
  if (v & ~(kVringIndexMask | kVringNoFdFlag)) return bad(h.request, "reserved bits set");
  bool no_fd = v & kVringNoFdFlag;
  if (fds.size() != (no_fd ? 0u : 1u))
    return bad(h.request,
               std::to_string(fds.size()) + " fds with no-fd flag " + (no_fd ? "set" : "clear"));
  VringFd r;
  r.index = static_cast<uint32_t>(v & kVringIndexMask);
  if (!no_fd) r.fd = std::move(fds[0]);
  fds.clear();
  return r;
}

Result<MemTable> parse_mem_table(const Header& h, std::span<const uint8_t> p,
                                 std::vector<UniqueFd>& fds) {
  if (p.size() < kMemTableHeaderSize) return bad(h.request, "short memory table");
  Cursor c(p);
  uint32_t n = c.get<uint32_t>();
  c.get<uint32_t>();  // padding
  if (n == 0 || n > kMaxMemRegions)
    return bad(h.request, std::to_string(n) + " memory regions (1.." +
                              std::to_string(kMaxMemRegions) + " allowed)");
  RUNVM_CHECK(expect_size(h, kMemTableHeaderSize + n * kMemRegionSize));
  if (fds.size() != n)
    return bad(h.request,
               std::to_string(n) + " regions but " + std::to_string(fds.size()) + " fds");
  MemTable t;
  for (uint32_t i = 0; i < n; ++i) {
    MappedGuestMemory::FdRegion r;
    r.gpa = c.get<uint64_t>();
    r.size = c.get<uint64_t>();
    r.uva = c.get<uint64_t>();
    r.mmap_offset = c.get<uint64_t>();
    r.fd = std::move(fds[i]);
    t.regions.push_back(std::move(r));
  }
  fds.clear();
  return t;
}

Result<ConfigSpace> parse_config(const Header& h, std::span<const uint8_t> p) {
  if (p.size() < kConfigHeaderSize) return bad(h.request, "short config message");
  Cursor c(p);
  ConfigSpace cfg;
  cfg.offset = c.get<uint32_t>();
  uint32_t size = c.get<uint32_t>();
  cfg.flags = c.get<uint32_t>();
  if (size > kMaxConfigSize)
    return bad(h.request, "config size " + std::to_string(size) + " too big");
  RUNVM_CHECK(expect_size(h, kConfigHeaderSize + size));
  auto rest = c.rest();
  cfg.data.assign(rest.begin(), rest.end());
  return cfg;
}

Result<Payload> parse_payload(const Header& h, std::span<const uint8_t> p,
                              std::vector<UniqueFd>& fds) {
  Cursor c(p);
  switch (h.request) {
    case kGetFeatures:
    case kSetOwner:
    case kResetOwner:
    case kGetProtocolFeatures:
    case kGetQueueNum:
    case kResetDevice:
      RUNVM_CHECK(expect_size(h, 0));
      return Payload{};
    case kSetFeatures:
    case kSetProtocolFeatures:
      RUNVM_CHECK(expect_size(h, sizeof(uint64_t)));
      return Payload{c.get<uint64_t>()};
    case kSetVringNum:
    case kSetVringBase:
    case kGetVringBase:
    case kSetVringEnable: {
      RUNVM_CHECK(expect_size(h, kVringStateSize));
      VringState s;
      s.index = c.get<uint32_t>();
      s.num = c.get<uint32_t>();
      return Payload{s};
    }
    case kSetVringAddr: {
      RUNVM_CHECK(expect_size(h, kVringAddrSize));
      VringAddr a;
      a.index = c.get<uint32_t>();
      a.flags = c.get<uint32_t>();
      a.desc_uva = c.get<uint64_t>();
      a.used_uva = c.get<uint64_t>();
      a.avail_uva = c.get<uint64_t>();
      a.log_gpa = c.get<uint64_t>();
      return Payload{a};
    }
    case kSetVringKick:
    case kSetVringCall:
    case kSetVringErr: {
      RUNVM_CHECK(expect_size(h, sizeof(uint64_t)));
      return Payload{RUNVM_TRY(parse_vring_fd(h, c, fds))};
    }
    case kSetMemTable:
      return Payload{RUNVM_TRY(parse_mem_table(h, p, fds))};
    case kGetConfig:
    case kSetConfig:
      return Payload{RUNVM_TRY(parse_config(h, p))};
    default:
      // Unparsed request: the backend rejects it; its fds close here.
      fds.clear();
      return Payload{};
  }
}

void encode_payload(const Message& m, Encoded& out) {
  auto& b = out.bytes;
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, uint64_t>) {
          put(b, p);
        } else if constexpr (std::is_same_v<T, VringState>) {
          put(b, p.index);
          put(b, p.num);
        } else if constexpr (std::is_same_v<T, VringAddr>) {
          put(b, p.index);
          put(b, p.flags);
          put(b, p.desc_uva);
          put(b, p.used_uva);
          put(b, p.avail_uva);
          put(b, p.log_gpa);
        } else if constexpr (std::is_same_v<T, VringFd>) {
          put(b, uint64_t{p.index} | (p.fd ? 0 : kVringNoFdFlag));
          if (p.fd) out.fds.push_back(p.fd.get());
        } else if constexpr (std::is_same_v<T, MemTable>) {
          put(b, static_cast<uint32_t>(p.regions.size()));
          put(b, uint32_t{0});
          for (const auto& r : p.regions) {
            put(b, r.gpa);
            put(b, r.size);
            put(b, r.uva);
            put(b, r.mmap_offset);
            out.fds.push_back(r.fd.get());
          }
        } else if constexpr (std::is_same_v<T, ConfigSpace>) {
          put(b, p.offset);
          put(b, static_cast<uint32_t>(p.data.size()));
          put(b, p.flags);
          b.insert(b.end(), p.data.begin(), p.data.end());
        }
      },
      m.payload);
}

}  // namespace

Result<Header> parse_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return make_error("vhost-user header truncated", EPROTO);
  Cursor c(bytes);
  Header h;
  h.request = c.get<uint32_t>();
  h.flags = c.get<uint32_t>();
  h.size = c.get<uint32_t>();
  if ((h.flags & kVersionMask) != kVersion)
    return make_error(
        "vhost-user version " + std::to_string(h.flags & kVersionMask) + " unsupported", EPROTO);
  if (h.flags & kReplyFlag) return make_error("vhost-user request has the reply flag", EPROTO);
  if (h.size > kMaxPayloadSize)
    return make_error("vhost-user payload size " + std::to_string(h.size) + " too big", EPROTO);
  return h;
}

Result<Message> parse_message(const Header& header, std::span<const uint8_t> payload,
                              std::vector<UniqueFd> fds) {
  if (payload.size() != header.size) return bad(header.request, "payload length mismatch");
  if (fds.size() > kMaxFds) return bad(header.request, "too many fds");
  Message m;
  m.header = header;
  m.payload = RUNVM_TRY(parse_payload(header, payload, fds));
  if (!fds.empty()) return bad(header.request, "unexpected fds");
  return m;
}

Encoded encode(const Message& msg) {
  Encoded out;
  out.bytes.resize(kHeaderSize);
  encode_payload(msg, out);
  Header h = msg.header;
  h.size = static_cast<uint32_t>(out.bytes.size() - kHeaderSize);
  std::memcpy(out.bytes.data(), &h.request, 4);
  std::memcpy(out.bytes.data() + 4, &h.flags, 4);
  std::memcpy(out.bytes.data() + 8, &h.size, 4);
  return out;
}

Reply reply_u64(uint32_t request, uint64_t value) {
  Reply r{request, {}};
  put(r.payload, value);
  return r;
}

Reply reply_vring_state(uint32_t request, const VringState& state) {
  Reply r{request, {}};
  put(r.payload, state.index);
  put(r.payload, state.num);
  return r;
}

Reply reply_config(uint32_t request, const ConfigSpace& config) {
  Reply r{request, {}};
  put(r.payload, config.offset);
  put(r.payload, static_cast<uint32_t>(config.data.size()));
  put(r.payload, config.flags);
  r.payload.insert(r.payload.end(), config.data.begin(), config.data.end());
  return r;
}

std::vector<uint8_t> serialize(const Reply& reply) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + reply.payload.size());
  put(out, reply.request);
  put(out, kVersion | kReplyFlag);
  put(out, static_cast<uint32_t>(reply.payload.size()));
  out.insert(out.end(), reply.payload.begin(), reply.payload.end());
  return out;
}

Result<Reply> parse_reply(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return make_error("vhost-user reply truncated", EPROTO);
  Cursor c(bytes);
  Reply r;
  r.request = c.get<uint32_t>();
  uint32_t flags = c.get<uint32_t>();
  uint32_t size = c.get<uint32_t>();
  if (flags != (kVersion | kReplyFlag)) return make_error("vhost-user reply flags wrong", EPROTO);
  if (c.rest().size() != size) return make_error("vhost-user reply size mismatch", EPROTO);
  r.payload.assign(c.rest().begin(), c.rest().end());
  return r;
}

bool has_reply(uint32_t request) {
  switch (request) {
    case kGetFeatures:
    case kGetProtocolFeatures:
    case kGetVringBase:
    case kGetQueueNum:
    case kGetConfig:
    case kGetInflightFd:
    case kGetMaxMemSlots:
    case kGetStatus:
      return true;
    default:
      return false;
  }
}

std::optional<Reply> failure_reply(const Header& header, const Error& error) {
  if (has_reply(header.request)) return Reply{header.request, {}};
  if (header.need_reply())
    return reply_u64(header.request, error.code > 0 ? static_cast<uint64_t>(error.code) : EINVAL);
  return std::nullopt;
}

}  // namespace runvm::vhost_user
