// What the hypervisor process is confined to between fork and exec
// (docs/security.md, "QEMU's confinement"): its own mount namespace whose
// root is a small tmpfs holding only what it reads, no capabilities (empty
// effective, permitted, inheritable, ambient and bounding sets),
// no_new_privs, and optionally an unprivileged uid/gid.
//
// Everything is worked out before fork (prepare_confinement) so that the
// child of the threaded shim only makes plain syscalls (confine_child).
#pragma once

#include <sys/capability.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "spec/base/result.h"

namespace runvm {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (e.g. kvm for /dev/kvm)
};

// runvm.toml's vm.qemu_user: a user name (its uid, primary group and
// supplementary groups from the passwd and group databases) or UID[:GID]
// (the gid defaults to the uid; no supplementary groups).
Result<Credentials> resolve_user(const std::string& user);

// What the child may see and who it runs as.
struct ConfinementSpec {
  // Files or directories bound read-only at their own path in the new root
  // (the kernel, the initrd).
  std::vector<std::string> read_only;
  // Device nodes bound at their own path (/dev/kvm); /dev/null and
  // /dev/urandom always are.
  std::vector<std::string> devices;
  std::optional<Credentials> user;  // none: stays root, still without capabilities
};

// One step of building the new root, as plain strings for the child.
struct MountStep {
  enum Kind { kDir, kFile, kBind, kBindReadOnly, kSymlink } kind;
  std::string path;    // under the staging root
  std::string source;  // kBind*: host path; kSymlink: link target
};

class PreparedConfinement {
 public:
  PreparedConfinement() = default;
  PreparedConfinement(PreparedConfinement&&) noexcept;
  PreparedConfinement& operator=(PreparedConfinement&&) noexcept;
  ~PreparedConfinement();

  const std::vector<MountStep>& steps() const { return steps_; }
  const std::string& staging() const { return staging_; }
  // False when the shim may not create a mount namespace (no CAP_SYS_ADMIN):
  // the child then keeps the shim's view of the filesystem.
  bool mount_namespace() const { return mount_namespace_; }

 private:
  friend Result<PreparedConfinement> prepare_confinement(const ConfinementSpec& spec,
                                                         const std::string& program);
  friend int confine_child(const PreparedConfinement& c);

  std::vector<MountStep> steps_;
  std::string staging_;  // where the new root is built (kStagingCandidates)
  bool mount_namespace_ = false;
  bool drop_bounding_ = false;  // needs CAP_SETPCAP
  std::optional<Credentials> user_;
  cap_t empty_ = nullptr;
  int max_cap_ = 0;
};

// Where the new root is built: a tmpfs mounted over the first of these that
// exists and holds none of QEMU's files, in the child's own namespace only
// (the host's stays untouched), as bubblewrap does over /tmp.
inline constexpr const char* kStagingCandidates[] = {"/tmp", "/mnt", "/run", "/media", "/srv"};

// Plans the new root for `program` (an absolute path): /usr and the
// top-level lib/bin directories or their symlinks, the program's own
// prefix when it lives elsewhere, /etc/ld.so.cache, and `spec`'s paths.
Result<PreparedConfinement> prepare_confinement(const ConfinementSpec& spec,
                                                const std::string& program);

// In the forked child, before exec: async-signal-safe calls only. Returns 0
// or the errno of the step that failed.
int confine_child(const PreparedConfinement& c);

}  // namespace runvm
