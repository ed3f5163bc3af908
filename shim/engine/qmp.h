// QMP (QEMU Machine Protocol): a line-oriented JSON control channel.
// QmpProtocol is the transport-free state machine (greeting, capability
// negotiation, one outstanding command matched by id, events recorded
// whenever they come, even before the greeting);
// QmpClient drives it over a stream socket with deadlines.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class QmpProtocol {
 public:
  enum class State { kAwaitGreeting, kNegotiating, kReady };

  // The effect of one received line.
  struct Step {
    std::string send;                          // bytes to write to the peer, if any
    std::optional<Result<std::string>> reply;  // the pending command finished
  };

  State state() const { return state_; }
  bool ready() const { return state_ == State::kReady; }
  bool busy() const { return pending_id_.has_value(); }

  // Feeds one line (without its terminator). An error is a protocol
  // violation and ends the session; a QMP error reply is not (it arrives as
  // an error in Step::reply).
  Result<Step> on_line(std::string_view line);

  // Starts `cmd` with `args_json` (a JSON object, or empty); returns the
  // bytes to send. Requires ready() and !busy().
  Result<std::string> command(std::string_view cmd, std::string_view args_json = {});

  // Forgets the pending command (e.g. after a timeout); its late reply will
  // be ignored because ids never repeat.
  void abandon() { pending_id_.reset(); }

  // Names of asynchronous events seen so far (the most recent 64).
  std::deque<std::string> take_events() { return std::exchange(events_, {}); }

 private:
  Result<std::string> encode(std::string_view cmd, std::string_view args_json);
  Result<Step> handle(std::string_view line);  // on_line without the error's excerpt

  State state_ = State::kAwaitGreeting;
  uint64_t next_id_ = 1;
  std::optional<uint64_t> pending_id_;
  std::string pending_name_;
  std::deque<std::string> events_;
};

class QmpClient {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxLine = 1 << 20;

  // Connects to a unix socket, retrying while it does not exist yet or
  // refuses, until `timeout`. `abort_fd` (e.g. the server's pidfd), when
  // readable, ends all waiting early; -1 for none.
  static Result<UniqueFd> connect_unix(const std::string& path, std::chrono::milliseconds timeout,
                                       int abort_fd = -1);

  // Reads the greeting and negotiates capabilities on a connected stream.
  static Result<QmpClient> handshake(UniqueFd fd, std::chrono::milliseconds timeout,
                                     int abort_fd = -1);

  // Runs one command; returns its "return" value as JSON text.
  Result<std::string> execute(std::string_view cmd, std::string_view args_json = {},
                              std::chrono::milliseconds timeout = std::chrono::seconds(5));

  std::deque<std::string> take_events() { return protocol_.take_events(); }
  int fd() const { return fd_.get(); }

 private:
  QmpClient(UniqueFd fd, int abort_fd) : fd_(std::move(fd)), abort_fd_(abort_fd) {}
  Status send(std::string_view bytes, Clock::time_point deadline);
  Result<std::string> read_line(Clock::time_point deadline);
  // Waits for `events` on fd_; errors on deadline or abort_fd.
  Status wait_fd(short events, Clock::time_point deadline);

  UniqueFd fd_;
  int abort_fd_;
  std::string buffer_;
  QmpProtocol protocol_;
};

}  // namespace runvm
