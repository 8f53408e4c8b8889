// engine/runtime/process_table.cpp — see process_table.hpp for the protocol.
#include "runtime/process_table.hpp"

#include <utility>

namespace phyx::detail {

bool ProcessTable::insert_unless(ProcessCore* p, const std::atomic<bool>& closed) {
  Shard& s = shard_of(p);
  std::lock_guard lock(s.lock);
  if (closed.load(std::memory_order_acquire)) return false;  // pairs with the closer's release
  p->retain();  // the table's reference
  p->link_prev_ = s.tail;
  p->link_next_ = nullptr;
  if (s.tail != nullptr) {
    s.tail->link_next_ = p;
  } else {
    s.head = p;
  }
  s.tail = p;
  p->linked_ = true;
  return true;
}

bool ProcessTable::erase(ProcessCore* p) {
  ProcessHandle ref;  // released after the lock: it may be the last reference
  {
    Shard& s = shard_of(p);
    std::lock_guard lock(s.lock);
    if (!p->linked_) return false;
    p->linked_ = false;
    (p->link_prev_ != nullptr ? p->link_prev_->link_next_ : s.head) = p->link_next_;
    (p->link_next_ != nullptr ? p->link_next_->link_prev_ : s.tail) = p->link_prev_;
    p->link_prev_ = p->link_next_ = nullptr;
    ref = ProcessHandle(p);  // adopts the table's reference
  }
  return true;
}

std::vector<ProcessHandle> ProcessTable::snapshot() const {
  std::vector<ProcessHandle> out;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.lock);
    for (ProcessCore* p = s.head; p != nullptr; p = p->link_next_) {
      p->retain();
      out.emplace_back(p);
    }
  }
  return out;
}

void ProcessTable::clear() {
  for (Shard& s : shards_) {
    ProcessCore* list;
    {
      std::lock_guard lock(s.lock);
      list = std::exchange(s.head, nullptr);
      s.tail = nullptr;
      for (ProcessCore* p = list; p != nullptr; p = p->link_next_) p->linked_ = false;
    }
    while (list != nullptr) {
      ProcessCore* p = list;
      list = p->link_next_;
      p->link_prev_ = p->link_next_ = nullptr;
      p->release();  // the table's reference
    }
  }
}

}  // namespace phyx::detail
