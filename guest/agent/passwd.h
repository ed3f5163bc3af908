// HOME from /etc/passwd, as runc sets it when the process's env has none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runvm::agent {

// The home field of a "name:password:uid:gid:gecos:home:shell" line whose
// uid is `uid` as runc (1.1) reads /etc/passwd: the line trimmed of white
// space, its uid field parsed as Go's strconv.Atoi ("007" and "+7" are 7;
// "", "7a" and a missing field are 0), a missing home field "". The home
// may be empty (runc then sets HOME=""). nullopt for an empty line and for
// another uid's.
std::optional<std::string_view> passwd_home(std::string_view line, uint32_t uid);

// The home of `uid` in the passwd file `fd` (its first matching line's,
// possibly empty), read to its end in page-sized
// reads; "/" (runc's default) without a match, on a read error or a line
// over 64 KiB. Plain
// read(2)s on a stack buffer: in the container's init every heap page it
// writes is a copy-on-write fault of the agent's, and each read of a file on
// virtio-fs a round trip, where an ifstream took several more of both.
std::string home_from_passwd(int fd, uint32_t uid);

}  // namespace runvm::agent
