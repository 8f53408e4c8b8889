// phyx/task.hpp — Task<void>, the return type of coroutine handlers (SPEC 3).
//
// This issue ships the type so that Handler accepts the coroutine shape: a Task handler
// runs to completion on the worker that started it. Awaitables that suspend (co_await on
// a Future, tools.sleep) and resumption on another worker arrive with the asynchronous
// handlers issue; until then a Task that suspends is reported as a crash of its process.
#pragma once

#include <coroutine>
#include <exception>
#include <utility>

namespace phyx {

template <class T = void>
class Task;

template <>
class Task<void> {
 public:
  struct promise_type {
    std::exception_ptr error;
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  Task() = default;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  Task(Task&& o) noexcept : handle_(std::exchange(o.handle_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(o.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  /// Starts or resumes the coroutine on the calling thread. True when it has finished.
  bool resume() {
    if (!handle_ || handle_.done()) return true;
    handle_.resume();
    return handle_.done();
  }
  bool done() const noexcept { return !handle_ || handle_.done(); }
  /// Rethrows the exception that escaped the coroutine body, if any.
  void rethrow_if_failed() const {
    if (handle_ && handle_.promise().error) std::rethrow_exception(handle_.promise().error);
  }

 private:
  std::coroutine_handle<promise_type> handle_;
};

}  // namespace phyx
