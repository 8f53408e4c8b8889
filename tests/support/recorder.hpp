// tests/support/recorder.hpp — a telemetry sink that keeps owned copies of events.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <phyx/phyx.hpp>

namespace phyx_test {

struct RecordedEvent {
  std::string type;
  phyx::ProcessId process;
  std::string name;
  phyx::Instant at;
  phyx::Fields fields;

  const phyx::FieldValue* find(const std::string& key) const {
    for (const auto& [k, v] : fields) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  std::int64_t integer(const std::string& key) const { return std::get<std::int64_t>(*find(key)); }
  std::string text(const std::string& key) const { return std::get<std::string>(*find(key)); }
};

class Recorder {
 public:
  phyx::EmitFn sink() {
    return [this](const phyx::Event& e) {
      std::lock_guard lock(mutex_);
      events_.push_back({std::string(e.type), e.process, std::string(e.name), e.at, e.fields});
    };
  }
  std::vector<RecordedEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<RecordedEvent> of_type(const std::string& type) const {
    std::vector<RecordedEvent> out;
    for (auto& e : events()) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }
  /// Event types in order, optionally for one process.
  std::vector<std::string> types(phyx::ProcessId only = {}) const {
    std::vector<std::string> out;
    for (auto& e : events()) {
      if (only.value == 0 || e.process == only) out.push_back(e.type);
    }
    return out;
  }
  std::size_t count(const std::string& type) const { return of_type(type).size(); }
  void clear() {
    std::lock_guard lock(mutex_);
    events_.clear();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<RecordedEvent> events_;
};

}  // namespace phyx_test
