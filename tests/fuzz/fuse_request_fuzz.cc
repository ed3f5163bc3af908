// Feeds hostile FUSE requests (raw bytes, with the header's len and nodeid
// optionally made plausible so the handlers are reached) through
// PassthroughFs over a scratch share (or, by a flag, StdioFs over two
// scratch files), split into random descriptor sizes.
// Must never crash, and must never touch the directory beside the share
// that a symlink inside it points to.
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <span>
#include <vector>

#include "shim/fs/passthrough_fs.h"
#include "shim/fs/stdio_fs.h"
#include "tests/support/temp_dir.h"

using namespace runvm;
namespace stdfs = std::filesystem;

namespace {

struct World {
  // First: removed last, after the file systems over it are gone.
  runvm::testing::TempDir dir{"runvm-fuse-fuzz"};
  std::string base = dir.path(), share = base + "/share", outside = base + "/outside";
  std::unique_ptr<PassthroughFs> fs;
  UniqueFd stdio_in, stdio_out;
  std::unique_ptr<StdioFs> stdio;
  struct stat outside_st {};
  unsigned runs = 0, resets = 0;

  World() {
    stdfs::create_directories(outside);
    std::ofstream(outside + "/secret") << "secret";
    // Bounded files: FALLOCATE/WRITE from the fuzzer must not fill the disk.
    rlimit fsize{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    ::signal(SIGXFSZ, SIG_IGN);
    ::lstat(outside.c_str(), &outside_st);
    reset();
  }
  void reset() {
    fs.reset();
    std::error_code ec;
    stdfs::remove_all(share, ec);
    stdfs::create_directories(share + "/dir/sub");
    std::ofstream(share + "/file") << "content";
    stdfs::create_symlink(outside, share + "/esc");
    stdfs::create_symlink("../outside/secret", share + "/rel");
    stdio_in.reset(::open((base + "/stdin").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    stdio_out.reset(
        ::open((base + "/stdout").c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!stdio_in || !stdio_out || ::write(stdio_in.get(), "input\n", 6) != 6) std::abort();
    stdio = std::make_unique<StdioFs>(std::array<int, 3>{stdio_in.get(), stdio_out.get(), -1});
    // Each reset serves the next kind of share runvm makes: a rootfs
    // (exclusive), a bind mount (coherent, no xattrs, cached misses), the
    // pod share (coherent, no cached misses), all without open-file handles;
    // then a bind mount with handles (FsConfig::handles), so OPEN, CREATE,
    // RELEASE and I/O by handle stay reachable.
    FsConfig cfg{share, CachePolicy::kExclusive, false};
    cfg.xattrs_if_present = true;  // as a container's root (its share holds none)
    switch (resets++ % 4) {
      case 1:
        cfg.cache = CachePolicy::kCoherent;
        cfg.xattrs = false;
        break;
      case 2:
        cfg.cache = CachePolicy::kCoherent;
        cfg.cache_misses = false;
        cfg.xattrs_if_present = false;
        break;
      case 3:
        cfg.cache = CachePolicy::kCoherent;
        cfg.xattrs = false;
        cfg.handles = true;
        break;
    }
    auto r = PassthroughFs::create(cfg);
    if (!r.ok()) std::abort();
    fs = std::move(*r);
    // The xattr walk's verdict before any input, so that an input always
    // takes the same path (files made ahead of time may still differ: a
    // create links one or makes it, either answered alike).
    if (fs->xattr_scan()) fs->xattr_scan()->wait();
    new_session();
  }

  // Each input starts a new FUSE session on both servers, as a rebooted
  // guest would: an earlier input's DESTROY, open handles and looked-up
  // nodes would otherwise decide what a later one reaches (a crash found
  // that way does not reproduce from its input alone). The share's files
  // are only made anew every 512 inputs (reset()): that takes milliseconds
  // on ext4.
  void new_session() {
    // The last input's session ended (its nodes and handles forgotten, their
    // numbering restarted: the nodeids below are always 2..5), then a
    // handshake, so most inputs reach the handlers.
    send(FUSE_DESTROY, 0, nullptr, 0);
    send(FUSE_DESTROY, 0, nullptr, 0, stdio.get());
    fuse_init_in in{7, 36, 1 << 16, 0xffffffff};
    send(FUSE_INIT, 0, &in, sizeof in);
    send(FUSE_INIT, 0, &in, sizeof in, stdio.get());
    // Known nodeids 2.. for the entries above.
    for (const char* n : {"dir", "file", "esc", "rel"}) send(FUSE_LOOKUP, 1, n, std::strlen(n) + 1);
    // The stdio files as reset() made them: an earlier READ must not have
    // taken the input, nor WRITEs grown the output to the size limit.
    if (::lseek(stdio_in.get(), 0, SEEK_SET) != 0 || ::ftruncate(stdio_out.get(), 0) != 0 ||
        ::lseek(stdio_out.get(), 0, SEEK_SET) != 0)
      std::abort();
  }

  void send(uint32_t op, uint64_t node, const void* args, size_t n, FuseServer* to = nullptr) {
    std::vector<uint8_t> req(sizeof(fuse_in_header) + n);
    fuse_in_header h{};
    h.len = static_cast<uint32_t>(req.size());
    h.opcode = op;
    h.nodeid = node;
    std::memcpy(req.data(), &h, sizeof h);
    if (n) std::memcpy(req.data() + sizeof h, args, n);
    std::vector<uint8_t> out(4096);
    DescChain c;
    c.readable.push_back({req.data(), req.size()});
    c.writable.push_back({out.data(), out.size()});
    (to ? to : fs.get())->handle(c);
  }

  void check_contained() {
    struct stat st;
    if (::lstat(outside.c_str(), &st) != 0 || st.st_mtim.tv_nsec != outside_st.st_mtim.tv_nsec ||
        st.st_mtim.tv_sec != outside_st.st_mtim.tv_sec || st.st_mode != outside_st.st_mode ||
        st.st_uid != outside_st.st_uid)
      std::abort();
    if (::lstat((outside + "/secret").c_str(), &st) != 0 || st.st_size != 6 ||
        (st.st_mode & 07777) != 0644)
      std::abort();
  }
};

World& world() {
  static World w;
  return w;
}

// Cuts [p, p + n) into descriptors of `step` bytes (the last one shorter).
// A one-byte step over a 64 KiB reply buffer is 65536 descriptors, and
// building them (a vector growing by reallocation, and coverage callbacks
// at every element) cost far more than the server's handling of the
// request: `out` keeps its capacity from input to input, and this loop is
// not instrumented (it is not what is fuzzed).
__attribute__((no_sanitize("coverage"))) void cut(uint8_t* p, size_t n, size_t step,
                                                  std::vector<std::span<uint8_t>>& out) {
  out.resize(n / step + (n % step != 0));
  std::span<uint8_t>* d = out.data();
  for (size_t off = 0; off < n; off += step) *d++ = {p + off, std::min(step, n - off)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  if (++w.runs % 512 == 0)
    w.reset();
  else
    w.new_session();
  // Up to 4 requests: [flags u8][piece u8][out u16][len u16][bytes...]
  for (int i = 0; i < 4 && size >= 6; ++i) {
    uint8_t flags = data[0], piece = data[1];
    uint16_t out_len, len;
    std::memcpy(&out_len, data + 2, 2);
    std::memcpy(&len, data + 4, 2);
    data += 6;
    size -= 6;
    len = static_cast<uint16_t>(std::min<size_t>(len, size));
    std::vector<uint8_t> req(data, data + len);
    data += len;
    size -= len;
    if (req.size() >= sizeof(fuse_in_header)) {
      auto* h = reinterpret_cast<fuse_in_header*>(req.data());
      if (flags & 1) h->len = static_cast<uint32_t>(req.size());
      if (flags & 2) h->nodeid %= 7;
      if (flags & 4) h->opcode %= 52;
      if (flags & 8) h->total_extlen = 0;
    }
    std::vector<uint8_t> out(out_len);
    static DescChain c;
    const size_t step = piece ? piece : SIZE_MAX;
    cut(req.data(), req.size(), step, c.readable);
    cut(out.data(), out.size(), step, c.writable);
    FuseServer& server = (flags & 16) ? static_cast<FuseServer&>(*w.stdio) : *w.fs;
    uint32_t used = server.handle(c);
    if (used > out.size()) std::abort();
    if (used) {
      fuse_out_header oh;
      ChainReader r(c.writable);
      r.read(&oh, sizeof oh);
      if (oh.len != used || oh.error > 0 || oh.error < -4095) std::abort();
    }
  }
  w.check_contained();
  return 0;
}
