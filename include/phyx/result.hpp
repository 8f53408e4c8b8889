// phyx/result.hpp — a value or the exception that replaced it (SPEC 14.15).
#pragma once

#include <exception>
#include <optional>
#include <utility>

namespace phyx {

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(std::exception_ptr error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return !error_; }
  /// The value; rethrows the error when not ok.
  T& value() & {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  const T& value() const& {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  T&& value() && {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }
  std::exception_ptr error() const noexcept { return error_; }

 private:
  std::optional<T> value_;
  std::exception_ptr error_;
};

template <>
class Result<void> {
 public:
  Result() = default;
  Result(std::exception_ptr error) : error_(std::move(error)) {}  // NOLINT
  bool ok() const noexcept { return !error_; }
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::exception_ptr error() const noexcept { return error_; }

 private:
  std::exception_ptr error_;
};

}  // namespace phyx
