#include "saver/saver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cache/packed_record.h"
#include "parse/archival_record.h"
#include "saver/error_log.h"
#include "saver/frame_appender.h"

namespace saver {
namespace {

using parse::Timestamp;

// A pending snapshot: i64 seconds, i32 nanos, i16 utc offset, u32 packed
// size, then the packed record.
constexpr size_t kSnapshotHeader = 8 + 4 + 2 + 4;
// Closed connections whose next sequence is remembered.
constexpr size_t kMaxTombstones = 4096;

absl::Duration Since(Timestamp later, Timestamp earlier) {
  return absl::Seconds(later.seconds - earlier.seconds) +
         absl::Nanoseconds(later.nanos - earlier.nanos);
}

// Appends a pending snapshot whose packed record is `packed` bytes long.
void AppendSnapshot(Timestamp t, const parse::RecordView& record, size_t packed,
                    std::string* out) {
  const size_t at = out->size();
  out->resize(at + kSnapshotHeader + packed);
  char* p = out->data() + at;
  const uint32_t size32 = static_cast<uint32_t>(packed);
  std::memcpy(p, &t.seconds, 8);
  std::memcpy(p + 8, &t.nanos, 4);
  std::memcpy(p + 12, &t.utc_offset_minutes, 2);
  std::memcpy(p + 14, &size32, 4);
  cache::Pack(record, p + kSnapshotHeader);
}

void ForEachSnapshot(
    absl::string_view pending,
    absl::FunctionRef<void(Timestamp, const parse::RecordView&)> f) {
  while (pending.size() >= kSnapshotHeader) {
    Timestamp t;
    uint32_t size;
    std::memcpy(&t.seconds, pending.data(), 8);
    std::memcpy(&t.nanos, pending.data() + 8, 4);
    std::memcpy(&t.utc_offset_minutes, pending.data() + 12, 2);
    std::memcpy(&size, pending.data() + 14, 4);
    pending.remove_prefix(kSnapshotHeader);
    if (size > pending.size()) return;  // cannot happen: we wrote it
    f(t, cache::Unpack(pending.substr(0, size)));
    pending.remove_prefix(size);
  }
}

// The snapshots of one file on their way to the writer thread.
struct Group {
  uint64_t cookie;
  int64_t sequence;
  Timestamp start;      // the connection's first sighting
  Timestamp file_date;  // dates the file's directory
  uint32_t snapshots;
  std::string pending;
};

// One connection with a file, as the polling thread sees it: 80 bytes with
// its key, plus its pending snapshots.
struct Connection {
  Timestamp start;
  Timestamp file_date;
  std::string pending;
  int32_t sequence = 0;
  uint32_t snapshots = 0;  // in `pending`
};

struct Tombstone {
  Timestamp start;
  int32_t next_sequence;
};

class SaverImpl final : public Saver {
 public:
  explicit SaverImpl(const Options& options)
      : options_(options),
        appender_(options.compression_level),
        writer_([this] { WriterLoop(); }) {}

  ~SaverImpl() override {
    CloseAll();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_all();
    writer_.join();
  }

  void Write(uint64_t cookie, Timestamp timestamp,
             const parse::RecordView& record) override {
    const size_t packed = cache::PackedSize(record);
    const size_t size = kSnapshotHeader + packed;
    if (pending_bytes_ + queued_bytes_.load(std::memory_order_relaxed) + size >
        options_.max_buffered_bytes) {
      ++dropped_by_bound_;
      bound_log_.Report("writer is behind, snapshot dropped");
      return;
    }
    auto [it, inserted] = connections_.try_emplace(cookie);
    Connection& c = it->second;
    if (inserted) {
      Begin(cookie, timestamp, &c);
    } else if (absl::AbsDuration(Since(timestamp, c.file_date)) >=
               options_.rotation) {
      MoveToOutgoing(cookie, &c);
      ++c.sequence;
      c.file_date = timestamp;
      ++files_created_;
    }
    if (c.pending.empty()) due_.emplace_back(timestamp, cookie);
    AppendSnapshot(timestamp, record, packed, &c.pending);
    ++c.snapshots;
    pending_bytes_ += size;
    ++records_written_;
    if (pending_bytes_ >= options_.batch_bytes) {
      MoveAllToOutgoing();
    }
    HandOff();
  }

  void Close(uint64_t cookie) override {
    auto it = connections_.find(cookie);
    if (it == connections_.end()) return;
    Finish(it->first, &it->second);
    connections_.erase(it);
    HandOff();
  }

  void Tick(Timestamp now) override {
    while (!due_.empty()) {
      const auto [since, cookie] = due_.front();
      const absl::Duration age = Since(now, since);
      // Not due yet, unless the clock went back by more than the interval.
      if (age < options_.flush_interval && age > -options_.flush_interval) {
        break;
      }
      due_.pop_front();
      auto it = connections_.find(cookie);
      if (it != connections_.end()) MoveToOutgoing(cookie, &it->second);
    }
    HandOff();
  }

  void CloseAll() override {
    for (auto& [cookie, c] : connections_) Finish(cookie, &c);
    connections_.clear();
    due_.clear();
    HandOff();
    WaitForWriter();
  }

  void Flush() override {
    MoveAllToOutgoing();
    HandOff();
    WaitForWriter();
  }

  void WaitForWriter() override {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = batches_queued_;
    done_cv_.wait(lock, [&] { return batches_done_ >= target; });
  }

  std::string Uuid(uint64_t cookie) const override {
    return FormatUuid(options_.uuid_prefix, cookie);
  }

  Stats stats() const override {
    Stats s;
    s.records_written = records_written_;
    s.files_created = files_created_;
    s.write_errors = write_errors_.load(std::memory_order_relaxed);
    s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
    s.connections = connections_.size();
    s.open_files = static_cast<uint64_t>(appender_.open_files());
    s.frames_written = frames_written_.load(std::memory_order_relaxed);
    s.records_dropped =
        dropped_by_bound_ + dropped_by_errors_.load(std::memory_order_relaxed);
    s.buffered_bytes =
        pending_bytes_ + queued_bytes_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  // Polling thread ---------------------------------------------------------

  // Starts sequence 0, or the next sequence of a recently closed connection.
  void Begin(uint64_t cookie, Timestamp timestamp, Connection* c) {
    c->start = timestamp;
    c->file_date = timestamp;
    c->sequence = 0;
    if (auto t = tombstones_.find(cookie); t != tombstones_.end()) {
      c->start = t->second.start;
      c->sequence = t->second.next_sequence;
      tombstones_.erase(t);
    }
    ++files_created_;
  }

  // Hands the connection's last snapshots over and remembers its sequence.
  void Finish(uint64_t cookie, Connection* c) {
    MoveToOutgoing(cookie, c);
    if (tombstone_order_.size() >= kMaxTombstones) {
      tombstones_.erase(tombstone_order_.front());
      tombstone_order_.pop_front();
    }
    tombstones_[cookie] = {c->start, c->sequence + 1};
    tombstone_order_.push_back(cookie);
  }

  void MoveToOutgoing(uint64_t cookie, Connection* c) {
    if (c->pending.empty()) return;
    pending_bytes_ -= c->pending.size();
    outgoing_bytes_ += c->pending.size();
    outgoing_.push_back(Group{cookie, c->sequence, c->start, c->file_date,
                              c->snapshots, std::move(c->pending)});
    c->pending = std::string();
    c->snapshots = 0;
  }

  void MoveAllToOutgoing() {
    for (auto& [cookie, c] : connections_) MoveToOutgoing(cookie, &c);
    due_.clear();
  }

  // Queues the outgoing groups, in order, for the writer thread.
  void HandOff() {
    if (outgoing_.empty()) return;
    queued_bytes_.fetch_add(outgoing_bytes_, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(outgoing_));
      ++batches_queued_;
    }
    work_cv_.notify_one();
    outgoing_ = {};
    outgoing_bytes_ = 0;
  }

  // Writer thread ----------------------------------------------------------

  void WriterLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      std::vector<Group> batch = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      size_t bytes = 0;
      for (const Group& group : batch) {
        WriteGroup(group);
        bytes += group.pending.size();
      }
      batch = {};
      queued_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
      lock.lock();
      ++batches_done_;
      done_cv_.notify_all();
    }
  }

  void WriteGroup(const Group& group) {
    const std::string uuid = FormatUuid(options_.uuid_prefix, group.cookie);
    const std::string path =
        ArchivePath(options_.output_dir, group.file_date, uuid, group.sequence);
    absl::StatusOr<size_t> appended = appender_.Append(
        options_.output_dir, path, [&](bool file_is_empty, std::string* text) {
          if (file_is_empty) {
            parse::AppendMetadataJson({uuid, group.sequence, group.start},
                                      text);
          }
          ForEachSnapshot(group.pending,
                          [&](Timestamp t, const parse::RecordView& record) {
                            parse::AppendSnapshotJson(t, record, text);
                          });
        });
    if (appended.ok()) {
      bytes_written_.fetch_add(*appended, std::memory_order_relaxed);
      frames_written_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    dropped_by_errors_.fetch_add(group.snapshots, std::memory_order_relaxed);
    write_log_.Report(appended.status().message());
  }

  const Options options_;

  // Polling thread state.
  absl::flat_hash_map<uint64_t, Connection> connections_;
  absl::flat_hash_map<uint64_t, Tombstone> tombstones_;
  std::deque<uint64_t> tombstone_order_;
  // Connections whose pending snapshots began at `first`, oldest first.
  std::deque<std::pair<Timestamp, uint64_t>> due_;
  std::vector<Group> outgoing_;
  size_t outgoing_bytes_ = 0;
  size_t pending_bytes_ = 0;
  uint64_t records_written_ = 0;
  uint64_t files_created_ = 0;
  uint64_t dropped_by_bound_ = 0;
  ErrorLog bound_log_{"saver"};

  // Shared between the threads.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<std::vector<Group>> queue_;  // guarded by mu_
  uint64_t batches_queued_ = 0;           // guarded by mu_
  uint64_t batches_done_ = 0;             // guarded by mu_
  bool stop_ = false;                     // guarded by mu_
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> frames_written_{0};
  std::atomic<uint64_t> dropped_by_errors_{0};

  // Writer thread state.
  FrameAppender appender_;
  ErrorLog write_log_{"saver"};
  std::thread writer_;  // last: starts once everything above exists
};

}  // namespace

absl::StatusOr<std::unique_ptr<Saver>> Saver::Create(const Options& options) {
  struct stat st;
  if (stat(options.output_dir.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output directory ", options.output_dir, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "output directory ", options.output_dir, ": not a directory"));
  }
  if (access(options.output_dir.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("output directory ", options.output_dir,
                     ": not writable: ", std::strerror(errno)));
  }
  if (options.uuid_prefix.empty()) {
    return absl::InvalidArgumentError("empty uuid prefix");
  }
  if (options.rotation <= absl::ZeroDuration() ||
      options.flush_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "rotation and flush interval must be positive");
  }
  return std::unique_ptr<Saver>(new SaverImpl(options));
}

}  // namespace saver
