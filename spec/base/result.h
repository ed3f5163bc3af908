// Result<T>: the one error-handling style of runvm. An Error carries a
// human-readable message built from context ("config.json: process.args:
// must not be empty") and, when it came from a syscall, the errno.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace runvm {

struct Error {
  std::string message;
  int code = 0;  // errno when the cause was a failing syscall, else 0

  // Prepends "ctx: " so errors read outermost-first.
  Error wrap(std::string_view ctx) const& { return Error{std::string(ctx) + ": " + message, code}; }
  Error wrap(std::string_view ctx) && {
    message.insert(0, std::string(ctx) + ": ");
    return std::move(*this);
  }
};

inline Error make_error(std::string message, int code = 0) {
  return Error{std::move(message), code};
}

// "what: strerror(e)" with code = e.
inline Error errno_error(std::string_view what, int e = errno) {
  return Error{std::string(what) + ": " + std::strerror(e), e};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  Result context(std::string_view ctx) && {
    if (!ok()) return std::get<1>(std::move(v_)).wrap(ctx);
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

  Result context(std::string_view ctx) && {
    if (failed_) return std::move(error_).wrap(ctx);
    return {};
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace runvm

// Evaluates a Result expression; on error returns it from the enclosing
// function, otherwise yields the value (GNU statement expression).
#define RUNVM_TRY(expr)                                             \
  ({                                                                \
    auto runvm_try_r_ = (expr);                                     \
    if (!runvm_try_r_.ok()) return std::move(runvm_try_r_).error(); \
    std::move(runvm_try_r_).value();                                \
  })

// Same for Status (Result<void>): no value.
#define RUNVM_CHECK(expr)                                           \
  do {                                                              \
    auto runvm_chk_r_ = (expr);                                     \
    if (!runvm_chk_r_.ok()) return std::move(runvm_chk_r_).error(); \
  } while (0)
