#include "collector/namespace_sources.h"

#include <utility>

namespace collector {

void SourceHandoff::Add(NamespaceSource source) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.push_back(SourceChange{std::move(source)});
  has_pending_.store(true, std::memory_order_release);
}

void SourceHandoff::Remove(uint64_t id) {
  NamespaceSource gone;
  gone.id = id;
  std::lock_guard<std::mutex> lock(mu_);
  pending_.push_back(SourceChange{std::move(gone)});
  has_pending_.store(true, std::memory_order_release);
}

bool SourceHandoff::Take(std::vector<SourceChange>* changes) {
  changes->clear();
  if (!has_pending_.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  changes->swap(pending_);
  has_pending_.store(false, std::memory_order_release);
  return !changes->empty();
}

}  // namespace collector
