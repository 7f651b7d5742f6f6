// Status and Result<T>: how every glassbox component reports a recoverable
// error. No exception crosses a component boundary; callers check the value.
// Thread-compatible value types.
//
// A Status carries a code for callers that branch on the kind of failure
// (`glassbox log show` tells a missing record from a corrupt log) and a
// one-line reason for people. Status::Error(msg) is kUnknown: the caller
// can only report it. Give a code where a caller decides by it, and keep it
// when adding context to a message (WithMessage).
#pragma once

#include <cassert>
#include <optional>  // kept: many files get std::optional through this header
#include <string>
#include <utility>
#include <variant>

namespace glassbox {

enum class StatusCode {
  kOk = 0,
  kUnknown,          // an error with no more specific kind: Status::Error
  kNotFound,         // the thing asked for does not exist (a record id, a file)
  kCorruption,       // stored data fails its own checks (a bad hash, an undecodable row)
  kInvalidArgument,  // the caller's input is wrong (a bad flag value, not a log at all)
  kUnavailable,      // the store or service cannot be reached now; retrying may help
};

// "ok", "unknown", "not found", "corruption", "invalid argument", "unavailable".
constexpr const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kUnknown:
      return "unknown";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kCorruption:
      return "corruption";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    return Status(StatusCode::kUnknown, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(StatusCode::kNotFound, std::move(message));
  }
  static Status Corruption(std::string message) {
    return Status(StatusCode::kCorruption, std::move(message));
  }
  static Status InvalidArgument(std::string message) {
    return Status(StatusCode::kInvalidArgument, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(StatusCode::kUnavailable, std::move(message));
  }
  // An error of `code` (kOk gives Ok(), the message dropped).
  static Status WithCode(StatusCode code, std::string message) {
    return code == StatusCode::kOk ? Status() : Status(code, std::move(message));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  bool IsCorruption() const { return code_ == StatusCode::kCorruption; }
  bool IsInvalidArgument() const { return code_ == StatusCode::kInvalidArgument; }
  bool IsUnavailable() const { return code_ == StatusCode::kUnavailable; }
  // The one-line reason; empty when ok().
  const std::string& message() const { return message_; }
  // The same code with another message (context added); Ok stays Ok.
  Status WithMessage(std::string message) const { return WithCode(code_, std::move(message)); }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(data_).ok() && "a Result built from a Status must carry an error");
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace glassbox
