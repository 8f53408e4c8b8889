// phyx/detail/state_ref.hpp — an owning reference to a future's state (not for users).
//
// A future's state (future_state.hpp) counts its holders itself: the Future and its copies,
// an ask's Reply, the stage or the timer that will time it out, a tools.ask's settlers.
// StateRef is the handle that holds one of those counts, as ProcessHandle holds a process.
//
// Why not std::shared_ptr (the design until session 18): an ask makes three holders at
// once (the Future, the Reply, the stage), and shared_ptr can only start at one and copy
// up, one locked increment per copy. A state whose count starts at the number of holders
// about to be made (FutureStateBase's constructor) hands each of them its reference with no
// atomic operation: an ask round trip pays three decrements instead of two increments and
// three decrements, and no control block. Weak references are not needed: a timeout's
// callback holds a strong one, and every settle cancels the timer, which destroys the
// callback at once (timer_node.hpp step 3), so the cycle state -> timer -> state lasts
// until the state settles, never longer than its timeout.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace phyx::detail {

/// One counted reference to a state S (FutureStateBase or a class derived from it, which
/// provides add_ref() and release()). Copying adds a reference (one relaxed increment);
/// moving is free; destroying drops it (one acq_rel decrement; the last one frees the state).
/// Any thread; one StateRef object is not for two threads at once.
template <class S>
class StateRef {
 public:
  StateRef() noexcept = default;
  /// Adopts one reference that the caller owns (counted already: the state's constructor
  /// counts its first holders). Never touches the count.
  explicit StateRef(S* s) noexcept : s_(s) {}
  StateRef(const StateRef& o) noexcept : s_(o.s_) {
    if (s_ != nullptr) s_->add_ref();
  }
  StateRef(StateRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  /// From a reference to a derived state (an AskState's to its FutureState<R>).
  template <class D, class = std::enable_if_t<std::is_convertible_v<D*, S*>>>
  StateRef(StateRef<D>&& o) noexcept : s_(o.detach()) {}  // NOLINT: implicit, as for pointers
  template <class D, class = std::enable_if_t<std::is_convertible_v<D*, S*>>>
  StateRef(const StateRef<D>& o) noexcept : s_(o.get()) {  // NOLINT: implicit, as for pointers
    if (s_ != nullptr) s_->add_ref();
  }
  StateRef& operator=(StateRef o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~StateRef() {
    if (s_ != nullptr) s_->release();
  }

  S* get() const noexcept { return s_; }
  S* operator->() const noexcept { return s_; }
  S& operator*() const noexcept { return *s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }
  friend bool operator==(const StateRef& a, std::nullptr_t) noexcept { return a.s_ == nullptr; }
  /// Drops the reference now.
  void reset() noexcept { StateRef().swap(*this); }
  void swap(StateRef& o) noexcept { std::swap(s_, o.s_); }
  /// Gives up the reference without dropping it: the caller now owns it.
  S* detach() noexcept { return std::exchange(s_, nullptr); }

 private:
  S* s_ = nullptr;
};

/// A new state of type S with one holder: the returned reference. Allocates (S's own
/// operator new: an ask's state comes from the worker's small blocks).
template <class S, class... Args>
StateRef<S> make_state(Args&&... args) {
  return StateRef<S>(new S(std::forward<Args>(args)...));
}

}  // namespace phyx::detail
