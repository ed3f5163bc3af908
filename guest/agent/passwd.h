// HOME from /etc/passwd, as runc sets it when the process's env has none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "spec/base/result.h"

namespace runvm::agent {

// The home field of a "name:password:uid:gid:gecos:home:shell" line whose
// uid is `uid` as runc (1.1) reads /etc/passwd: the line trimmed of white
// space, its uid field parsed as Go's strconv.Atoi ("007" and "+7" are 7;
// "", "7a" and a missing field are 0), a missing home field "". The home
// may be empty (runc then sets HOME=""). nullopt for an empty line and for
// another uid's.
std::optional<std::string_view> passwd_home(std::string_view line, uint32_t uid);

// The home of `uid` in the passwd file `fd` (its first matching line's,
// possibly empty; "/", runc's default, without a match), read to its end in
// page-sized reads. runc 1.1.5 reads the whole file with a bufio.Scanner and
// fails the process's set-up ("unable to find user 0: bufio.Scanner: token
// too long") on a line of 64 KiB or more anywhere in it, before or after the
// match, and on a read error ("read /etc/passwd: is a directory"): an error
// then, naming /etc/passwd. Plain read(2)s on a stack buffer: in the
// container's init every heap page it writes is a copy-on-write fault of the
// agent's, and each read of a file on virtio-fs a round trip, where an
// ifstream took several more of both.
Result<std::string> home_from_passwd(int fd, uint32_t uid);

}  // namespace runvm::agent
