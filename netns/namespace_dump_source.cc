#include "netns/namespace_dump_source.h"

#include <utility>

namespace netns {

NamespaceDumpSource::NamespaceDumpSource(
    std::unique_ptr<collector::DumpSocket> socket,
    std::shared_ptr<ReopenSlot> slot)
    : socket_(std::move(socket)), slot_(std::move(slot)) {}

collector::DumpResult NamespaceDumpSource::Dump(
    uint8_t family, collector::DumpMessageHandler handler) {
  if (socket_->fd() < 0) {
    std::lock_guard<std::mutex> lock(slot_->mu);
    if (slot_->fresh != nullptr) socket_ = std::move(slot_->fresh);
  }
  if (socket_->fd() < 0) {
    slot_->wanted.store(true, std::memory_order_release);
    collector::DumpResult result;
    result.family = family;
    result.Count(collector::DumpIssue::kSocketError);
    return result;
  }
  return socket_->Dump(family, handler);
}

}  // namespace netns
