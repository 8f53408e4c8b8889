/// \file
/// phyx/task.hpp — Task<void>, the return type of coroutine handlers (SPEC 3).
///
/// A Task handler starts on the worker that takes its message and may suspend at a
/// co_await (phyx/await.hpp: any Future<T>, tools.sleep); its process then keeps it and
/// resumes it, on whichever worker runs the process next, when what it awaits is ready.
/// Frames come from the engine's allocator (a worker's size-class cache for small ones).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

#include "phyx/detail/small_blocks.hpp"

namespace phyx {

template <class T = void>
class Task;

/// A coroutine handler's return type: `phyx::Task<void> handle(State&, Msg&, auto& tools)`
/// with `co_await` in its body. Move-only; owns the coroutine frame and destroys it. Users
/// write such functions; the process starts, resumes and destroys the Task.
template <>
class Task<void> {
 public:
  /// The coroutine's promise (the C++ coroutine protocol; not called by users).
  struct promise_type {
    /// The frame, from the engine's allocator: the calling worker's cache for small ones.
    static void* operator new(std::size_t size) { return detail::allocate_small(size); }
    /// Returns the frame to that allocator.
    static void operator delete(void* p, std::size_t size) noexcept { detail::free_small(p, size); }
    std::exception_ptr error;  ///< what escaped the body, if anything (rethrow_if_failed)
    /// The Task that owns this frame.
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    /// Created suspended before its first statement: the process starts it.
    std::suspend_always initial_suspend() noexcept { return {}; }
    /// Stays suspended at its end, so done() can be read; the Task destroys the frame.
    std::suspend_always final_suspend() noexcept { return {}; }
    /// A `co_return;` or the end of the body.
    void return_void() noexcept {}
    /// Keeps the exception for rethrow_if_failed (the process then treats it as a crash).
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  /// No coroutine (done() is true).
  Task() = default;
  /// Owns the coroutine `h` (get_return_object).
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  /// Takes over `o`'s coroutine; `o` is left empty.
  Task(Task&& o) noexcept : handle_(std::exchange(o.handle_, {})) {}
  /// Destroys the coroutine held, then takes over `o`'s.
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
  /// True when the coroutine has finished, or there is none.
  bool done() const noexcept { return !handle_ || handle_.done(); }
  /// Rethrows the exception that escaped the coroutine body, if any.
  void rethrow_if_failed() const {
    if (handle_ && handle_.promise().error) std::rethrow_exception(handle_.promise().error);
  }

 private:
  std::coroutine_handle<promise_type> handle_;
};

}  // namespace phyx
