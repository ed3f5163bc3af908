// Test-only FUSE client: builds request chains over plain memory, hands
// them to a FuseServer (PassthroughFs, StdioFs) and decodes the replies, playing the guest kernel.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fuse.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shim/fs/passthrough_fs.h"

namespace runvm::testing {

class Args {
 public:
  template <class T>
  Args& add(const T& v) {
    auto* p = reinterpret_cast<const uint8_t*>(&v);
    b_.insert(b_.end(), p, p + sizeof v);
    return *this;
  }
  Args& str(std::string_view s) {  // with its NUL
    b_.insert(b_.end(), s.begin(), s.end());
    b_.push_back(0);
    return *this;
  }
  Args& raw(std::string_view s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

struct FuseReply {
  uint32_t used = 0;  // bytes the server reported
  int error = 0;      // positive errno
  std::vector<uint8_t> data;
  template <class T>
  T as() const {
    T v{};
    EXPECT_GE(data.size(), sizeof v);
    std::memcpy(&v, data.data(), std::min(sizeof v, data.size()));
    return v;
  }
  std::string str() const { return std::string(data.begin(), data.end()); }
};

class FuseTestClient {
 public:
  explicit FuseTestClient(FuseServer& fs) : fs_(fs) {}
  uint32_t uid = 0, gid = 0;
  // Splits both directions into descriptors of at most this many bytes.
  size_t piece = SIZE_MAX;

  FuseReply call(uint32_t opcode, uint64_t nodeid, const Args& args = {}, size_t out_size = 1 << 16,
                 const std::vector<uint8_t>& write_data = {}) {
    fuse_in_header in{};
    in.opcode = opcode;
    in.unique = ++unique_;
    in.nodeid = nodeid;
    in.uid = uid;
    in.gid = gid;
    in.pid = 42;
    std::vector<uint8_t> req(sizeof in);
    req.insert(req.end(), args.bytes().begin(), args.bytes().end());
    req.insert(req.end(), write_data.begin(), write_data.end());
    in.len = static_cast<uint32_t>(req.size());
    std::memcpy(req.data(), &in, sizeof in);
    std::vector<uint8_t> out(out_size, 0xAA);
    DescChain chain;
    split(req, chain.readable);
    split(out, chain.writable);
    FuseReply r;
    r.used = fs_.handle(chain);
    if (r.used == 0) return r;
    fuse_out_header h;
    std::memcpy(&h, out.data(), sizeof h);
    EXPECT_EQ(h.unique, in.unique);
    EXPECT_EQ(h.len, r.used);
    r.error = -h.error;
    r.data.assign(out.begin() + sizeof h, out.begin() + std::min<size_t>(h.len, out.size()));
    return r;
  }

  fuse_init_out init(uint32_t flags = 0xffffffff) {
    fuse_init_in in{};
    in.major = 7;
    in.minor = 36;
    in.max_readahead = 1 << 17;
    in.flags = flags;
    auto r = call(FUSE_INIT, 0, Args().add(in));
    EXPECT_EQ(r.error, 0);
    return r.as<fuse_init_out>();
  }

  // 0 on failure (the test then sees the errno in last_error).
  uint64_t lookup(uint64_t parent, std::string_view name) {
    return entry(call(FUSE_LOOKUP, parent, Args().str(name)));
  }
  uint64_t mkdir(uint64_t parent, std::string_view name, uint32_t mode = 0755) {
    return entry(call(FUSE_MKDIR, parent, Args().add(fuse_mkdir_in{mode, 022}).str(name)));
  }
  uint64_t symlink(uint64_t parent, std::string_view name, std::string_view target) {
    return entry(call(FUSE_SYMLINK, parent, Args().str(name).str(target)));
  }
  uint64_t mknod(uint64_t parent, std::string_view name, uint32_t mode, uint32_t rdev = 0) {
    return entry(call(FUSE_MKNOD, parent, Args().add(fuse_mknod_in{mode, rdev, 022, 0}).str(name)));
  }
  // Creates and opens; returns {nodeid, fh}.
  std::pair<uint64_t, uint64_t> create(uint64_t parent, std::string_view name, uint32_t mode = 0644,
                                       uint32_t flags = O_RDWR) {
    auto r = call(FUSE_CREATE, parent, Args().add(fuse_create_in{flags, mode, 022, 0}).str(name));
    last_error = r.error;
    if (r.error) return {0, 0};
    struct {
      fuse_entry_out e;
      fuse_open_out o;
    } out;
    EXPECT_EQ(r.data.size(), sizeof out);
    std::memcpy(&out, r.data.data(), sizeof out);
    return {out.e.nodeid, out.o.fh};
  }
  uint64_t open(uint64_t node, uint32_t flags, uint32_t opcode = FUSE_OPEN,
                uint32_t open_flags = 0) {
    auto r = call(opcode, node, Args().add(fuse_open_in{flags, open_flags}));
    last_error = r.error;
    return r.error ? 0 : r.as<fuse_open_out>().fh;
  }
  // `node`: what a handle-less share (fh 0) serves the request by.
  int write(uint64_t fh, uint64_t off, const std::vector<uint8_t>& data,
            uint32_t* written = nullptr, uint32_t write_flags = 0, uint64_t node = 0,
            uint32_t open_flags = 0) {
    fuse_write_in w{};
    w.fh = fh;
    w.write_flags = write_flags;
    w.flags = open_flags;  // the guest file's f_flags
    w.offset = off;
    w.size = static_cast<uint32_t>(data.size());
    auto r = call(FUSE_WRITE, node, Args().add(w), 1 << 16, data);
    if (!r.error && written) *written = r.as<fuse_write_out>().size;
    return r.error;
  }
  FuseReply read(uint64_t fh, uint64_t off, uint32_t size, uint64_t node = 0) {
    fuse_read_in in{};
    in.fh = fh;
    in.offset = off;
    in.size = size;
    return call(FUSE_READ, node, Args().add(in), size + sizeof(fuse_out_header));
  }
  std::optional<fuse_attr> getattr(uint64_t node) {
    auto r = call(FUSE_GETATTR, node, Args().add(fuse_getattr_in{}));
    last_error = r.error;
    if (r.error) return std::nullopt;
    return r.as<fuse_attr_out>().attr;
  }
  int release(uint64_t fh, uint32_t opcode = FUSE_RELEASE) {
    fuse_release_in in{};
    in.fh = fh;
    return call(opcode, 0, Args().add(in)).error;
  }
  void forget(uint64_t node, uint64_t n) { call(FUSE_FORGET, node, Args().add(fuse_forget_in{n})); }

  int last_error = 0;

 private:
  uint64_t entry(const FuseReply& r) {
    last_error = r.error;
    if (r.error) return 0;
    return r.as<fuse_entry_out>().nodeid;
  }
  void split(std::vector<uint8_t>& buf, std::vector<std::span<uint8_t>>& out) const {
    for (size_t off = 0; off < buf.size(); off += piece)
      out.push_back({buf.data() + off, std::min(piece, buf.size() - off)});
  }
  FuseServer& fs_;
  uint64_t unique_ = 0;
};

}  // namespace runvm::testing
