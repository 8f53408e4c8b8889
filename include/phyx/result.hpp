/// \file
/// phyx/result.hpp — a value or the exception that replaced it (SPEC 14.15).
#pragma once

#include <exception>
#include <optional>
#include <utility>

namespace phyx {

/// A value, or the exception that replaced it: what a Future settles with, and what
/// Future::then and Tools::pipe hand on.
template <class T>
class Result {
 public:
  /// Holds `value` (implicit, so `return value;` makes one).
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// Holds the failure `error`, which must not be null.
  Result(std::exception_ptr error) : error_(std::move(error)) {}  // NOLINT

  /// True when it holds a value.
  bool ok() const noexcept { return !error_; }
  /// The value; rethrows the error when not ok.
  T& value() & {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  /// The value; rethrows the error when not ok.
  const T& value() const& {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  /// The value, to move from; rethrows the error when not ok.
  T&& value() && {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }
  /// The failure; null when ok.
  std::exception_ptr error() const noexcept { return error_; }

 private:
  std::optional<T> value_;
  std::exception_ptr error_;
};

/// Success, or the exception that replaced it (a stop's future, Reply<void>).
template <>
class Result<void> {
 public:
  /// Success.
  Result() = default;
  /// Holds the failure `error`, which must not be null.
  Result(std::exception_ptr error) : error_(std::move(error)) {}  // NOLINT
  /// True on success.
  bool ok() const noexcept { return !error_; }
  /// Returns nothing on success; rethrows the error when not ok.
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  /// The failure; null when ok.
  std::exception_ptr error() const noexcept { return error_; }

 private:
  std::exception_ptr error_;
};

}  // namespace phyx
