#include "guest/initramfs/initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string_view>
#include <vector>

#include "spec/base/unique_fd.h"

namespace runvm::initramfs {
namespace {

// The agent is a static binary of a few MiB; refuse anything absurd.
constexpr off_t kMaxAgentSize = off_t{256} << 20;

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// Temporary file beside the output, removed unless committed by rename.
class TempFile {
 public:
  static Result<TempFile> create_beside(const std::string& path) {
    TempFile t;
    t.path_ = path + ".tmp-XXXXXX";
    t.fd_.reset(::mkostemp(t.path_.data(), O_CLOEXEC));
    if (!t.fd_) return errno_error("create temporary file for " + path);
    return t;
  }
  TempFile(TempFile&& o) noexcept : path_(std::move(o.path_)), fd_(std::move(o.fd_)) {
    o.path_.clear();
  }
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  int fd() const { return fd_.get(); }
  Status commit(const std::string& target) {
    if (::fchmod(fd_.get(), 0644) != 0) return errno_error("fchmod " + path_);
    if (::fsync(fd_.get()) != 0) return errno_error("fsync " + path_);
    if (::rename(path_.c_str(), target.c_str()) != 0) return errno_error("rename to " + target);
    path_.clear();
    return {};
  }

 private:
  TempFile() = default;
  std::string path_;
  UniqueFd fd_;
};

Result<std::string> read_agent(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error("open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat " + path);
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  if (st.st_size > kMaxAgentSize) return make_error(path + ": too large for an initramfs");
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read " + path);
    if (n == 0) return make_error(path + ": file shrank while reading");
    got += static_cast<size_t>(n);
  }
  return data;
}

struct Node {
  std::string_view name;
  mode_t type;  // AE_IFDIR, AE_IFCHR, AE_IFREG
  mode_t perm;
  unsigned rdev_major = 0, rdev_minor = 0;
};

// Fixed order (parents first) and fixed inode numbers: determinism.
constexpr Node kNodes[] = {
    {"dev", AE_IFDIR, 0755},
    // The kernel opens /dev/console for init before /dev is mounted.
    {"dev/console", AE_IFCHR, 0600, 5, 1},
    {"proc", AE_IFDIR, 0755},
    {"sys", AE_IFDIR, 0755},
    {"run", AE_IFDIR, 0755},
    {"tmp", AE_IFDIR, 01777},
    {"mnt", AE_IFDIR, 0755},
    {"etc", AE_IFDIR, 0755},
    {"init", AE_IFREG, 0755},
};

Error archive_failure(archive* a, std::string_view what) {
  const char* msg = archive_error_string(a);
  return make_error(std::string(what) + ": " + (msg ? msg : "libarchive error"), archive_errno(a));
}

Status write_archive(int fd, const std::string& init_data) {
  ArchivePtr a(archive_write_new());
  if (!a) return make_error("archive_write_new failed");
  if (archive_write_set_format_cpio_newc(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open_fd(a.get(), fd) != ARCHIVE_OK)
    return archive_failure(a.get(), "set up cpio writer");

  int64_t ino = 1;
  for (const Node& n : kNodes) {
    EntryPtr e(archive_entry_new());
    if (!e) return make_error("archive_entry_new failed");
    archive_entry_set_pathname(e.get(), std::string(n.name).c_str());
    archive_entry_set_filetype(e.get(), n.type);
    archive_entry_set_perm(e.get(), n.perm);
    archive_entry_set_uid(e.get(), 0);
    archive_entry_set_gid(e.get(), 0);
    archive_entry_set_mtime(e.get(), 0, 0);
    archive_entry_set_ino64(e.get(), ino++);
    archive_entry_set_nlink(e.get(), n.type == AE_IFDIR ? 2 : 1);
    archive_entry_set_rdevmajor(e.get(), n.rdev_major);
    archive_entry_set_rdevminor(e.get(), n.rdev_minor);
    const bool is_init = n.type == AE_IFREG;
    archive_entry_set_size(e.get(), is_init ? static_cast<int64_t>(init_data.size()) : 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK)
      return archive_failure(a.get(), "write header of " + std::string(n.name));
    if (is_init && archive_write_data(a.get(), init_data.data(), init_data.size()) !=
                       static_cast<la_ssize_t>(init_data.size()))
      return archive_failure(a.get(), "write /init");
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return archive_failure(a.get(), "finish cpio");
  return {};
}

}  // namespace

Status build_initramfs(const InitramfsSpec& spec, const std::string& out_path) {
  std::string init_data = RUNVM_TRY(read_agent(spec.agent_path).context("reading agent"));
  TempFile tmp = RUNVM_TRY(TempFile::create_beside(out_path));
  RUNVM_CHECK(write_archive(tmp.fd(), init_data).context(out_path));
  return tmp.commit(out_path);
}

}  // namespace runvm::initramfs
