// phyx/detail/mailbox.hpp — a process's two lanes and the word that governs them.
//
// The layout lives here because ProcessCore embeds the mailbox (no extra allocation per
// process); the protocol, with its design comment, is engine/mailbox/mailbox.cpp, and
// the transitions of the state word are engine/mailbox/lane_word.hpp.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "phyx/detail/mpsc_queue.hpp"
#include "phyx/detail/user_lane.hpp"
#include "phyx/status.hpp"

namespace phyx::detail {

class FutureStateBase;

/// One user message, linked into the user lane through its MailNode base.
struct Envelope : MailNode {
  std::uint64_t seq = 0;  // given at the head of the lane: the n-th message out has seq n-1
  /// Set for ask messages: a refused send fails this ask with ProcessError before the
  /// envelope (and the Reply inside it) is destroyed. Non-owning: the Reply owns it.
  FutureStateBase* ask = nullptr;
  virtual ~Envelope() = default;
  virtual std::string_view msg_type() const noexcept = 0;
  /// Destroys the message inside (its destructors run now: an unanswered Reply fails) and
  /// keeps the envelope, which the user lane may still link through (user_lane.hpp step 3).
  /// Once; the envelope's destructor then destroys nothing more. Mailbox::retire() calls it.
  virtual void destroy_message() noexcept = 0;
  /// Any thread. On a worker, from its recycled blocks (engine/mailbox/envelope_cache.hpp);
  /// elsewhere from the allocator. Sized delete: the virtual destructor passes the size of
  /// the most derived envelope.
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size) noexcept;
};

/// Envelopes that left the lane unhandled (evicted or discarded), oldest first, linked
/// through their `next`. The mailbox hands them out; the caller counts, reports and frees
/// them after letting go of the lane, so no user destructor runs while the head is held.
struct DropChain {
  Envelope* head = nullptr;
  Envelope* tail = nullptr;
  std::size_t size = 0;
  bool empty() const noexcept { return head == nullptr; }
  void append(Envelope* e) noexcept {
    e->next.store(nullptr, std::memory_order_relaxed);  // a private list now: no other thread sees it
    if (tail != nullptr) {
      tail->next.store(e, std::memory_order_relaxed);  // private list
    } else {
      head = e;
    }
    tail = e;
    ++size;
  }
  Envelope* pop_front() noexcept {
    Envelope* e = head;
    head = static_cast<Envelope*>(e->next.load(std::memory_order_relaxed));  // private list
    if (head == nullptr) tail = nullptr;
    --size;
    return e;
  }
};

class Mailbox {
 public:
  /// The result of offering a user message (the caller then pushes it, if accepted).
  enum class Offer : std::uint8_t { accepted, refused_closed, refused_full };
  struct Admission {
    Offer offer;
    bool evicting;   // drop_oldest at a full lane: one oldest message goes
    bool holds_head;  // this sender carries out owed evictions: call release_head()
    bool wake;       // the process went idle -> scheduled: enqueue it after the push
    std::size_t queued;  // queued after this offer (the full size when refused)
  };
  enum class Take : std::uint8_t { message, nothing, busy };

  /// `scheduled`: the process starts in the consumer role (it runs init first).
  explicit Mailbox(bool scheduled) noexcept;
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // ---- senders (any thread; no lock; no allocation) ----
  /// Reserves room (or refuses) with one CAS. Spins only while 16M drop_oldest evictions
  /// are pending. When `holds_head`, the caller must call release_head() after push().
  Admission offer(std::size_t max_inbox, MailboxPolicy policy) noexcept;
  /// Evicts what is owed (oldest first) while holding the head. Call it before push() so
  /// the new message is never the one evicted; then push(), then release_head().
  void evict_owed(DropChain& evicted) noexcept;
  /// Links an accepted message (wait-free).
  void push(Envelope* e) noexcept { user_.push(e); }
  /// Lets go of the head, first evicting anything owed meanwhile.
  void release_head(DropChain& evicted) noexcept;

  // ---- system lane ----
  /// Any thread. True when this post moved the process from idle to scheduled.
  bool post_system(MailNode* n) noexcept;
  /// Owner. The oldest system message, or nullptr (empty, or a post still in flight,
  /// which then reschedules the process itself).
  MailNode* pop_system() noexcept { return system_.pop(); }

  // ---- the owner (the thread holding `scheduled`) ----
  /// Takes the oldest user message if the owner wants user messages; carries out owed
  /// evictions on the way. `busy`: another thread holds the head for an instant. The
  /// message stays the lane's dummy (user_lane.hpp step 3): the owner hands it back with
  /// retire(), never with delete. Frees the previous message's envelope; never blocks.
  /// Under `reject`, no atomic RMW: plain stores and one load (step 3).
  Take take(Envelope*& out, DropChain& evicted, MailboxPolicy policy) noexcept;
  /// Owner, once done with the message take() gave it (handled, failed, or dropped with a
  /// suspended handler): destroys the message (its destructors run here) and leaves the
  /// envelope to the lane, which frees it at the next take or at destruction. Never blocks.
  void retire(Envelope* e) noexcept;
  /// Clears `scheduled` unless work arrived (or the owner's own note is set): true when the
  /// process is now idle.
  bool try_idle() noexcept;
  /// Owner: whether the owner handles user messages now. While the caller holds
  /// `scheduled` (always, in a process) no atomic write: try_idle() installs it. Never blocks.
  void set_wants_user(bool on) noexcept;
  /// Any thread: refuse further sends (idempotent).
  void close() noexcept;
  /// Owner: as close(), but without a write when the lane is closed already (only the
  /// owner reopens, so what it reads cannot change under it). Never blocks.
  void close_as_owner() noexcept;
  /// Owner, as its process enters a group restart's wait: accept sends again if a failure
  /// closed the lane (its queued messages are kept); one load if it is open. Never reopens
  /// a lane that shutdown abandoned. Never blocks; never allocates.
  void reopen() noexcept;
  /// Owner, on a closed lane: removes every queued message (owed evictions first). An
  /// empty closed lane costs one load (step 6).
  void discard_all(DropChain& evicted, DropChain& discarded) noexcept;
  /// Shutdown, at the deadline, beside a worker that may still be inside the process:
  /// closes the lane, takes the head for good (so that worker never unlinks again) and
  /// removes every queued message. It waits only while another thread holds the head (an
  /// evicting sender, the owner mid-take under drop_oldest, or the owner's own discard) or,
  /// under `reject`, while the owner is inside one take: for that it blocks for one system
  /// call (the asymmetric fence of step 6). `policy`: the lane's, as for take().
  void abandon_all(DropChain& evicted, DropChain& discarded, MailboxPolicy policy) noexcept;
  /// abandon_all() in two halves, for shutdown's batch (one heavy fence for many lanes,
  /// step 6). Shutdown's thread only; neither allocates.
  /// seal_abandoned(): closes the lane and takes the head for good; true if this call took
  /// it (false: abandoned already). Waits only while another thread holds the head.
  /// finish_abandoned(): once per lane, only on a lane whose seal_abandoned() returned true
  /// on this thread, and, for a `reject` lane, only after this thread's
  /// asymmetric_fence_heavy() made after that seal (otherwise it could unlink beside the
  /// owner's take). Waits while the owner is inside one take and while a counted push is
  /// between its two instructions, then removes every queued message.
  [[nodiscard]] bool seal_abandoned() noexcept;
  void finish_abandoned(DropChain& evicted, DropChain& discarded, MailboxPolicy policy) noexcept;

  /// Tests only, on a new, empty `reject` lane before any other thread sees it: starts
  /// both of its counts (the word's physical and the owner's taken) at `start`, so a test
  /// crosses their 2^32 wrap without 2^32 sends. Never blocks; never allocates.
  void preset_reject_counts_for_tests(std::uint32_t start) noexcept;

  /// The process's destructor only (no other thread can hold a reference): the nodes
  /// left in the lanes, uncounted, for it to free; the user lane's retired dummy last.
  Envelope* pop_user_at_destruction() noexcept;
  MailNode* pop_system_at_destruction() noexcept { return system_.pop(); }

  // ---- where the owner runs (a placement hint, engine/sched/README.md "fan-in") ----
  /// No worker recorded yet, or a worker index the byte cannot hold.
  static constexpr std::uint8_t kNoWorker = 0xff;
  /// The scheduler, before each turn: the index of the worker about to run the owner. One
  /// relaxed load, and a relaxed store only when the owner moved. Never blocks or allocates.
  void note_worker(unsigned index) noexcept {
    const auto byte = static_cast<std::uint8_t>(index < kNoWorker ? index : kNoWorker);
    // relaxed: a hint. A sender that reads a stale index places a refused sender on the
    // wrong worker, which costs speed, never a message. Pairs with last_worker().
    if (last_worker_.load(std::memory_order_relaxed) != byte)
      last_worker_.store(byte, std::memory_order_relaxed);
  }
  /// Any thread: the worker that last ran the owner, or kNoWorker. One relaxed load.
  std::uint8_t last_worker() const noexcept {
    // relaxed: a hint; pairs with note_worker()'s store.
    return last_worker_.load(std::memory_order_relaxed);
  }

  // ---- the owner's note to itself ----
  /// Owner only (the thread inside its turn): a system message to itself that needs no
  /// node, because the owner is the one who will read it; what it means is the process's
  /// business (its own stop(), engine/process/README.md). Set only while the system lane
  /// is empty (nothing queued, no push in flight), so that everything posted to the lane
  /// afterwards comes after it, and the owner reads it before the lane: the lane's FIFO
  /// order holds. False otherwise (the caller posts a node instead). A plain byte in
  /// padding; never blocks or allocates. try_idle() refuses while it is set, so the owner
  /// cannot go idle with it unread.
  bool try_set_own_note() noexcept {
    if (!system_.empty()) return false;
    own_note_ = true;
    return true;
  }
  /// Owner only: true once for each note set, which it clears. Never blocks.
  bool take_own_note() noexcept {
    if (!own_note_) return false;
    own_note_ = false;
    return true;
  }

  // ---- observers (any thread) ----
  std::size_t queued() const noexcept;
  /// As queued(), for the owner (or the worker about to run its turn): two loads, exact
  /// as of the word's. Never blocks.
  std::size_t queued_as_owner() const noexcept;
  bool closed() const noexcept;
  /// Head holder only: the next sequence number (SPEC 14.12).
  std::uint64_t next_seq() noexcept { return next_seq_++; }

 private:
  Envelope* unlink_oldest() noexcept;  // head holder; spins while the oldest is in flight
  Envelope* take_oldest() noexcept;    // the owner's take: as unlink_oldest, left as the dummy
  Take take_counted(Envelope*& out) noexcept;  // reject: step 3, no RMW
  Take take_claimed(Envelope*& out,
                    DropChain& evicted) noexcept;  // drop_oldest: step 3 with the head
  void evict_one(DropChain& evicted) noexcept;
  // Spins while held elsewhere; false once abandoned.
  bool claim_head(std::uint64_t extra_bits) noexcept;
  void remove_all_held(DropChain& evicted, DropChain& discarded) noexcept;

  // The state word and the user lane (stub, head, tail) come first and together: 32
  // bytes. In a process the mailbox sits at offset 80, so they lie in one cache line
  // whenever the process is 64-byte aligned (mimalloc's 192- and 384-byte classes keep
  // blocks so). A send then moves one line of the receiver's between cores, not two (the
  // word's CAS and the tail's exchange): ring-multi 20 -> see engine/mailbox/README.md.
  std::atomic<std::uint64_t> word_;
  UserLane user_;
  std::uint64_t next_seq_ = 0;  // head holder only
  // A reject lane's owner is between its look at the word and its count (mailbox.cpp
  // steps 3 and 6): written only by the owner, read by shutdown's finish_abandoned().
  std::atomic<bool> in_take_{false};
  // In the padding before system_: the hint costs an idle process no byte.
  std::atomic<std::uint8_t> last_worker_{kNoWorker};
  bool wants_user_ = false;  // owner only: its intent, installed in the word by try_idle()
  bool own_note_ = false;    // owner only: try_set_own_note()
  // A reject lane's owner's count of the messages it took, mod 2^32 (mailbox.cpp step 3):
  // written only by that owner, read by senders. In the word's line (offset 44 here), so
  // a sender's look at it costs no line the send does not move anyway.
  std::atomic<std::uint32_t> taken_{0};
  MpscQueue system_;
};

static_assert(sizeof(Mailbox) == 72, "the placement hint must stay in padding (idle-memory)");

}  // namespace phyx::detail
