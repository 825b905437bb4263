// Test doubles for the collector: a DumpSource that replays scripted
// messages, a Saver that records what it is asked to do, a collector built
// on both, and hand-made inet_diag messages.
#ifndef TCPINFO_TESTS_COLLECTOR_FAKES_H_
#define TCPINFO_TESTS_COLLECTOR_FAKES_H_

#include <arpa/inet.h>
#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "collector/collector.h"
#include "collector/ip_address.h"
#include "collector/netlink_dump.h"
#include "collector/observer.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/record_view.h"
#include "saver/saver.h"
#include "tcp/tcp_info.h"

namespace collector_test {

// Replays, for each family, the payloads in `messages[family]` as the kernel
// delivers a dump: netlink messages packed into writable buffers of at most
// 32 KiB, each walked by collector::WalkDumpBuffer (so the handler sees the
// buffer and its first message, as with a real dump), and reports the dump
// complete unless told otherwise.
class ScriptedSource : public collector::DumpSource {
 public:
  struct Script {
    std::vector<std::string> inet6;
    std::vector<std::string> inet;
    bool inet6_complete = true;
    bool inet_complete = true;
    absl::Duration delay;  // slept in each dump
  };

  explicit ScriptedSource(Script* script) : script_(script) {}

  collector::DumpResult Dump(uint8_t family,
                             collector::DumpMessageHandler handler) override {
    collector::DumpResult result;
    result.family = family;
    if (script_->delay > absl::ZeroDuration()) absl::SleepFor(script_->delay);
    const bool v6 = family == inetdiag::kAfInet6;
    const absl::Time now = absl::Now();
    const std::vector<std::string>& messages =
        v6 ? script_->inet6 : script_->inet;
    for (size_t next = 0; next < messages.size();) {
      size_t used = 0;
      // At least one message per buffer, whatever its size.
      while (next < messages.size() &&
             (used == 0 ||
              used + NLMSG_SPACE(messages[next].size()) <= kBufferBytes)) {
        const std::string& m = messages[next++];
        const size_t space = NLMSG_SPACE(m.size());
        if (buffer_.size() * 4 < used + space) {
          buffer_.resize((used + space + 3) / 4);
        }
        nlmsghdr h{};
        h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(m.size()));
        h.nlmsg_type = inetdiag::kSockDiagByFamily;
        char* at = reinterpret_cast<char*>(buffer_.data()) + used;
        std::memcpy(at, &h, sizeof(h));
        std::memcpy(at + NLMSG_HDRLEN, m.data(), m.size());
        used += space;
      }
      collector::WalkDumpBuffer(reinterpret_cast<char*>(buffer_.data()), used,
                                0, 0, now, &result, handler);
    }
    result.complete = v6 ? script_->inet6_complete : script_->inet_complete;
    if (!result.complete) result.Count(collector::DumpIssue::kInterrupted);
    return result;
  }

 private:
  static constexpr size_t kBufferBytes = 32 << 10;
  Script* script_;
  std::vector<uint32_t> buffer_ = std::vector<uint32_t>(kBufferBytes / 4);
};

// Records every call. Written records keep their raw inet_diag_msg and
// INET_DIAG_INFO bytes.
class RecordingSaver : public saver::Saver {
 public:
  struct Written {
    uint64_t cookie;
    parse::Timestamp timestamp;
    std::string raw_idm;
    std::string info;
  };

  void Write(uint64_t cookie, parse::Timestamp timestamp,
             const parse::RecordView& record) override {
    Written w{cookie, timestamp, std::string(record.raw_idm), ""};
    if (record.Has(inetdiag::kInfo)) {
      w.info = std::string(record.attributes[inetdiag::kInfo]);
    }
    if (keep_records) written.push_back(std::move(w));
    ++writes;
  }
  void Close(uint64_t cookie) override { closed.push_back(cookie); }
  void Tick(parse::Timestamp now) override { ++ticks; }
  void CloseAll() override { ++close_alls; }
  void Flush() override {}
  void WaitForWriter() override {}
  std::string Uuid(uint64_t cookie) const override {
    return saver::FormatUuid("test", cookie);
  }
  saver::Stats stats() const override {
    saver::Stats s;
    s.records_written = writes;
    return s;
  }

  bool keep_records = true;
  std::vector<Written> written;
  int64_t writes = 0;
  std::vector<uint64_t> closed;
  int ticks = 0;
  int close_alls = 0;
};

// A collector dumping `script`, writing to `saver` and reporting to the
// observer it is started with.
struct ScriptedCollector {
  ScriptedSource::Script script;
  RecordingSaver saver;

  std::unique_ptr<collector::Collector> Start(
      const collector::CollectorOptions& options,
      collector::CollectorObserver* observer) {
    return collector::Collector::CreateWithSource(
        options, std::make_unique<ScriptedSource>(&script), &saver, observer);
  }
};

// Parses an address; fails the test (and returns an empty one) if it is
// not one.
inline collector::IpAddress Ip(const char* text) {
  absl::StatusOr<collector::IpAddress> a = collector::ParseIpAddress(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : collector::IpAddress{};
}

// An inet_diag_msg between two addresses of the same family.
inline inetdiag::Msg MakeMsg(const char* src, uint16_t sport, const char* dst,
                             uint16_t dport, uint64_t cookie,
                             uint8_t state = tcp::kEstablished) {
  inetdiag::Msg m{};
  const collector::IpAddress s = Ip(src), d = Ip(dst);
  m.family = s.family;
  m.state = state;
  m.id.sport_be = htons(sport);
  m.id.dport_be = htons(dport);
  std::memcpy(m.id.src, s.bytes.data(), 16);
  std::memcpy(m.id.dst, d.bytes.data(), 16);
  m.id.cookie[0] = static_cast<uint32_t>(cookie);
  m.id.cookie[1] = static_cast<uint32_t>(cookie >> 32);
  return m;
}

// Appends a netlink attribute (header, payload, padding to 4 bytes).
inline void AppendAttribute(uint16_t type, const std::string& payload,
                            std::string* out) {
  const uint16_t length = static_cast<uint16_t>(4 + payload.size());
  out->append(reinterpret_cast<const char*>(&length), 2);
  out->append(reinterpret_cast<const char*>(&type), 2);
  out->append(payload);
  out->append((4 - payload.size() % 4) % 4, '\0');
}

// An inet_diag message payload: `msg` followed by one INET_DIAG_INFO
// attribute of `info_size` bytes filled with `fill`.
inline std::string MakeMessage(const inetdiag::Msg& msg, size_t info_size,
                               uint8_t fill) {
  std::string out(reinterpret_cast<const char*>(&msg), sizeof(msg));
  AppendAttribute(inetdiag::kInfo,
                  std::string(info_size, static_cast<char>(fill)), &out);
  return out;
}

// A 4-byte aligned buffer of `messages`, each re-addressed to `seq`/`pid`.
struct DumpBuffer {
  std::vector<uint32_t> words;
  size_t size = 0;
  char* data() { return reinterpret_cast<char*>(words.data()); }
};
inline DumpBuffer Concatenate(const std::vector<std::string>& messages,
                              uint32_t seq, uint32_t pid) {
  std::string bytes;
  for (const std::string& m : messages) {
    std::string copy = m;
    nlmsghdr h;
    std::memcpy(&h, copy.data(), sizeof(h));
    h.nlmsg_seq = seq;
    h.nlmsg_pid = pid;
    std::memcpy(copy.data(), &h, sizeof(h));
    copy.resize(NLMSG_ALIGN(copy.size()), '\0');
    bytes += copy;
  }
  DumpBuffer b;
  b.words.resize(bytes.size() / 4 + 1);
  std::memcpy(b.data(), bytes.data(), bytes.size());
  b.size = bytes.size();
  return b;
}

// A netlink message of `type` around `payload` (the length unpadded, as the
// kernel sets it; Concatenate pads).
inline std::string NetlinkMessage(uint16_t type, const std::string& payload) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(payload.size()));
  h.nlmsg_type = type;
  std::string out(reinterpret_cast<const char*>(&h), sizeof(h));
  return out + payload;
}

}  // namespace collector_test

#endif  // TCPINFO_TESTS_COLLECTOR_FAKES_H_
