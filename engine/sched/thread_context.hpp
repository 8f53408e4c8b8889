// engine/sched/thread_context.hpp — what the calling thread is doing for the engine.
//
// Thread-local by nature (not shared state): which process runs here, whether this thread
// may block (workers and deterministic handlers may not), and how a Reply destroyed here
// fails. Each is set by a scope guard and restored on exit, so nesting (a deterministic
// Future::get() driving handlers) is safe.
#pragma once

namespace phyx::detail {

class ProcessCore;
class EnvelopeCache;
class TimerStage;
struct KeepCredits;
struct ShareCredits;
class DeferredReleases;
struct IdBlock;

/// How an unanswered Reply destroyed on this thread fails.
enum class DropContext { crash_or_unanswered, stopping };

struct ThreadContext {
  ProcessCore* process = nullptr;  // whose init / handle / on_stop runs here
  int engine_depth = 0;            // > 0: a worker, or a handler in deterministic mode
  DropContext drop = DropContext::crash_or_unanswered;
  EnvelopeCache* envelopes = nullptr;  // a worker's recycled envelope blocks (mailbox/envelope_cache.hpp)
  KeepCredits* keeps = nullptr;        // a worker's keeps on its runtime (runtime/keep_credits.hpp)
  IdBlock* ids = nullptr;              // a worker's process ids (runtime/id_blocks.hpp)
  ShareCredits* shares = nullptr;      // a worker's units on a SharedSpec (detail/share_count.hpp)
  TimerStage* timer_stage = nullptr;   // a worker's staged timers (timer/timer_service.hpp step 0)
  DeferredReleases* releases =
      nullptr;  // a worker's deferred process drops (runtime/deferred_releases.hpp)
  // The running handler had a send refused by a full lane: its turn ends (sched/README.md,
  // "Backpressure"). Cleared before each handler, read after it.
  bool refused_full = false;
  // The worker that last ran the receiver of that refused send (Mailbox::last_worker()):
  // the scheduler may move the refused sender there (sched/README.md, "fan-in").
  // Meaningful only while refused_full is set.
  unsigned char refused_at_worker = 0xff;
};

ThreadContext& thread_context() noexcept;

/// Marks the thread as an engine thread for the scope (Future::get() would deadlock here).
class EngineThreadScope {
 public:
  EngineThreadScope() noexcept { ++thread_context().engine_depth; }
  ~EngineThreadScope() { --thread_context().engine_depth; }
  EngineThreadScope(const EngineThreadScope&) = delete;
  EngineThreadScope& operator=(const EngineThreadScope&) = delete;
};

/// A worker thread's envelope cache for the scope (the worker's whole life).
class EnvelopeCacheScope {
 public:
  explicit EnvelopeCacheScope(EnvelopeCache* cache) noexcept : saved_(thread_context().envelopes) {
    thread_context().envelopes = cache;
  }
  ~EnvelopeCacheScope() { thread_context().envelopes = saved_; }
  EnvelopeCacheScope(const EnvelopeCacheScope&) = delete;
  EnvelopeCacheScope& operator=(const EnvelopeCacheScope&) = delete;

 private:
  EnvelopeCache* saved_;
};

/// A worker thread's timer stage for the scope (the worker's whole life).
class TimerStageScope {
 public:
  explicit TimerStageScope(TimerStage* stage) noexcept : saved_(thread_context().timer_stage) {
    thread_context().timer_stage = stage;
  }
  ~TimerStageScope() { thread_context().timer_stage = saved_; }
  TimerStageScope(const TimerStageScope&) = delete;
  TimerStageScope& operator=(const TimerStageScope&) = delete;

 private:
  TimerStage* saved_;
};

class CurrentProcessScope {
 public:
  explicit CurrentProcessScope(ProcessCore* p) noexcept : saved_(thread_context().process) {
    thread_context().process = p;
  }
  ~CurrentProcessScope() { thread_context().process = saved_; }
  CurrentProcessScope(const CurrentProcessScope&) = delete;
  CurrentProcessScope& operator=(const CurrentProcessScope&) = delete;

 private:
  ProcessCore* saved_;
};

class DropContextScope {
 public:
  explicit DropContextScope(DropContext d) noexcept : saved_(thread_context().drop) { thread_context().drop = d; }
  ~DropContextScope() { thread_context().drop = saved_; }
  DropContextScope(const DropContextScope&) = delete;
  DropContextScope& operator=(const DropContextScope&) = delete;

 private:
  DropContext saved_;
};

}  // namespace phyx::detail
