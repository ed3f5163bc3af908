#include "runtime/pool_unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "spec/base/log.h"
#include "spec/base/unique_fd.h"
#include "spec/proc_start_time.h"

namespace runvm::cli::pool {

namespace {

std::string read_small(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return "";
  char buf[256];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    // Classes and units are directories; the pool's files (its lock, its
    // generation and that file's temporaries) are not.
    struct stat st;
    if (e->d_type != DT_DIR &&
        (e->d_type != DT_UNKNOWN || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
         !S_ISDIR(st.st_mode)))
      continue;
    out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

template <typename T>
bool number(std::string_view s, T& out) {
  // Decimal digits only: from_chars takes a sign for a signed T ("-0").
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return false;
  if (s[0] < '0' || s[0] > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<UnitRecord> parse_unit_record(std::string_view text) {
  if (text.empty() || text.back() != '\n') return std::nullopt;
  text.remove_suffix(1);
  size_t a = text.find(' ');
  if (a == std::string_view::npos) return std::nullopt;
  size_t b = text.find(' ', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  UnitRecord r;
  if (!number(text.substr(0, a), r.pid) || r.pid <= 0 ||
      !number(text.substr(a + 1, b - a - 1), r.start_time) ||
      !number(text.substr(b + 1), r.created_s) || r.created_s < 0)
    return std::nullopt;
  return r;
}

std::string format_unit_record(const UnitRecord& r) {
  return std::to_string(r.pid) + " " + std::to_string(r.start_time) + " " +
         std::to_string(r.created_s) + "\n";
}

const char* to_string(UnitState s) {
  switch (s) {
    case UnitState::kStarting:
      return "starting";
    case UnitState::kBooting:
      return "booting";
    case UnitState::kIdle:
      return "idle";
    case UnitState::kClaimed:
      return "claimed";
    case UnitState::kDead:
      return "dead";
  }
  return "?";
}

bool running(const std::optional<UnitRecord>& r) {
  if (!r) return false;
  auto t = oci::process_start_time(r->pid);
  if (!t.ok() || *t != r->start_time) return false;
  // A zombie (its filler has not reaped it) is gone too.
  std::string stat = read_small("/proc/" + std::to_string(r->pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

bool Unit::alive() const { return running(record); }
bool Unit::watcher_alive() const { return running(watcher); }

bool Unit::wait_gone(std::chrono::milliseconds timeout) const {
  return wait_all_gone({this}, timeout);
}

bool wait_all_gone(const std::vector<const Unit*>& units, std::chrono::milliseconds timeout) {
  struct Waited {
    const Unit* unit;
    UniqueFd pidfd;
  };
  std::vector<Waited> left;
  for (const Unit* u : units) {
    if (!u->record) continue;
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, u->record->pid, 0)));
    // Checked after the pidfd exists: it then names the shim, not a process
    // that took its pid since.
    if (u->alive()) left.push_back({u, std::move(pidfd)});
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::erase_if(left, [](const Waited& w) { return !w.unit->alive(); });
    if (left.empty()) return true;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (wait.count() <= 0) return false;
    std::vector<pollfd> fds;
    for (const auto& w : left)
      if (w.pidfd) fds.push_back({w.pidfd.get(), POLLIN, 0});
    // No pidfd (an old kernel): look again shortly.
    if (fds.size() < left.size()) wait = std::min(wait, std::chrono::milliseconds(10));
    // Readable once it exited; then a zombie until reaped, which alive()
    // counts as gone. One that exited stays readable: the others are
    // waited for without it (erased above).
    if (poll(fds.data(), fds.size(), static_cast<int>(wait.count())) < 0 && errno != EINTR)
      std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(10)));
  }
}

std::optional<Unit> read_claimed_unit(const std::string& root, const std::string& rel) {
  size_t slash = rel.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::string cls = rel.substr(0, slash), name = rel.substr(slash + 1);
  if (!validate_id(cls).ok() || !validate_id(name).ok()) return std::nullopt;
  Unit u = read_unit(root, cls, name);
  if (!u.dir().exists()) return std::nullopt;
  return u;
}

Unit read_unit(const std::string& root, const std::string& cls, const std::string& name) {
  Unit u{root, cls, name, std::nullopt, UnitState::kStarting, "", 0};
  std::string path = u.dir().path();
  u.record = parse_unit_record(read_small(path + "/" + kUnitFile));
  u.watcher = parse_unit_record(read_small(path + "/" + kWatcherFile));
  u.generation = read_small(path + "/" + kGenerationFile);
  struct stat st;
  int64_t made = stat(path.c_str(), &st) == 0 ? st.st_mtim.tv_sec : now_s();
  u.age_s = std::max<int64_t>(0, now_s() - (u.record ? u.record->created_s : made));
  if (struct stat owned; lstat((path + "/" + kOwnerFile).c_str(), &owned) == 0) {
    u.owned_s = std::max<int64_t>(0, now_s() - owned.st_mtim.tv_sec);
    u.owner = read_small(path + "/" + kOwnerFile);
    if (struct stat rel; lstat((path + "/" + kReleasedFile).c_str(), &rel) == 0)
      u.released_s = std::max<int64_t>(0, now_s() - rel.st_mtim.tv_sec);
    // A claimed unit whose shim is gone is dead too: its container (or
    // drain) removes it; status says so.
  }
  if (!u.record)
    u.state = u.age_s > kStartingTimeout.count() ? UnitState::kDead : UnitState::kStarting;
  else if (!u.alive())
    u.state = UnitState::kDead;
  else if (!u.owner.empty() || exists(path + "/" + kOwnerFile))
    u.state = UnitState::kClaimed;
  else if (exists(path + "/" + kReadyFile))
    u.state = UnitState::kIdle;
  else
    u.state = UnitState::kBooting;
  return u;
}

std::vector<Unit> list_units(const std::string& root, const std::string& cls) {
  std::vector<Unit> out;
  std::string pool = root + "/" + kPoolDir;
  std::vector<std::string> classes = cls.empty() ? entries(pool) : std::vector<std::string>{cls};
  for (const auto& c : classes) {
    if (!validate_id(c).ok()) continue;
    for (const auto& n : entries(pool + "/" + c))
      if (validate_id(n).ok()) out.push_back(read_unit(root, c, n));
  }
  return out;
}

bool take(const Unit& u, const std::string& owner) {
  std::string path = u.dir().path() + "/" + kOwnerFile;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return false;
  [[maybe_unused]] auto w = write(fd.get(), owner.data(), owner.size());
  return true;
}

bool take_refill(const Unit& u) {
  std::string path = u.dir().path() + "/" + kRefillFile;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  return static_cast<bool>(fd);
}

namespace {

// Ends `u`'s watcher. A container's unit: the watcher saw the claim long
// ago and normally exited after starting the refill; it is given a moment
// to (killed earlier, that refill would be lost). Otherwise (idle, drained,
// dead) it has nothing left to do.
void stop_watcher(const Unit& u) {
  if (!u.watcher_alive()) return;
  bool container = !u.owner.empty() && u.owner != kDrainOwner;
  for (int i = 0; container && i < 200 && u.watcher_alive(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!u.watcher_alive()) return;
  kill(u.watcher->pid, SIGTERM);
  for (int i = 0; i < 100 && u.watcher_alive(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (u.watcher_alive()) kill(u.watcher->pid, SIGKILL);
}

}  // namespace

void remove_unit(const Unit& u, std::chrono::milliseconds grace) { remove_units({&u}, grace); }

void remove_units(const std::vector<const Unit*>& units, std::chrono::milliseconds grace) {
  std::vector<const Unit*> ending;
  for (const Unit* u : units) {
    stop_watcher(*u);
    if (!u->alive()) continue;
    kill(u->record->pid, SIGTERM);
    ending.push_back(u);
  }
  if (!wait_all_gone(ending, grace)) {
    for (const Unit* u : ending)
      if (u->alive()) kill(u->record->pid, SIGKILL);  // QEMU follows it (PR_SET_PDEATHSIG)
    wait_all_gone(ending, std::chrono::seconds(10));
  }
  for (const Unit* u : units) {
    ContainerDir dir = u->dir();
    // Detached, so that nothing below is reachable through the dir while it
    // is removed; by descriptor, as its pod share is the guest's
    // (unmount_below).
    if (Status s = unmount_below(dir.path()); !s.ok())
      log::warn("pool unit " + u->rel() + ": " + s.error().message);
    if (!mounts_below(dir.path() + "/").empty()) {
      log::warn("pool unit " + u->rel() + ": still mounted below, left in place");
      continue;
    }
    (void)dir.remove();
    // The class dir goes once empty (a fill makes it again).
    rmdir((u->root + "/" + kPoolDir + "/" + u->cls).c_str());
  }
}

FillAction fill_action(const Unit& u, const std::string& current, uint64_t max_idle_s,
                       bool owner_exists) {
  if (!u.owner.empty()) {
    bool gone = u.owner == kDrainOwner || !validate_id(u.owner).ok() || !owner_exists;
    // A live one too once its taker had long enough: a claiming create
    // makes its container's dir right after the take, and a drain ends
    // what it took within seconds. Nothing else would ever end it.
    // A released one (its container deleted, its VM ending on its own)
    // gets the time its end may take.
    bool abandoned =
        u.state == UnitState::kDead || (u.released_s >= 0 ? u.released_s > kReleasedGrace.count()
                                                          : u.owned_s > kAbandonedClaim.count());
    return gone && abandoned ? FillAction::kRemoveOrphan : FillAction::kKeep;
  }
  bool old = max_idle_s > 0 && static_cast<uint64_t>(u.age_s) > max_idle_s;
  switch (u.state) {
    case UnitState::kDead:
    case UnitState::kStarting:
      return FillAction::kDrain;
    case UnitState::kBooting:
    case UnitState::kIdle:
      return u.cls != current || old ? FillAction::kDrain : FillAction::kKeep;
    case UnitState::kClaimed:
      return FillAction::kKeep;
  }
  return FillAction::kKeep;
}

std::optional<Unit> claim(const std::string& root, const std::string& cls, const std::string& id,
                          uint64_t max_idle_s) {
  for (const Unit& u : list_units(root, cls)) {
    bool old = max_idle_s > 0 && static_cast<uint64_t>(u.age_s) > max_idle_s;
    if (u.state == UnitState::kDead || (u.state == UnitState::kIdle && old)) {
      // Dead units nobody owns, and stale idle ones, are drained here.
      if (u.owner.empty() && take(u, kDrainOwner)) remove_unit(u, std::chrono::seconds(2));
      continue;
    }
    if (u.state != UnitState::kIdle || !take(u, id)) continue;
    // Ours now; it may have died since it was read.
    Unit mine = read_unit(root, cls, u.name);
    if (mine.alive()) return mine;
    remove_unit(mine, std::chrono::seconds(0));
  }
  return std::nullopt;
}

}  // namespace runvm::cli::pool
