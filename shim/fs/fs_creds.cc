#include "shim/fs/fs_creds.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace runvm::fuse {

namespace {

int set_fsuid(uid_t id) { return static_cast<int>(::syscall(SYS_setfsuid, id)); }
int set_fsgid(gid_t id) { return static_cast<int>(::syscall(SYS_setfsgid, id)); }
// setfs*id(-1) changes nothing and returns the current id.
uid_t current_fsuid() { return static_cast<uid_t>(set_fsuid(static_cast<uid_t>(-1))); }
gid_t current_fsgid() { return static_cast<gid_t>(set_fsgid(static_cast<gid_t>(-1))); }

// The capabilities the kernel clears from the effective set when fsuid
// leaves 0 (CAP_FS_MASK), raised again if permitted. Per-thread, like capset.
void raise_fs_caps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &hdr, data) != 0) return;
  constexpr uint32_t kFsCaps = (1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) |
                               (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER) |
                               (1u << CAP_FSETID) | (1u << CAP_MKNOD);
  data[0].effective |= kFsCaps & data[0].permitted;
  (void)::syscall(SYS_capset, &hdr, data);
}

}  // namespace

Result<ScopedFsCreds> ScopedFsCreds::become(uid_t uid, gid_t gid) {
  if (uid == static_cast<uid_t>(-1) || gid == static_cast<gid_t>(-1))
    return make_error("invalid request credentials", EINVAL);
  ScopedFsCreds c;
  if (uid == 0 && gid == 0 && current_fsuid() == 0 && current_fsgid() == 0) return c;
  set_fsgid(gid);
  if (current_fsgid() != gid) return make_error("setfsgid failed", EPERM);
  c.active_ = true;  // from here on the destructor restores
  set_fsuid(uid);
  if (current_fsuid() != uid) return make_error("setfsuid failed", EPERM);
  if (uid != 0) raise_fs_caps();
  return c;
}

ScopedFsCreds::~ScopedFsCreds() {
  if (!active_) return;
  // Back to fsuid 0 restores the dropped capabilities from the permitted set.
  set_fsuid(::geteuid());
  set_fsgid(::getegid());
}

}  // namespace runvm::fuse
