#include "saver/saver.h"

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
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
#include "saver/snapshot_delta.h"

namespace saver {
namespace {

using parse::Timestamp;

// A pending snapshot in a batch's arena: i64 seconds, i32 nanos, i16 utc
// offset, u32 stored size (kDelta set: the bytes are a SnapshotDelta against
// the group's first snapshot), u32 offset of the next snapshot of the same
// file (kEnd after the last), then the packed record or its delta. A
// group's first snapshot is always whole.
constexpr size_t kSnapshotHeader = 8 + 4 + 2 + 4 + 4;
constexpr size_t kSizeOffset = 8 + 4 + 2;
constexpr size_t kNextOffset = 8 + 4 + 2 + 4;
constexpr uint32_t kDelta = uint32_t{1} << 31;
constexpr uint32_t kEnd = UINT32_MAX;
// Closed connections whose next sequence is remembered.
constexpr size_t kMaxTombstones = 4096;
// Spare batch arenas kept for reuse, and the largest kept: a burst (every
// connection new at start-up) should not pin its memory for good.
constexpr size_t kMaxSpareBatches = 2;
constexpr size_t kMaxSpareArena = size_t{1} << 20;

// How long after its first frame a file may still receive one: its
// snapshots span at most the rotation period; the writer may lag behind.
std::chrono::steady_clock::duration FileLifetime(const Options& options) {
  return absl::ToChronoSeconds(2 * options.rotation + absl::Minutes(10));
}

absl::Duration Since(Timestamp later, Timestamp earlier) {
  return absl::Seconds(later.seconds - earlier.seconds) +
         absl::Nanoseconds(later.nanos - earlier.nanos);
}

// The snapshots of one file within a batch, a list threaded through the
// batch's arena.
struct Group {
  uint64_t cookie;
  int64_t sequence;
  Timestamp start;      // the connection's first sighting
  Timestamp file_date;  // dates the file's directory
  // The first frame of this file in this process: the file may end in part
  // of a frame a killed predecessor left, to be cut off first.
  bool first_in_process = false;
  uint32_t snapshots = 0;
  uint32_t first = kEnd;
  uint32_t last = kEnd;
};

// The snapshots of every connection since the batch began, in one arena:
// no allocation per connection, and nothing left scattered on the heap once
// the writer is done with it.
struct Batch {
  std::string arena;
  std::vector<Group> groups;
  Timestamp begun;          // its first snapshot
  bool recyclable = false;  // an epoch batch whose arena is worth keeping
};

// Links the snapshot at `at` (already in `arena`) to the end of `group`.
void Link(uint32_t at, Group* group, std::string* arena) {
  std::memcpy(arena->data() + at + kNextOffset, &kEnd, 4);
  if (group->last == kEnd) {
    group->first = at;
  } else {
    std::memcpy(arena->data() + group->last + kNextOffset, &at, 4);
  }
  group->last = at;
  ++group->snapshots;
}

// Appends a snapshot of `group` to `arena`: packed (into `scratch`), and
// stored as its delta against the group's first snapshot when that is
// smaller by a quarter or more.
void AppendSnapshot(Timestamp t, const parse::RecordView& record, size_t packed,
                    Group* group, std::string* arena, std::string* scratch) {
  // Room for the record and a delta shorter than it: the views below stay
  // valid while the delta is appended.
  scratch->reserve(kSnapshotHeader + 2 * packed);
  scratch->resize(kSnapshotHeader + packed);
  cache::Pack(record, scratch->data() + kSnapshotHeader);
  uint32_t stored = static_cast<uint32_t>(packed);
  if (group->first != kEnd) {
    uint32_t first_size;
    std::memcpy(&first_size, arena->data() + group->first + kSizeOffset, 4);
    const absl::string_view first(
        arena->data() + group->first + kSnapshotHeader, first_size);
    const absl::string_view current(scratch->data() + kSnapshotHeader, packed);
    // The delta goes after the whole record in `scratch`, then replaces it.
    if (AppendDelta(first, current, packed - packed / 4, scratch)) {
      const size_t delta = scratch->size() - kSnapshotHeader - packed;
      std::memmove(scratch->data() + kSnapshotHeader,
                   scratch->data() + kSnapshotHeader + packed, delta);
      scratch->resize(kSnapshotHeader + delta);
      stored = static_cast<uint32_t>(delta) | kDelta;
    }
  }
  char* p = scratch->data();
  std::memcpy(p, &t.seconds, 8);
  std::memcpy(p + 8, &t.nanos, 4);
  std::memcpy(p + 12, &t.utc_offset_minutes, 2);
  std::memcpy(p + kSizeOffset, &stored, 4);
  const size_t at = arena->size();
  arena->append(*scratch);
  Link(static_cast<uint32_t>(at), group, arena);
}

// Calls f(bytes) with each of the group's snapshots as stored, header
// included.
void ForEachSnapshotBytes(absl::string_view arena, const Group& group,
                          absl::FunctionRef<void(absl::string_view)> f) {
  for (uint32_t at = group.first; at != kEnd;) {
    if (at > arena.size() || arena.size() - at < kSnapshotHeader) return;
    uint32_t size, next;
    std::memcpy(&size, arena.data() + at + kSizeOffset, 4);
    std::memcpy(&next, arena.data() + at + kNextOffset, 4);
    size &= ~kDelta;
    if (size > arena.size() - at - kSnapshotHeader) return;
    f(arena.substr(at, kSnapshotHeader + size));
    at = next;
  }
}

// Calls f with each of the group's snapshots, whole again (rebuilt in
// `record`).
void ForEachSnapshot(
    absl::string_view arena, const Group& group, std::string* record,
    absl::FunctionRef<void(Timestamp, const parse::RecordView&)> f) {
  absl::string_view first;
  ForEachSnapshotBytes(arena, group, [&](absl::string_view bytes) {
    Timestamp t;
    uint32_t stored;
    std::memcpy(&t.seconds, bytes.data(), 8);
    std::memcpy(&t.nanos, bytes.data() + 8, 4);
    std::memcpy(&t.utc_offset_minutes, bytes.data() + 12, 2);
    std::memcpy(&stored, bytes.data() + kSizeOffset, 4);
    const absl::string_view payload = bytes.substr(kSnapshotHeader);
    if ((stored & kDelta) == 0) {
      if (first.data() == nullptr) first = payload;
      f(t, cache::Unpack(payload));
      return;
    }
    record->assign(first.data(), first.size());
    // A delta that does not fit its group's first snapshot cannot have been
    // made by AppendSnapshot; it is skipped rather than archived wrong.
    if (first.data() == nullptr || !ApplyDelta(payload, record)) return;
    f(t, cache::Unpack(*record));
  });
}

// A batch of one group: `group`'s snapshots copied out of `from`.
Batch CopyOut(const Batch& from, const Group& group) {
  Batch b;
  Group copy = group;
  copy.snapshots = 0;
  copy.first = copy.last = kEnd;
  ForEachSnapshotBytes(from.arena, group, [&](absl::string_view bytes) {
    const uint32_t at = static_cast<uint32_t>(b.arena.size());
    b.arena.append(bytes.data(), bytes.size());
    Link(at, &copy, &b.arena);
  });
  b.groups.push_back(copy);
  return b;
}

// The UTC day of `t` (days since 1970-01-01) and the first instant of a day:
// a file's directory needs only its date.
int32_t DayOf(Timestamp t) {
  return static_cast<int32_t>(t.seconds >= 0 ? t.seconds / 86400
                                             : -((-t.seconds + 86399) / 86400));
}
Timestamp DayStart(int32_t day) { return {int64_t{day} * 86400, 0, 0}; }

// One connection as the polling thread sees it: 56 bytes with its key. Its
// pending snapshots are in the current batch, group `group`, if `batch` is
// the current batch's serial.
struct Connection {
  Timestamp start;
  int64_t file_begun = 0;  // ns on options.monotonic_clock
  int32_t file_day = 0;    // dates the current file (DayOf)
  int32_t sequence = 0;
  int32_t group = -1;
  uint32_t batch = 0;
  bool new_file = true;  // no group of the current file made yet
};
// With its key, 56 bytes per connection (the flag fits in padding).
static_assert(sizeof(Connection) + sizeof(uint64_t) <= 56);

struct Tombstone {
  Timestamp start;
  int32_t next_sequence;
};

class SaverImpl final : public Saver {
 public:
  explicit SaverImpl(const Options& options)
      : options_(options),
        appender_(options.compression_level, FileLifetime(options)),
        writer_([this] { WriterLoop(); }) {
    current_.recyclable = true;
  }

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
    if (current_.arena.size() + queued_bytes_.load(std::memory_order_relaxed) +
            size >
        options_.max_buffered_bytes) {
      ++dropped_by_bound_;
      bound_log_.Report("writer is behind, snapshot dropped");
      return;
    }
    auto [it, inserted] = connections_.try_emplace(cookie);
    Connection& c = it->second;
    const int64_t monotonic = MonotonicNanos();
    if (inserted) {
      Begin(cookie, timestamp, monotonic, &c);
    } else if (absl::Nanoseconds(monotonic - c.file_begun) >=
               options_.rotation) {
      // The old file's group stays in the batch; the next one starts here.
      c.group = -1;
      ++c.sequence;
      c.file_begun = monotonic;
      c.file_day = DayOf(timestamp);
      c.new_file = true;
      ++files_created_;
    }
    if (current_.arena.empty()) current_.begun = timestamp;
    AppendSnapshot(timestamp, record, packed, &GroupOf(cookie, &c),
                   &current_.arena, &scratch_);
    ++live_snapshots_;
    ++records_written_;
    if (current_.arena.size() >= options_.batch_bytes) HandOffCurrent();
  }

  void Close(uint64_t cookie) override {
    auto it = connections_.find(cookie);
    if (it == connections_.end()) return;
    Connection& c = it->second;
    if (c.batch == serial_ && c.group >= 0) {
      // Finish the file now, not with the rest of the batch.
      Group& group = current_.groups[c.group];
      if (group.snapshots > 0) {
        Queue(CopyOut(current_, group));
        live_snapshots_ -= group.snapshots;
        group.snapshots = 0;
        group.first = group.last = kEnd;
        if (live_snapshots_ == 0) StartBatch();  // only closed ones left
      }
    }
    Remember(cookie, c);
    connections_.erase(it);
  }

  void Tick(Timestamp now) override {
    if (current_.arena.empty()) return;
    const absl::Duration age = Since(now, current_.begun);
    // Due, or the clock went back by more than the interval.
    if (age >= options_.flush_interval || age <= -options_.flush_interval) {
      HandOffCurrent();
    }
  }

  void CloseAll() override {
    for (const auto& [cookie, c] : connections_) Remember(cookie, c);
    connections_.clear();
    HandOffCurrent();
    WaitForWriter();
  }

  void Flush() override {
    HandOffCurrent();
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
    s.repaired_files = appender_.repaired_files();
    s.records_dropped =
        dropped_by_bound_ + dropped_by_errors_.load(std::memory_order_relaxed);
    s.buffered_bytes =
        current_.arena.size() + queued_bytes_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  // Polling thread ---------------------------------------------------------

  int64_t MonotonicNanos() const {
    if (options_.monotonic_clock) {
      return absl::ToInt64Nanoseconds(options_.monotonic_clock());
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Starts sequence 0, or the next sequence of a recently closed connection.
  void Begin(uint64_t cookie, Timestamp timestamp, int64_t monotonic,
             Connection* c) {
    c->start = timestamp;
    c->file_begun = monotonic;
    c->file_day = DayOf(timestamp);
    c->sequence = 0;
    if (auto t = tombstones_.find(cookie); t != tombstones_.end()) {
      c->start = t->second.start;
      c->sequence = t->second.next_sequence;
      tombstones_.erase(t);
    }
    ++files_created_;
  }

  // The group of the connection's current file in the current batch.
  Group& GroupOf(uint64_t cookie, Connection* c) {
    if (c->batch != serial_ || c->group < 0) {
      c->batch = serial_;
      c->group = static_cast<int32_t>(current_.groups.size());
      current_.groups.push_back(Group{cookie, c->sequence, c->start,
                                      DayStart(c->file_day), c->new_file});
      c->new_file = false;
    }
    return current_.groups[c->group];
  }

  // Remembers a closed connection's next sequence.
  void Remember(uint64_t cookie, const Connection& c) {
    if (tombstone_order_.size() >= kMaxTombstones) {
      tombstones_.erase(tombstone_order_.front());
      tombstone_order_.pop_front();
    }
    tombstones_[cookie] = {c.start, c.sequence + 1};
    tombstone_order_.push_back(cookie);
  }

  // Empties the current batch, invalidating the connections' groups.
  void StartBatch() {
    current_.arena.clear();
    current_.groups.clear();
    live_snapshots_ = 0;
    ++serial_;
  }

  // Hands the current batch to the writer and starts the next one.
  void HandOffCurrent() {
    if (current_.arena.empty()) return;
    Batch next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!spare_.empty()) {
        next = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    next.recyclable = true;
    Queue(std::exchange(current_, std::move(next)));
    StartBatch();
  }

  // Queues a batch, in order, for the writer thread.
  void Queue(Batch batch) {
    queued_bytes_.fetch_add(batch.arena.size(), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(batch));
      ++batches_queued_;
    }
    work_cv_.notify_one();
  }

  // Writer thread ----------------------------------------------------------

  void WriterLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Batch batch = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      for (const Group& group : batch.groups) {
        if (group.snapshots > 0) WriteGroup(batch.arena, group);
      }
      queued_bytes_.fetch_sub(batch.arena.size(), std::memory_order_relaxed);
      batch.arena.clear();
      batch.groups.clear();
      lock.lock();
      if (batch.recyclable && spare_.size() < kMaxSpareBatches &&
          batch.arena.capacity() <= kMaxSpareArena) {
        spare_.push_back(std::move(batch));
      } else if (batch.arena.capacity() > kMaxSpareArena) {
        lock.unlock();
        batch = Batch();
        ReturnMemory();
        lock.lock();
      }
      ++batches_done_;
      done_cv_.notify_all();
    }
  }

  // After a large batch is freed: gives free heap pages back to the system,
  // at most once per 10 s, so that a burst does not stay resident.
  void ReturnMemory() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_trim_ < std::chrono::seconds(10)) return;
    last_trim_ = now;
    malloc_trim(0);
  }

  void WriteGroup(absl::string_view arena, const Group& group) {
    const std::string uuid = FormatUuid(options_.uuid_prefix, group.cookie);
    const std::string path =
        ArchivePath(options_.output_dir, group.file_date, uuid, group.sequence);
    absl::StatusOr<size_t> appended = appender_.Append(
        options_.output_dir, path, group.first_in_process,
        [&](bool file_is_empty, std::string* text) {
          if (file_is_empty) {
            parse::AppendMetadataJson({uuid, group.sequence, group.start},
                                      text);
          }
          ForEachSnapshot(arena, group, &unpacked_,
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
  Batch current_;              // snapshots not yet handed to the writer
  std::string scratch_;        // the snapshot being appended
  uint32_t serial_ = 1;        // of current_
  size_t live_snapshots_ = 0;  // in current_, not yet copied out by Close()
  uint64_t records_written_ = 0;
  uint64_t files_created_ = 0;
  uint64_t dropped_by_bound_ = 0;
  ErrorLog bound_log_{"saver"};

  // Shared between the threads.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Batch> queue_;      // guarded by mu_
  std::vector<Batch> spare_;     // guarded by mu_
  uint64_t batches_queued_ = 0;  // guarded by mu_
  uint64_t batches_done_ = 0;    // guarded by mu_
  bool stop_ = false;            // guarded by mu_
  std::atomic<size_t> queued_bytes_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> frames_written_{0};
  std::atomic<uint64_t> dropped_by_errors_{0};

  // Writer thread state.
  std::chrono::steady_clock::time_point last_trim_{};
  FrameAppender appender_;
  std::string unpacked_;  // a snapshot rebuilt from its delta
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
  if (options.batch_bytes == 0 || options.batch_bytes > (size_t{1} << 30)) {
    // Offsets into a batch are 32-bit.
    return absl::InvalidArgumentError("batch size must be 1 B to 1 GiB");
  }
  if (options.rotation <= absl::ZeroDuration() ||
      options.flush_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "rotation and flush interval must be positive");
  }
  return std::unique_ptr<Saver>(new SaverImpl(options));
}

}  // namespace saver
