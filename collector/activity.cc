#include "collector/activity.h"

namespace collector {

void ActivityTracker::Changed(uint64_t cookie, uint8_t family,
                              const inetdiag::SockId& id, int64_t cycle) {
  Entry& e = entries_[cookie];
  e.target.family = family;
  e.target.id = id;
  e.last_change = cycle;
}

void ActivityTracker::Forget(uint64_t cookie) {
  if (!entries_.empty()) entries_.erase(cookie);
}

void ActivityTracker::Collect(int64_t cycle,
                              std::vector<ExactTarget>* targets) {
  targets->clear();
  absl::erase_if(entries_, [&](const auto& entry) {
    return cycle - entry.second.last_change > active_cycles_;
  });
  for (const auto& [cookie, e] : entries_) targets->push_back(e.target);
}

}  // namespace collector
