#include "flows/listening_ports.h"

#include <arpa/inet.h>

#include <cstring>

#include "collector/dump_socket.h"
#include "inetdiag/inet_diag.h"
#include "inetdiag/request.h"
#include "tcp/tcp_info.h"

namespace flows {

ListeningPorts::ListeningPorts() = default;

ListeningPorts::~ListeningPorts() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

absl::Status ListeningPorts::Start() {
  absl::StatusOr<std::unique_ptr<collector::DumpSocket>> socket =
      collector::DumpSocket::Open(1u << tcp::kListen, /*extensions=*/0);
  if (!socket.ok()) return socket.status();
  socket_ = *std::move(socket);
  Refresh();
  thread_ = std::thread([this] { Watch(); });
  return absl::OkStatus();
}

void ListeningPorts::Set(const std::vector<uint16_t>& ports) {
  Bits bits{};
  for (uint16_t p : ports) bits[p >> 6] |= uint64_t{1} << (p & 63);
  Publish(bits);
}

void ListeningPorts::Publish(const Bits& bits) {
  for (size_t i = 0; i < kWords; ++i) {
    bits_[i].store(bits[i], std::memory_order_relaxed);
  }
}

void ListeningPorts::Refresh() {
  const auto now = std::chrono::steady_clock::now();
  bool complete = true;
  for (uint8_t family : {inetdiag::kAfInet6, inetdiag::kAfInet}) {
    const collector::DumpResult r =
        socket_->Dump(family, [&](const collector::DumpMessage& m) {
          if (m.size < sizeof(inetdiag::Msg)) return;
          inetdiag::Msg msg;
          std::memcpy(&msg, m.payload, sizeof(msg));
          if (msg.state != tcp::kListen) return;
          last_seen_[ntohs(msg.id.sport_be)] = now;
        });
    complete = complete && r.complete;
  }
  // An incomplete dump may have missed a listener: forget nothing then.
  if (complete) {
    const auto memory = absl::ToChronoNanoseconds(kMemory);
    absl::erase_if(last_seen_, [&](const auto& seen) {
      return now - seen.second > memory;
    });
  }
  Bits bits{};
  for (const auto& [port, when] : last_seen_) {
    bits[port >> 6] |= uint64_t{1} << (port & 63);
  }
  Publish(bits);
  dumps_.fetch_add(1, std::memory_order_relaxed);
}

void ListeningPorts::Watch() {
  const auto period = absl::ToChronoNanoseconds(kPeriod);
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
    lock.unlock();
    Refresh();
    lock.lock();
  }
}

}  // namespace flows
