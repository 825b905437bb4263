#include "sinks/sink_runner.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace sinks {

namespace {

// At most one log line of each kind per sink this often.
constexpr absl::Duration kLogInterval = absl::Seconds(10);

void Log(const std::string& name, const std::string& what) {
  std::fprintf(stderr, "tcp-info: sink %s: %s\n", name.c_str(), what.c_str());
}

using Item = std::variant<flows::FlowRecord, flows::Measurement>;

// A run of queued items of one kind, as the writer takes them.
struct Batch {
  std::vector<flows::FlowRecord> records;
  std::vector<flows::Measurement> measurements;

  bool empty() const { return records.empty() && measurements.empty(); }
  size_t size() const { return records.size() + measurements.size(); }
  // Whether `item` may join the batch (same kind as what it holds).
  bool Takes(const Item& item) const {
    if (empty()) return true;
    return std::holds_alternative<flows::FlowRecord>(item)
               ? !records.empty()
               : !measurements.empty();
  }
  void Add(Item&& item) {
    if (auto* r = std::get_if<flows::FlowRecord>(&item)) {
      records.push_back(std::move(*r));
    } else {
      measurements.push_back(std::get<flows::Measurement>(std::move(item)));
    }
  }
  // Drops the first `n`, which the writer took.
  void EraseFront(size_t n) {
    if (!records.empty()) {
      records.erase(records.begin(), records.begin() + n);
    } else {
      measurements.erase(measurements.begin(), measurements.begin() + n);
    }
  }
  void clear() {
    records.clear();
    measurements.clear();
  }
};

}  // namespace

struct SinkRunner::Rep {
  Rep(std::string n, std::unique_ptr<SinkWriter> w, SinkOptions o)
      : name(std::move(n)), writer(std::move(w)), options(o) {
    options.queue_records = std::max<size_t>(options.queue_records, 1);
    options.batch_records = std::max<size_t>(options.batch_records, 1);
  }

  void Run();
  // Moves up to batch_records - batch.size() items of the batch's kind
  // from the head of the queue into `batch`, waiting for a full batch at most
  // flush_interval (not at all when stopping or when `batch` already holds
  // records to retry). False when there is nothing left to do.
  bool Fill(Batch& batch);
  bool Offer(Item item);
  // Sleeps `d`, or less when Stop()'s deadline comes first. False when the
  // deadline has passed.
  bool Sleep(absl::Duration d);
  bool PastDeadline() {
    std::lock_guard<std::mutex> lock(mu);
    return stopping && absl::Now() >= deadline;
  }
  // Logs `what` at most once per kLogInterval (per `last`).
  void LogLimited(absl::Time& last, const std::string& what) {
    const absl::Time now = absl::Now();
    if (now - last < kLogInterval) return;
    last = now;
    Log(name, what);
  }

  const std::string name;
  std::unique_ptr<SinkWriter> writer;
  SinkOptions options;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> queue;  // guarded by mu
  size_t held = 0;         // records taken by the thread, not yet written (mu)
  bool stopping = false;   // mu
  absl::Time deadline = absl::InfiniteFuture();  // mu

  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<size_t> queued{0};

  std::thread thread;
  bool started = false;
  bool stopped = false;
};

bool SinkRunner::Rep::Fill(Batch& batch) {
  std::unique_lock<std::mutex> lock(mu);
  if (batch.empty() && !stopping) {
    // Wait for a first record, then at most flush_interval for a batch.
    cv.wait(lock, [&] { return stopping || !queue.empty(); });
    const auto until = std::chrono::steady_clock::now() +
                       absl::ToChronoNanoseconds(options.flush_interval);
    cv.wait_until(lock, until, [&] {
      return stopping || queue.size() >= options.batch_records;
    });
  }
  while (!queue.empty() && batch.size() < options.batch_records &&
         batch.Takes(queue.front())) {
    batch.Add(std::move(queue.front()));
    queue.pop_front();
  }
  held = batch.size();
  if (batch.empty()) return false;  // stopping and nothing left
  return !(stopping && absl::Now() >= deadline);
}

bool SinkRunner::Rep::Sleep(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu);
  const absl::Time wake = absl::Now() + d;
  while (true) {
    const absl::Time now = absl::Now();
    if (stopping && now >= deadline) return false;
    const absl::Time until = stopping ? std::min(wake, deadline) : wake;
    if (now >= until) return !(stopping && now >= deadline);
    cv.wait_for(lock, absl::ToChronoNanoseconds(until - now));
  }
}

void SinkRunner::Rep::Run() {
  Batch batch;
  bool connected = false;
  absl::Duration backoff = options.initial_backoff;
  absl::Time last_error_log = absl::InfinitePast();
  absl::Time last_drop_log = absl::InfinitePast();
  uint64_t dropped_logged = 0;
  uint64_t failures = 0;  // failed attempts since the last success
  auto fail = [&](const absl::Status& status) {
    ++failures;
    connected = false;
    LogLimited(last_error_log, std::string(status.message()) + "; retrying");
    const bool go_on = Sleep(backoff);
    backoff = std::min(backoff * 2, options.max_backoff);
    return go_on;
  };
  // Connect at once, not at the first record: the destination (a database
  // file, a table) exists from the start and a wrong one is logged now.
  bool go_on = true;
  if (const absl::Status status = writer->Connect(); status.ok()) {
    connected = true;
  } else {
    go_on = fail(status);  // false: stopped during the backoff
  }
  while (go_on && Fill(batch)) {
    const uint64_t d = dropped.load(std::memory_order_relaxed);
    if (d != dropped_logged && absl::Now() - last_drop_log >= kLogInterval) {
      last_drop_log = absl::Now();
      Log(name, "queue full, " + std::to_string(d - dropped_logged) +
                    " records dropped");
      dropped_logged = d;
    }
    if (!connected) {
      const absl::Status status = writer->Connect();
      if (!status.ok()) {
        if (!fail(status)) break;
        continue;
      }
      connected = true;
    }
    SinkWriter::WriteResult result =
        batch.records.empty() ? writer->WriteMeasurements(batch.measurements)
                              : writer->Write(batch.records);
    const size_t written = std::min(result.written, batch.size());
    const size_t rejected_now = std::min(result.rejected, written);
    batch.EraseFront(written);
    {
      std::lock_guard<std::mutex> lock(mu);
      held = batch.size();
      queued.store(queue.size() + held, std::memory_order_relaxed);
    }
    // After the queue's room is given back: whoever sees the records sent
    // finds room for as many new ones.
    rejected.fetch_add(rejected_now, std::memory_order_relaxed);
    sent.fetch_add(written - rejected_now, std::memory_order_release);
    if (!batch.empty()) {
      failed.fetch_add(batch.size(), std::memory_order_relaxed);
      absl::Status status = result.status;
      if (status.ok()) status = absl::UnknownError("incomplete write");
      if (!fail(status)) break;
      continue;
    }
    if (failures > 0) {
      Log(name, "writing again after " + std::to_string(failures) +
                    " failed attempts");
      failures = 0;
    }
    backoff = options.initial_backoff;
  }
  // Stopping: what is left is dropped.
  size_t left;
  {
    std::lock_guard<std::mutex> lock(mu);
    left = queue.size() + batch.size();
    queue.clear();
    held = 0;
    queued.store(0, std::memory_order_relaxed);
  }
  batch.clear();
  if (left > 0) {
    dropped.fetch_add(left, std::memory_order_relaxed);
    Log(name, "stopped with " + std::to_string(left) +
                  " records not written (dropped)");
  }
  absl::Time close_by;
  {
    std::lock_guard<std::mutex> lock(mu);
    close_by = deadline;
  }
  writer->Close(close_by);
}

SinkRunner::SinkRunner(std::string name, std::unique_ptr<SinkWriter> writer,
                       SinkOptions options)
    : rep_(std::make_unique<Rep>(std::move(name), std::move(writer), options)) {
}

SinkRunner::~SinkRunner() { Stop(absl::Now()); }

void SinkRunner::Start() {
  if (rep_->started || rep_->stopped) return;
  rep_->started = true;
  rep_->thread = std::thread([rep = rep_.get()] { rep->Run(); });
}

bool SinkRunner::Rep::Offer(Item item) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!stopping && queue.size() + held < options.queue_records) {
      queue.push_back(std::move(item));
      const size_t n = queue.size();
      queued.store(n + held, std::memory_order_relaxed);
      if (n == 1 || n == options.batch_records) cv.notify_one();
      return true;
    }
  }
  dropped.fetch_add(1, std::memory_order_relaxed);
  return false;  // `item` is freed here, outside the lock
}

bool SinkRunner::Offer(flows::FlowRecord record) {
  return rep_->Offer(Item(std::move(record)));
}

bool SinkRunner::Offer(flows::Measurement measurement) {
  return rep_->Offer(Item(std::move(measurement)));
}

void SinkRunner::Stop(absl::Time deadline) {
  Rep& r = *rep_;
  if (r.stopped) return;
  r.stopped = true;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.stopping = true;
    r.deadline = deadline;
  }
  r.cv.notify_all();
  if (r.started) {
    r.thread.join();
    return;
  }
  // Never started: nothing was written.
  size_t left;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    left = r.queue.size();
    r.queue.clear();
    r.queued.store(0, std::memory_order_relaxed);
  }
  r.dropped.fetch_add(left, std::memory_order_relaxed);
}

SinkRunner::Stats SinkRunner::stats() const {
  Stats s;
  s.sent = rep_->sent.load(std::memory_order_acquire);
  s.failed = rep_->failed.load(std::memory_order_relaxed);
  s.dropped = rep_->dropped.load(std::memory_order_relaxed);
  s.rejected = rep_->rejected.load(std::memory_order_relaxed);
  s.queued = rep_->queued.load(std::memory_order_relaxed);
  return s;
}

const std::string& SinkRunner::name() const { return rep_->name; }

bool SinkRunner::Accepts(flows::MeasurementKind kind) const {
  return rep_->writer->Accepts(kind);
}

}  // namespace sinks
