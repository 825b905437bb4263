#include "api/connection_store.h"

#include <utility>

namespace api {

ConnectionStore::ConnectionStore(std::string uuid_prefix,
                                 absl::Duration keep_closed)
    : uuid_prefix_(std::move(uuid_prefix)),
      keep_closed_(absl::ToChronoNanoseconds(keep_closed)) {}

const ConnectionState* ConnectionStore::Latest(uint64_t cookie) const {
  if (auto it = pending_.find(cookie); it != pending_.end()) {
    return it->second.get();
  }
  if (auto it = published_.find(cookie); it != published_.end()) {
    return it->second.get();
  }
  return nullptr;
}

void ConnectionStore::OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                                 const parse::RecordView& record,
                                 parse::Change change) {
  if (!parse::DecodeSnapshot(timestamp, record, &scratch_).ok()) return;
  auto state = std::make_shared<ConnectionState>();
  state->cookie = cookie;
  state->snapshot = scratch_;
  pending_[cookie] = std::move(state);
}

void ConnectionStore::OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                                  collector::CloseReason reason) {
  const ConnectionState* last = Latest(cookie);
  if (last == nullptr || !last->open) return;
  auto state = std::make_shared<ConnectionState>(*last);
  state->open = false;
  state->closed_at = timestamp;
  state->close_reason = reason;
  pending_[cookie] = std::move(state);
  // Its deadline counts from the end of this cycle (OnCycle).
  closing_.emplace_back(std::chrono::steady_clock::time_point{}, cookie);
}

void ConnectionStore::OnCycle(const collector::CycleStats& stats) {
  const auto now =
      stats.monotonic_start + absl::ToChronoNanoseconds(stats.elapsed);
  for (auto& [deadline, cookie] : closing_) {
    expiries_.emplace_back(now + keep_closed_, cookie);
  }
  closing_.clear();
  if (pending_.empty() &&
      (expiries_.empty() || expiries_.front().first > now)) {
    return;
  }
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // a reader has it: next cycle
  for (auto& [cookie, state] : pending_) published_[cookie] = std::move(state);
  pending_.clear();
  while (!expiries_.empty() && expiries_.front().first <= now) {
    const uint64_t cookie = expiries_.front().second;
    expiries_.pop_front();
    auto it = published_.find(cookie);
    if (it != published_.end() && !it->second->open) published_.erase(it);
  }
}

std::shared_ptr<const ConnectionState> ConnectionStore::Find(
    uint64_t cookie) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = published_.find(cookie);
  return it == published_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const ConnectionState>> ConnectionStore::Open()
    const {
  std::vector<StatePtr> open;
  std::lock_guard<std::mutex> lock(mu_);
  open.reserve(published_.size());
  for (const auto& [cookie, state] : published_) {
    if (state->open) open.push_back(state);
  }
  return open;
}

}  // namespace api
