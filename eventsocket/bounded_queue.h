// BoundedQueue<T>: a fixed-capacity, lock-free multi-producer multi-consumer
// queue (Dmitry Vyukov's bounded MPMC design: one sequence number per cell).
// TryPush and TryPop never block, never allocate and never make a system
// call; TryPush fails when the queue is full.
//
// Thread-safe: any number of threads may push and pop concurrently.
// T must be trivially copyable (it is copied in and out of the cells).
#ifndef TCPINFO_EVENTSOCKET_BOUNDED_QUEUE_H_
#define TCPINFO_EVENTSOCKET_BOUNDED_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace eventsocket {

template <typename T>
class BoundedQueue {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // Capacity is `min_capacity` rounded up to a power of two (at least 2).
  explicit BoundedQueue(size_t min_capacity) {
    size_t capacity = 2;
    while (capacity < min_capacity) capacity *= 2;
    mask_ = capacity - 1;
    cells_ = std::make_unique<Cell[]>(capacity);
    for (size_t i = 0; i < capacity; ++i) {
      cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
  }
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Appends a copy of `value`; false if the queue is full.
  bool TryPush(const T& value) {
    size_t pos = push_pos_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const size_t seq = cell.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        if (push_pos_.compare_exchange_weak(pos, pos + 1,
                                            std::memory_order_relaxed)) {
          cell.value = value;
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = push_pos_.load(std::memory_order_relaxed);
      }
    }
  }

  // Moves the oldest value into `*out`; false if the queue is empty.
  bool TryPop(T* out) {
    size_t pos = pop_pos_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos & mask_];
      const size_t seq = cell.sequence.load(std::memory_order_acquire);
      const auto diff =
          static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (diff == 0) {
        if (pop_pos_.compare_exchange_weak(pos, pos + 1,
                                           std::memory_order_relaxed)) {
          *out = cell.value;
          cell.sequence.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;
      } else {
        pos = pop_pos_.load(std::memory_order_relaxed);
      }
    }
  }

 private:
  struct Cell {
    std::atomic<size_t> sequence{0};
    T value;
  };
  size_t mask_ = 0;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<size_t> push_pos_{0};
  alignas(64) std::atomic<size_t> pop_pos_{0};
};

}  // namespace eventsocket

#endif  // TCPINFO_EVENTSOCKET_BOUNDED_QUEUE_H_
