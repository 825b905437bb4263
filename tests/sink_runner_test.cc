#include "sinks/sink_runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sinks {
namespace {

// What the test writer did and is told to do; shared with the test, which
// keeps it after the runner (and its writer) are gone.
struct WriterState {
  std::mutex mu;
  std::condition_variable cv;
  // Told:
  int fail_connects = 0;       // the next N Connect()s fail
  int fail_writes = 0;         // the next N Write()s fail
  size_t partial = 0;          // a failing Write still takes this many first
  size_t reject = 0;           // each Write says this many it took were refused
  bool block = false;          // Write() waits while this is true
  absl::Duration write_delay;  // each Write() takes this long
  // Did:
  int connects = 0;
  int writes = 0;
  int closes = 0;
  bool in_write = false;
  std::vector<uint32_t> written;  // seq of every record taken
  // Every item taken, in order: "r<seq>" or "m<value of field 0>"; and
  // per Write/WriteMeasurements call, 'r' or 'm'.
  std::vector<std::string> items;
  std::string calls;
  std::vector<absl::Time> write_attempts;  // when each Write() began
  std::vector<absl::Time> connect_attempts;

  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    block = false;
    cv.notify_all();
  }
  // Waits until `pred` (under mu) or 10 s; its value.
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), pred);
  }
};

class TestWriter : public SinkWriter {
 public:
  explicit TestWriter(std::shared_ptr<WriterState> s) : s_(std::move(s)) {}

  absl::Status Connect() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    ++s_->connects;
    s_->connect_attempts.push_back(absl::Now());
    s_->cv.notify_all();
    if (s_->fail_connects > 0) {
      --s_->fail_connects;
      return absl::UnavailableError("connection refused");
    }
    return absl::OkStatus();
  }

  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    std::unique_lock<std::mutex> lock(s_->mu);
    ++s_->writes;
    s_->write_attempts.push_back(absl::Now());
    s_->in_write = true;
    s_->cv.notify_all();
    s_->cv.wait(lock, [&] { return !s_->block; });
    if (s_->write_delay > absl::ZeroDuration()) {
      lock.unlock();
      absl::SleepFor(s_->write_delay);
      lock.lock();
    }
    s_->in_write = false;
    WriteResult result;
    size_t take = records.size();
    if (s_->fail_writes > 0) {
      --s_->fail_writes;
      take = std::min(s_->partial, records.size());
      result.status = absl::UnavailableError("disk full");
    }
    for (size_t i = 0; i < take; ++i) {
      s_->written.push_back(records[i].seq);
      s_->items.push_back("r" + std::to_string(records[i].seq));
    }
    s_->calls += 'r';
    result.written = take;
    result.rejected = std::min(s_->reject, take);
    s_->cv.notify_all();
    return result;
  }

  bool Accepts(flows::MeasurementKind kind) const override {
    return kind == flows::MeasurementKind::kDeviceUsage;
  }

  WriteResult WriteMeasurements(
      absl::Span<const flows::Measurement> measurements) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    for (const flows::Measurement& m : measurements) {
      s_->items.push_back(
          "m" + std::to_string(std::get<int64_t>(m.fields[0].second)));
    }
    s_->calls += 'm';
    s_->cv.notify_all();
    return {measurements.size(), absl::OkStatus()};
  }

  void Close(absl::Time deadline) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    ++s_->closes;
    s_->cv.notify_all();
  }

 private:
  std::shared_ptr<WriterState> s_;
};

flows::FlowRecord Record(uint32_t seq) {
  flows::FlowRecord r;
  r.uuid = "host_1_00000000000000AA";
  r.seq = seq;
  return r;
}

std::vector<uint32_t> Iota(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

SinkOptions FastOptions(size_t batch_records = 100) {
  SinkOptions o;
  o.queue_records = 100000;
  o.batch_records = batch_records;
  o.flush_interval = absl::Milliseconds(10);
  o.initial_backoff = absl::Milliseconds(20);
  o.max_backoff = absl::Milliseconds(200);
  return o;
}

TEST(SinkRunner, WritesEveryRecordInOrderInBatches) {
  auto state = std::make_shared<WriterState>();
  SinkRunner runner("test", std::make_unique<TestWriter>(state), FastOptions());
  runner.Start();
  for (uint32_t i = 0; i < 5000; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
  runner.Stop(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(state->written, Iota(5000));
  EXPECT_EQ(state->connects, 1);
  EXPECT_EQ(state->closes, 1);
  EXPECT_GE(state->writes, 50);  // batches of at most 100
  const SinkRunner::Stats s = runner.stats();
  EXPECT_EQ(s.sent, 5000u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(runner.name(), "test");
}

flows::Measurement Usage(int64_t download) {
  flows::Measurement m;
  m.kind = flows::MeasurementKind::kDeviceUsage;
  m.tags = {{"mac", "02:00:00:00:00:01"}};
  m.fields = {{"download", download}};
  return m;
}

TEST(SinkRunner, MeasurementsKeepTheirPlaceAmongRecordsInBatchesOfOneKind) {
  auto state = std::make_shared<WriterState>();
  state->block = true;  // everything is queued before the first write
  SinkRunner runner("test", std::make_unique<TestWriter>(state),
                    FastOptions(/*batch_records=*/3));
  runner.Start();
  ASSERT_TRUE(runner.Offer(Record(0)));
  ASSERT_TRUE(state->WaitFor([&] { return state->in_write; }));
  std::vector<std::string> want = {"r0"};
  for (int64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(runner.Offer(Usage(i)));
    want.push_back("m" + std::to_string(i));
  }
  for (uint32_t i = 1; i < 3; ++i) {
    ASSERT_TRUE(runner.Offer(Record(i)));
    want.push_back("r" + std::to_string(i));
  }
  ASSERT_TRUE(runner.Offer(Usage(9)));
  want.push_back("m9");
  EXPECT_TRUE(runner.Accepts(flows::MeasurementKind::kDeviceUsage));
  EXPECT_FALSE(runner.Accepts(flows::MeasurementKind::kProcessTraffic));
  state->Release();
  runner.Stop(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(state->items, want);
  // r0 | m0 m1 m2 | m3 | r1 r2 | m9: a batch never mixes kinds and holds
  // at most batch_records.
  EXPECT_EQ(state->calls, "rmmrm");
  EXPECT_EQ(runner.stats().sent, 8u);
}

TEST(SinkRunner, RejectedRecordsAreCountedApartAndNotRetried) {
  auto state = std::make_shared<WriterState>();
  state->reject = 2;  // of each batch of 10, 2 are refused as bad data
  SinkRunner runner("test", std::make_unique<TestWriter>(state),
                    FastOptions(/*batch_records=*/10));
  state->block = true;  // all 30 queued before the first write
  runner.Start();
  for (uint32_t i = 0; i < 30; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
  state->Release();
  runner.Stop(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(state->written, Iota(30));  // each taken once
  EXPECT_EQ(state->writes, 3);
  const SinkRunner::Stats s = runner.stats();
  EXPECT_EQ(s.sent, 24u);
  EXPECT_EQ(s.rejected, 6u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.dropped, 0u);
}

TEST(SinkRunner, MeasurementsShareTheQueueBoundAndItsCounts) {
  auto state = std::make_shared<WriterState>();
  SinkOptions o = FastOptions();
  o.queue_records = 3;
  SinkRunner runner("test", std::make_unique<TestWriter>(state), o);
  // Not started: nothing leaves the queue.
  EXPECT_TRUE(runner.Offer(Record(0)));
  EXPECT_TRUE(runner.Offer(Usage(1)));
  EXPECT_TRUE(runner.Offer(Usage(2)));
  EXPECT_FALSE(runner.Offer(Usage(3)));
  EXPECT_FALSE(runner.Offer(Record(4)));
  EXPECT_EQ(runner.stats().queued, 3u);
  EXPECT_EQ(runner.stats().dropped, 2u);
}

TEST(SinkRunner, ConnectsWhenStartedBeforeAnyRecord) {
  auto state = std::make_shared<WriterState>();
  SinkRunner runner("test", std::make_unique<TestWriter>(state), FastOptions());
  runner.Start();
  // The destination (a database file, its table) exists from the start.
  ASSERT_TRUE(state->WaitFor([&] { return state->connects == 1; }));
  EXPECT_EQ(state->writes, 0);
  ASSERT_TRUE(runner.Offer(Record(0)));
  ASSERT_TRUE(state->WaitFor([&] { return state->written.size() == 1; }));
  runner.Stop(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(state->connects, 1);  // the first records use that connection
}

TEST(SinkRunner, AFailedFirstConnectIsRetriedWithBackoffWhenRecordsCome) {
  auto state = std::make_shared<WriterState>();
  state->fail_connects = 1;
  SinkRunner runner("test", std::make_unique<TestWriter>(state), FastOptions());
  runner.Start();
  ASSERT_TRUE(state->WaitFor([&] { return state->connects == 1; }));
  ASSERT_TRUE(runner.Offer(Record(0)));
  ASSERT_TRUE(state->WaitFor([&] { return state->written.size() == 1; }));
  runner.Stop(absl::Now() + absl::Seconds(5));
  ASSERT_EQ(state->connect_attempts.size(), 2u);
  EXPECT_GE(state->connect_attempts[1] - state->connect_attempts[0],
            absl::Milliseconds(20));  // FastOptions' initial backoff
  EXPECT_EQ(runner.stats().sent, 1u);
}

TEST(SinkRunner, FlushesAPartialBatchAfterTheFlushInterval) {
  auto state = std::make_shared<WriterState>();
  SinkRunner runner("test", std::make_unique<TestWriter>(state), FastOptions());
  runner.Start();
  const absl::Time t0 = absl::Now();
  ASSERT_TRUE(runner.Offer(Record(0)));
  ASSERT_TRUE(state->WaitFor([&] { return state->written.size() == 1; }));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_LT(took, absl::Seconds(2));
  runner.Stop(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(runner.stats().sent, 1u);  // counted once Write returned
}

TEST(SinkRunner, RetriesFailedWritesWithDoublingBackoffAndReconnects) {
  auto state = std::make_shared<WriterState>();
  state->fail_writes = 4;
  state->partial = 10;  // each failing attempt still takes 10 records
  SinkOptions o = FastOptions();
  o.batch_records = 50;
  SinkRunner runner("test", std::make_unique<TestWriter>(state), o);
  // Queue everything first so the first batches are full.
  for (uint32_t i = 0; i < 200; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
  runner.Start();
  ASSERT_TRUE(state->WaitFor([&] { return state->written.size() == 200; }));
  runner.Stop(absl::Now() + absl::Seconds(5));
  // Order kept, nothing twice: what a failed attempt took is not retried.
  EXPECT_EQ(state->written, Iota(200));
  // Reconnects after each failed attempt.
  EXPECT_EQ(state->connects, 5);
  // Backoff 20, 40, 80, 160 ms between the failed attempts and the next.
  ASSERT_GE(state->write_attempts.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    const absl::Duration gap =
        state->write_attempts[i + 1] - state->write_attempts[i];
    EXPECT_GE(gap, absl::Milliseconds(20 << i)) << "attempt " << i;
  }
  const SinkRunner::Stats s = runner.stats();
  EXPECT_EQ(s.sent, 200u);
  EXPECT_EQ(s.failed, 4u * 40);  // 40 of each failed batch of 50 not taken
  EXPECT_EQ(s.dropped, 0u);
}

TEST(SinkRunner, BackoffStopsGrowingAtMaxBackoff) {
  auto state = std::make_shared<WriterState>();
  state->fail_connects = 6;
  SinkOptions o = FastOptions();
  o.initial_backoff = absl::Milliseconds(10);
  o.max_backoff = absl::Milliseconds(40);
  SinkRunner runner("test", std::make_unique<TestWriter>(state), o);
  runner.Start();
  ASSERT_TRUE(runner.Offer(Record(0)));
  ASSERT_TRUE(state->WaitFor([&] { return state->written.size() == 1; }));
  runner.Stop(absl::Now() + absl::Seconds(5));
  ASSERT_EQ(state->connect_attempts.size(), 7u);
  const auto& a = state->connect_attempts;
  // 10, 20, 40, 40, 40, 40 ms.
  EXPECT_GE(a[1] - a[0], absl::Milliseconds(10));
  EXPECT_GE(a[2] - a[1], absl::Milliseconds(20));
  for (int i = 3; i < 7; ++i) {
    EXPECT_GE(a[i] - a[i - 1], absl::Milliseconds(40));
    EXPECT_LT(a[i] - a[i - 1], absl::Milliseconds(1000));
  }
  EXPECT_EQ(state->writes, 1);
  EXPECT_EQ(runner.stats().failed, 0u);  // no Write failed; Connect did
}

TEST(SinkRunner, DropsAndCountsWhatDoesNotFitWhileTheWriterIsStuck) {
  auto state = std::make_shared<WriterState>();
  state->block = true;
  SinkOptions o = FastOptions();
  o.queue_records = 10;
  o.batch_records = 4;
  SinkRunner runner("test", std::make_unique<TestWriter>(state), o);
  runner.Start();
  int accepted = 0;
  for (uint32_t i = 0; i < 30; ++i) {
    if (runner.Offer(Record(i))) ++accepted;
    if (i == 0) {
      ASSERT_TRUE(state->WaitFor([&] { return state->in_write; }));
    }
  }
  // The record in the stuck Write counts against the bound too.
  EXPECT_EQ(accepted, 10);
  SinkRunner::Stats s = runner.stats();
  EXPECT_EQ(s.dropped, 20u);
  EXPECT_EQ(s.queued, 10u);
  EXPECT_EQ(s.sent, 0u);
  state->Release();
  runner.Stop(absl::Now() + absl::Seconds(5));
  s = runner.stats();
  EXPECT_EQ(s.sent, 10u);
  EXPECT_EQ(s.dropped, 20u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(state->written, Iota(10));  // the first ten, in order
}

TEST(SinkRunner, OfferNeverWaitsForAStuckWriter) {
  auto state = std::make_shared<WriterState>();
  state->block = true;
  SinkOptions o = FastOptions();
  o.batch_records = 1000;
  SinkRunner runner("test", std::make_unique<TestWriter>(state), o);
  runner.Start();
  ASSERT_TRUE(runner.Offer(Record(0)));
  ASSERT_TRUE(state->WaitFor([&] { return state->in_write; }));
  // The writer is inside Write() and stays there: every Offer still
  // returns at once.
  absl::Duration worst;
  std::vector<absl::Duration> latencies;
  for (uint32_t i = 1; i <= 20000; ++i) {
    const absl::Time t0 = absl::Now();
    ASSERT_TRUE(runner.Offer(Record(i)));
    const absl::Duration d = absl::Now() - t0;
    latencies.push_back(d);
    worst = std::max(worst, d);
  }
  std::sort(latencies.begin(), latencies.end());
  const absl::Duration p99 = latencies[latencies.size() * 99 / 100];
  std::cout << "Offer while the writer is stuck: median "
            << latencies[latencies.size() / 2] << ", p99 " << p99 << ", worst "
            << worst << "\n";
  EXPECT_LT(p99, absl::Microseconds(200)) << "p99 " << p99;
  // Every one returns (the write never does); the bound only leaves room
  // for preemption on a loaded machine.
  EXPECT_LT(worst, absl::Milliseconds(500)) << "worst " << worst;
  EXPECT_EQ(runner.stats().queued, 20001u);
  {
    std::lock_guard<std::mutex> lock(state->mu);
    EXPECT_TRUE(state->in_write);  // still stuck all along
  }
  state->Release();
  runner.Stop(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(state->written, Iota(20001));
}

TEST(SinkRunner, StopDrainsTheQueueBeforeTheDeadline) {
  auto state = std::make_shared<WriterState>();
  state->write_delay = absl::Milliseconds(2);
  SinkRunner runner("test", std::make_unique<TestWriter>(state),
                    FastOptions(/*batch_records=*/10));
  runner.Start();
  for (uint32_t i = 0; i < 500; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
  const absl::Time t0 = absl::Now();
  runner.Stop(t0 + absl::Seconds(20));
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));  // did not wait for 20 s
  EXPECT_EQ(state->written, Iota(500));
  EXPECT_EQ(runner.stats().sent, 500u);
  EXPECT_EQ(runner.stats().dropped, 0u);
  EXPECT_FALSE(runner.Offer(Record(500)));  // stopped: dropped
  EXPECT_EQ(runner.stats().dropped, 1u);
  EXPECT_EQ(state->closes, 1);
}

TEST(SinkRunner, StopAtTheDeadlineCountsWhatIsLeftAsDropped) {
  auto state = std::make_shared<WriterState>();
  state->write_delay = absl::Milliseconds(50);
  SinkRunner runner("test", std::make_unique<TestWriter>(state),
                    FastOptions(/*batch_records=*/10));
  for (uint32_t i = 0; i < 1000; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
  runner.Start();
  const absl::Time t0 = absl::Now();
  runner.Stop(t0 + absl::Milliseconds(300));
  // One write may be under way at the deadline: it ends, then Stop does
  // (writing everything would take 5 s).
  EXPECT_LT(absl::Now() - t0, absl::Milliseconds(2500));
  const SinkRunner::Stats s = runner.stats();
  EXPECT_GT(s.sent, 0u);
  EXPECT_LT(s.sent, 1000u);
  EXPECT_EQ(s.sent + s.dropped, 1000u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(state->written, Iota(static_cast<uint32_t>(s.sent)));
  EXPECT_EQ(state->closes, 1);
}

TEST(SinkRunner, StopGivesUpOnADeadDestinationAtTheDeadline) {
  auto state = std::make_shared<WriterState>();
  state->fail_connects = 1000000;
  SinkRunner runner("test", std::make_unique<TestWriter>(state), FastOptions());
  runner.Start();
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
  ASSERT_TRUE(state->WaitFor([&] { return state->connects >= 2; }));
  const absl::Time t0 = absl::Now();
  runner.Stop(t0 + absl::Milliseconds(250));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_GE(took, absl::Milliseconds(200));  // kept trying until then
  EXPECT_LT(took, absl::Seconds(2));
  const SinkRunner::Stats s = runner.stats();
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.dropped, 100u);
  EXPECT_EQ(state->writes, 0);
}

TEST(SinkRunner, NeverStartedRunnerDropsWhatWasQueued) {
  auto state = std::make_shared<WriterState>();
  {
    SinkRunner runner("test", std::make_unique<TestWriter>(state),
                      FastOptions());
    for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(runner.Offer(Record(i)));
    runner.Stop(absl::Now() + absl::Seconds(1));
    EXPECT_EQ(runner.stats().dropped, 3u);
    EXPECT_EQ(runner.stats().queued, 0u);
  }
  EXPECT_EQ(state->connects, 0);
  EXPECT_EQ(state->writes, 0);
}

TEST(SinkRunner, DestructorStopsARunningRunner) {
  auto state = std::make_shared<WriterState>();
  state->fail_connects = 1000000;
  const absl::Time t0 = absl::Now();
  {
    SinkRunner runner("test", std::make_unique<TestWriter>(state),
                      FastOptions());
    runner.Start();
    ASSERT_TRUE(runner.Offer(Record(0)));
    ASSERT_TRUE(state->WaitFor([&] { return state->connects >= 1; }));
  }
  EXPECT_LT(absl::Now() - t0, absl::Seconds(2));
  EXPECT_EQ(state->closes, 1);
}

}  // namespace
}  // namespace sinks
