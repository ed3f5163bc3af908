#include "shim/engine/qmp.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "spec/base/json.h"
#include "spec/base/unix_socket.h"

namespace runvm {
namespace {

constexpr size_t kMaxEvents = 64;

// Writes a parsed value back as JSON. Floating-point numbers are rejected:
// json::Value does not expose them, and no QMP command runvm uses returns one.
Status write_value(json::Writer& w, const json::Value& v) {
  if (v.is_null()) {
    w.null();
  } else if (v.is_object()) {
    w.begin_object();
    for (auto& [k, member] : RUNVM_TRY(v.as_object())) {
      w.key(k);
      RUNVM_CHECK(write_value(w, member));
    }
    w.end_object();
  } else if (v.is_array()) {
    w.begin_array();
    for (auto& item : RUNVM_TRY(v.as_array())) RUNVM_CHECK(write_value(w, item));
    w.end_array();
  } else if (v.is_string()) {
    w.string(RUNVM_TRY(v.as_string()));
  } else if (auto b = v.as_bool()) {
    w.boolean(*b);
  } else if (auto i = v.as_int()) {
    w.integer(*i);
  } else if (auto u = v.as_uint()) {
    w.uinteger(*u);
  } else {
    return v.error("unsupported JSON number");
  }
  return {};
}

Result<std::string> to_json(const json::Value& v) {
  json::Writer w;
  RUNVM_CHECK(write_value(w, v));
  return w.str();
}

// A string member of an object, or "" when absent or not a string.
std::string member_string(const json::Value& v, std::string_view key) {
  auto m = v.get(key);
  if (!m || !*m) return "";
  auto s = (*m)->as_string();
  return s ? *s : "";
}

// A received line as it may appear in an error message: at most 160 bytes,
// control and non-ASCII bytes as \xNN, so a hostile or garbled peer cannot
// flood or corrupt the log line it ends up in.
std::string excerpt(std::string_view line) {
  constexpr size_t kMax = 160;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < line.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (line.size() > kMax) out += "...";
  return out;
}

}  // namespace

Result<std::string> QmpProtocol::encode(std::string_view cmd, std::string_view args_json) {
  json::Writer head;
  head.string(cmd);
  std::string out = "{\"execute\":" + head.str();
  if (!args_json.empty()) {
    // Validate here so a malformed argument never desynchronizes the stream.
    auto doc = RUNVM_TRY(json::Document::parse(args_json).context("qmp arguments"));
    if (!doc.root().is_object()) return make_error("qmp arguments: must be an object");
    out += ",\"arguments\":" + RUNVM_TRY(to_json(doc.root()));
  }
  pending_id_ = next_id_++;
  pending_name_ = std::string(cmd);
  out += ",\"id\":" + std::to_string(*pending_id_) + "}\n";
  return out;
}

Result<std::string> QmpProtocol::command(std::string_view cmd, std::string_view args_json) {
  if (!ready()) return make_error("qmp: session not ready");
  if (busy()) return make_error("qmp: command " + pending_name_ + " still pending");
  return encode(cmd, args_json);
}

Result<QmpProtocol::Step> QmpProtocol::on_line(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty()) return Step{};
  auto step = handle(line);
  // The session ends here: say what QEMU actually sent.
  if (!step)
    return make_error(step.error().message + "; received: " + excerpt(line), step.error().code);
  return step;
}

Result<QmpProtocol::Step> QmpProtocol::handle(std::string_view line) {
  auto doc = RUNVM_TRY(json::Document::parse(line).context("qmp"));
  json::Value root = doc.root();
  if (!root.is_object()) return make_error("qmp: message is not an object");

  if (state_ == State::kAwaitGreeting && RUNVM_TRY(root.get("QMP"))) {
    state_ = State::kNegotiating;
    return Step{RUNVM_TRY(encode("qmp_capabilities", {})), std::nullopt};
  }

  // Events can come before the greeting: QEMU (7.2) lets its main thread
  // write an event (RESUME as the VM starts) to a client that its monitor
  // I/O thread has accepted but not yet greeted, as that thread sets the
  // "not negotiated yet" gate only when it sends the greeting.
  if (auto ev = RUNVM_TRY(root.get("event"))) {
    if (events_.size() == kMaxEvents) events_.pop_front();
    events_.push_back(RUNVM_TRY(ev->as_string().context("qmp event")));
    return Step{};
  }

  if (state_ == State::kAwaitGreeting) return make_error("qmp: expected greeting");

  auto ret = RUNVM_TRY(root.get("return"));
  auto err = RUNVM_TRY(root.get("error"));
  if (!ret && !err) return make_error("qmp: message is neither reply nor event");
  // Replies carry our id; one without an id answers a command QEMU could
  // not even parse, which can only be the pending one.
  if (auto id = RUNVM_TRY(root.get("id"))) {
    auto n = id->as_uint();
    if (!n || !pending_id_ || *n != *pending_id_) return Step{};  // stale reply
  } else if (!pending_id_) {
    return Step{};  // late reply to an abandoned command
  }
  pending_id_.reset();

  Result<std::string> reply = std::string();
  if (err) {
    std::string cls = member_string(*err, "class"), desc = member_string(*err, "desc");
    reply = make_error("qmp " + pending_name_ + ": " + (cls.empty() ? "" : cls + ": ") +
                       (desc.empty() ? "error" : desc));
  } else {
    reply = to_json(*ret).context("qmp " + pending_name_ + ": return");
  }

  if (state_ == State::kNegotiating) {
    if (!reply) return std::move(reply).error();
    state_ = State::kReady;
    return Step{};
  }
  return Step{"", std::move(reply)};
}

Status QmpClient::wait_fd(short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return make_error("qmp: timed out", ETIMEDOUT);
    pollfd fds[2] = {{fd_.get(), events, 0}, {abort_fd_, POLLIN, 0}};
    int n = ::poll(fds, abort_fd_ >= 0 ? 2 : 1, static_cast<int>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("qmp: poll");
    }
    if (abort_fd_ >= 0 && fds[1].revents) return make_error("qmp: peer process exited", ECHILD);
    if (fds[0].revents) return {};
  }
}

Status QmpClient::send(std::string_view bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        RUNVM_CHECK(wait_fd(POLLOUT, deadline));
        continue;
      }
      return errno_error("qmp: send");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> QmpClient::read_line(Clock::time_point deadline) {
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (buffer_.size() > kMaxLine) return make_error("qmp: line too long");
    RUNVM_CHECK(wait_fd(POLLIN, deadline));
    char chunk[4096];
    ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno_error("qmp: recv");
    }
    if (n == 0) return make_error("qmp: connection closed", EPIPE);
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

Result<UniqueFd> QmpClient::connect_unix(const std::string& path, std::chrono::milliseconds timeout,
                                         int abort_fd) {
  auto addr = RUNVM_TRY(unix_address(path).context("qmp"));
  const auto deadline = Clock::now() + timeout;
  auto delay = std::chrono::milliseconds(5);
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return errno_error("qmp: socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    int e = errno;
    // The server creates the socket some time after it starts.
    if (e != ENOENT && e != ECONNREFUSED && e != EINTR)
      return errno_error("qmp: connect " + path, e);
    if (Clock::now() >= deadline) return errno_error("qmp: connect " + path + ": timed out", e);
    if (abort_fd >= 0) {
      pollfd p{abort_fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(delay.count())) > 0)
        return make_error("qmp: peer process exited", ECHILD);
    } else {
      std::this_thread::sleep_for(delay);
    }
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

Result<QmpClient> QmpClient::handshake(UniqueFd fd, std::chrono::milliseconds timeout,
                                       int abort_fd) {
  QmpClient c(std::move(fd), abort_fd);
  const auto deadline = Clock::now() + timeout;
  while (!c.protocol_.ready()) {
    auto line = RUNVM_TRY(c.read_line(deadline).context("qmp handshake"));
    auto step = RUNVM_TRY(c.protocol_.on_line(line));
    if (!step.send.empty()) RUNVM_CHECK(c.send(step.send, deadline));
  }
  return c;
}

Result<std::string> QmpClient::execute(std::string_view cmd, std::string_view args_json,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto bytes = RUNVM_TRY(protocol_.command(cmd, args_json));
  auto finish = [&]() -> Result<std::string> {
    RUNVM_CHECK(send(bytes, deadline));
    for (;;) {
      auto line = RUNVM_TRY(read_line(deadline));
      auto step = RUNVM_TRY(protocol_.on_line(line));
      if (step.reply) return std::move(*step.reply);
    }
  };
  auto r = finish();
  if (!r && protocol_.busy()) protocol_.abandon();
  return r;
}

}  // namespace runvm
