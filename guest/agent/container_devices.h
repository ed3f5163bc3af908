// The container's /dev as runc fills it, done by the container process after
// the config's mounts (so a device under a mounted path lands on top):
// runc's default nodes (null, zero, full, random, urandom, tty), the
// config's linux.devices (mknod with their mode and owner; an existing path
// is left alone, as runc does), the symlinks fd, stdin, stdout, stderr, ptmx
// (-> pts/ptmx) and core when /proc/kcore exists, /dev/shm unless the config
// mounts something there, and with a terminal /dev/console: the process's
// pty bound over it. Skipped when the config bind-mounts /dev, as in runc:
// that /dev is not ours to write.
#pragma once

#include <string>
#include <vector>

#include "guest/protocol/linux_spec.h"
#include "spec/base/result.h"

namespace runvm::agent {

// Whether the container process sets up /dev (no bind mount over it).
bool sets_up_dev(const std::vector<proto::Mount>& mounts);

// `root` is prefixed to every path ("" in the container process; a scratch
// directory in tests). `console_fd` >= 0: the pty slave for /dev/console.
Status populate_dev(const std::string& root, const std::vector<proto::Device>& devices,
                    const std::vector<proto::Mount>& mounts, int console_fd);

// One linux.devices entry at root + d.path (parents created).
Status make_device(const std::string& root, const proto::Device& d);

}  // namespace runvm::agent
