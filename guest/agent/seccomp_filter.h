// linux.seccomp as a libseccomp filter, following runc: built by the agent
// before fork (so a bad profile refuses the create), loaded by the container
// process as its last step before execve when no_new_privileges is set,
// else before it gives up root (loading needs CAP_SYS_ADMIN then).
// Syscall names libseccomp does not know are skipped, as runc skips them;
// rules whose action equals the default are dropped. The filter never sets
// NO_NEW_PRIVS itself: that is process.noNewPrivileges' job.
#pragma once

#include <seccomp.h>

#include <memory>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"

namespace runvm::agent {

class SeccompFilter {
 public:
  static Result<SeccompFilter> build(const proto::Seccomp& spec);
  // Installs the filter in the calling process.
  Status load() const;

 private:
  struct Release {
    void operator()(void* ctx) const { seccomp_release(ctx); }
  };
  explicit SeccompFilter(scmp_filter_ctx ctx) : ctx_(ctx) {}
  std::unique_ptr<void, Release> ctx_;
};

}  // namespace runvm::agent
