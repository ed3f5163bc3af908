#include "spec/cgroup/fake_systemd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "spec/base/unique_fd.h"
#include "spec/cgroup/cgroup.h"

namespace runvm::cgroup {
namespace {

constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

// One variant's value as text; `pids` collects an "au".
int read_variant(sd_bus_message* m, std::string& out, std::vector<pid_t>& pids) {
  char type;
  const char* contents;
  int r = sd_bus_message_peek_type(m, &type, &contents);
  if (r < 0) return r;
  std::string sig = contents;
  r = sd_bus_message_enter_container(m, 'v', contents);
  if (r < 0) return r;
  if (sig == "s") {
    const char* s;
    r = sd_bus_message_read(m, "s", &s);
    out = s;
  } else if (sig == "b") {
    int b;
    r = sd_bus_message_read(m, "b", &b);
    out = b ? "true" : "false";
  } else if (sig == "t") {
    uint64_t t;
    r = sd_bus_message_read(m, "t", &t);
    out = std::to_string(t);
  } else if (sig == "au") {
    r = sd_bus_message_enter_container(m, 'a', "u");
    uint32_t u;
    while (r >= 0 && (r = sd_bus_message_read(m, "u", &u)) > 0) {
      out += (out.empty() ? "" : ",") + std::to_string(u);
      pids.push_back(static_cast<pid_t>(u));
    }
    if (r >= 0) r = sd_bus_message_exit_container(m);
  } else if (sig == "ay") {
    // A CPU mask (AllowedCPUs): its bytes in hex.
    const void* data = nullptr;
    size_t size = 0;
    r = sd_bus_message_read_array(m, 'y', &data, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; r >= 0 && i < size; ++i) {
      uint8_t b = static_cast<const uint8_t*>(data)[i];
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  } else {
    out = "(" + sig + ")";
    r = sd_bus_message_skip(m, contents);
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

// A unit's properties, a(sv): each "\nName=value" appended to `record`.
int read_properties(sd_bus_message* m, std::string& record, std::vector<pid_t>& pids) {
  int r = sd_bus_message_enter_container(m, 'a', "(sv)");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
    const char* name;
    std::string value;
    r = sd_bus_message_read(m, "s", &name);
    if (r >= 0) r = read_variant(m, value, pids);
    if (r >= 0) r = sd_bus_message_exit_container(m);
    if (r < 0) return r;
    record += std::string("\n") + name + "=" + value;
  }
  return r;
}

}  // namespace

Result<std::unique_ptr<FakeSystemd>> FakeSystemd::start(const std::string& dir, Layout layout,
                                                        std::string base) {
  std::unique_ptr<FakeSystemd> f(new FakeSystemd);
  f->layout_ = std::move(layout);
  f->base_ = std::move(base);
  f->socket_ = dir + "/system_bus_socket";
  std::string conf = dir + "/bus.conf";
  std::ofstream(conf)
      << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration "
         "1.0//EN\" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
         "<busconfig><listen>unix:path="
      << f->socket_
      << "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
         "<allow user=\"*\"/><allow own=\"*\"/><allow send_destination=\"*\"/>"
         "<allow receive_sender=\"*\"/></policy></busconfig>\n";
  // dbus-daemon prints its address on this pipe once it listens: the socket
  // file alone appears at bind(), before listen(), and a client connecting
  // in between is refused.
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return errno_error("pipe");
  UniqueFd ready_rd(ready[0]), ready_wr(ready[1]);
  f->daemon_ = fork();
  if (f->daemon_ < 0) return errno_error("fork");
  if (f->daemon_ == 0) {
    // Its complaints (it cannot raise its fd limit here) go to a log.
    int log = open((dir + "/dbus-daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) dup2(log, 2);
    fcntl(ready_wr.get(), F_SETFD, 0);
    std::string arg = "--config-file=" + conf;
    std::string print = "--print-address=" + std::to_string(ready_wr.get());
    execlp("dbus-daemon", "dbus-daemon", arg.c_str(), "--nofork", "--nopidfile", print.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  ready_wr.reset();
  pollfd p{ready_rd.get(), POLLIN, 0};
  char line[512];
  if (poll(&p, 1, 5000) != 1 || read(ready_rd.get(), line, sizeof line) <= 0)
    return make_error("dbus-daemon did not start (see " + dir + "/dbus-daemon.log)");
  std::string address = "unix:path=" + f->socket_;
  int r = sd_bus_new(&f->bus_);
  if (r >= 0) r = sd_bus_set_address(f->bus_, address.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(f->bus_, 1);
  if (r >= 0) r = sd_bus_start(f->bus_);
  if (r >= 0) r = sd_bus_request_name(f->bus_, "org.freedesktop.systemd1", 0);
  if (r < 0) return errno_error("fake systemd: bus", -r);
  // A plain object callback: the Manager methods runvm calls.
  r = sd_bus_add_object(
      f->bus_, &f->slot_, kPath,
      [](sd_bus_message* m, void* self, sd_bus_error* e) -> int {
        if (sd_bus_message_is_method_call(m, kManager, "StartTransientUnit"))
          return on_start(m, self, e);
        if (sd_bus_message_is_method_call(m, kManager, "StopUnit")) return on_stop(m, self, e);
        if (sd_bus_message_is_method_call(m, kManager, "SetUnitProperties"))
          return on_set(m, self, e);
        return 0;
      },
      f.get());
  if (r < 0) return errno_error("fake systemd: object", -r);
  setenv("DBUS_SYSTEM_BUS_ADDRESS", address.c_str(), 1);
  f->thread_ = std::thread([p = f.get()] { p->serve(); });
  return f;
}

FakeSystemd::~FakeSystemd() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  sd_bus_slot_unref(slot_);
  sd_bus_flush_close_unref(bus_);
  if (daemon_ > 0) {
    kill(daemon_, SIGTERM);
    waitpid(daemon_, nullptr, 0);
  }
}

void FakeSystemd::serve() {
  while (!stop_) {
    int r = sd_bus_process(bus_, nullptr);
    if (r < 0) return;
    if (r == 0) sd_bus_wait(bus_, 50 * 1000);
  }
}

std::vector<std::string> FakeSystemd::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

int FakeSystemd::job_done(sd_bus_message* m, const std::string& unit) {
  uint32_t id;
  {
    std::lock_guard lock(mu_);
    id = next_job_++;
  }
  std::string job = std::string(kPath) + "/job/" + std::to_string(id);
  int r = sd_bus_reply_method_return(m, "o", job.c_str());
  if (r < 0) return r;
  return sd_bus_emit_signal(bus_, kPath, kManager, "JobRemoved", "uoss", id, job.c_str(),
                            unit.c_str(), "done");
}

int FakeSystemd::on_start(sd_bus_message* m, void* self, sd_bus_error* e) {
  auto* f = static_cast<FakeSystemd*>(self);
  const char *unit, *mode;
  int r = sd_bus_message_read(m, "ss", &unit, &mode);
  if (r < 0) return r;
  std::string record = std::string("StartTransientUnit ") + unit + " " + mode;
  std::string slice = "system.slice";
  std::vector<pid_t> pids;
  r = read_properties(m, record, pids);
  if (r < 0) return r;
  if (auto at = record.find("\nSlice="); at != std::string::npos)
    slice = record.substr(at + 7, record.find('\n', at + 1) - (at + 7));
  r = sd_bus_message_exit_container(m);
  if (r < 0) return r;
  // systemd makes the scope's cgroup and moves the PIDs there.
  auto cg = Cgroup::resolve(f->layout_, f->cgroup_path(slice, unit));
  Status placed = cg.ok() ? cg->create() : Status(cg.error());
  for (pid_t pid : pids)
    if (placed.ok()) placed = cg->join(pid);
  {
    std::lock_guard lock(f->mu_);
    f->calls_.push_back(record);
    if (placed.ok()) f->units_.emplace_back(unit, slice);
  }
  if (!placed.ok())
    return sd_bus_error_set(e, "org.freedesktop.systemd1.UnitFailed",
                            placed.error().message.c_str());
  return f->job_done(m, unit);
}

int FakeSystemd::on_set(sd_bus_message* m, void* self, sd_bus_error* e) {
  auto* f = static_cast<FakeSystemd*>(self);
  const char* unit;
  int runtime = 0;
  int r = sd_bus_message_read(m, "sb", &unit, &runtime);
  if (r < 0) return r;
  std::string record = std::string("SetUnitProperties ") + unit + (runtime ? " true" : " false");
  std::vector<pid_t> pids;
  r = read_properties(m, record, pids);
  if (r < 0) return r;
  bool known = false;
  {
    std::lock_guard lock(f->mu_);
    f->calls_.push_back(record);
    for (const auto& u : f->units_) known = known || u.first == unit;
  }
  if (!known)
    return sd_bus_error_setf(e, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", unit);
  return sd_bus_reply_method_return(m, "");
}

int FakeSystemd::on_stop(sd_bus_message* m, void* self, sd_bus_error* e) {
  auto* f = static_cast<FakeSystemd*>(self);
  const char *unit, *mode;
  int r = sd_bus_message_read(m, "ss", &unit, &mode);
  if (r < 0) return r;
  std::string slice;
  {
    std::lock_guard lock(f->mu_);
    f->calls_.push_back(std::string("StopUnit ") + unit + " " + mode);
    for (auto it = f->units_.begin(); it != f->units_.end(); ++it)
      if (it->first == unit) {
        slice = it->second;
        f->units_.erase(it);
        break;
      }
  }
  if (slice.empty())
    return sd_bus_error_setf(e, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", unit);
  // Stopping a scope kills what is in it, then its cgroup goes (and here
  // the slice and base the fake made, when empty).
  auto cg = Cgroup::resolve(f->layout_, f->cgroup_path(slice, unit));
  if (cg.ok()) {
    for (pid_t pid : cg->pids()) kill(pid, SIGKILL);
    for (int i = 0; i < 500 && !cg->pids().empty(); ++i) usleep(10 * 1000);
    (void)cg->remove();
    for (auto parent : {f->base_ + "/" + slice, f->base_})
      if (auto p = Cgroup::resolve(f->layout_, parent); p.ok()) (void)p->remove();
  }
  return f->job_done(m, unit);
}

}  // namespace runvm::cgroup
