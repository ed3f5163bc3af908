// Which StdioKind stands for a host fd: what the process gets in the guest
// for the stdio its caller gave runvm (runc hands the fd itself over).
#pragma once

#include <optional>

#include "guest/protocol/container_messages.h"

namespace runvm::proto {

// nullopt: no stream at all, the process gets the guest's /dev/null (for
// /dev/null, and for a closed fd). A FIFO is a pipe, a socket a socket, a
// terminal a tty, a regular file a file (with O_APPEND: kAppendFile);
// anything else (another device, a directory) is relayed through a pipe.
std::optional<StdioKind> stdio_kind_of_fd(int fd);

// For a process without a terminal: the window size of the first of
// `ports`' tty streams (fd i stands for stream i), for its guest ptys to
// start with; nullopt when there is none.
std::optional<ConsoleSize> tty_stream_size(const StdioPorts& ports);

}  // namespace runvm::proto
