// Sinks on a full file system (root: a small tmpfs of the test's own):
// writes fail and are counted, nothing already written is harmed, and when
// space comes back every queued record is written, once, in order.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "flows/record_json.h"
#include "gtest/gtest.h"
#include "sinks/sink_runner.h"
#include "sinks/sink_url.h"
#include "sinks/writers.h"
#include "tests/testutil/flow_records.h"
#include "tests/testutil/temp_dir.h"

namespace sinks {
namespace {

constexpr uint32_t kBefore = 300;  // records written before the disk fills
constexpr uint32_t kDuring = 700;  // records offered while it is full

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (mounts a tmpfs)";
    mnt_ = dir_.path() + "/mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    // Room for every record the test writes (a JSON line is about 1.3 KiB
    // with the owner and namespace columns); Fill() takes the rest.
    ASSERT_EQ(mount("tcpinfo-test", mnt_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                    "size=4m,mode=0755"),
              0)
        << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    runner_.reset();  // its thread and files first
    if (mounted_) {
      EXPECT_EQ(umount2(mnt_.c_str(), MNT_DETACH), 0);
    }
  }

  // Writes zeros to mnt_/filler until the file system is full.
  void Fill() {
    const int fd =
        open((mnt_ + "/filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(4096, '\0');
    ssize_t n;
    while ((n = write(fd, block.data(), block.size())) > 0) {
    }
    const int err = errno;
    close(fd);
    ASSERT_EQ(n, -1);
    ASSERT_EQ(err, ENOSPC);
  }
  void Unfill() { ASSERT_EQ(unlink((mnt_ + "/filler").c_str()), 0); }

  void StartRunner(const std::string& url_text) {
    absl::StatusOr<SinkUrl> url = ParseSinkUrl(url_text);
    ASSERT_TRUE(url.ok()) << url.status();
    absl::StatusOr<std::unique_ptr<SinkWriter>> w = MakeWriter(*url);
    ASSERT_TRUE(w.ok()) << w.status();
    SinkOptions o;
    o.batch_records = 100;
    o.flush_interval = absl::Milliseconds(10);
    o.initial_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    runner_ = std::make_unique<SinkRunner>(url->redacted, *std::move(w), o);
    runner_->Start();
  }
  void Offer(uint32_t first, uint32_t n) {
    for (uint32_t i = first; i < first + n; ++i) {
      ASSERT_TRUE(runner_->Offer(testutil::MakeFlowRecord(i)));
    }
  }
  // Waits (at most 20 s) until `pred` of the runner's stats holds.
  bool WaitFor(const std::function<bool(const SinkRunner::Stats&)>& pred) {
    for (int i = 0; i < 2000; ++i) {
      if (pred(runner_->stats())) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return pred(runner_->stats());
  }

  // The whole sequence: some records written, the disk fills, more are
  // offered and fail, space comes back, everything is written.
  void RunOutOfSpaceAndBack(const std::string& url_text,
                            const std::function<void()>& check_while_full) {
    ASSERT_NO_FATAL_FAILURE(StartRunner(url_text));
    ASSERT_NO_FATAL_FAILURE(Offer(0, kBefore));
    ASSERT_TRUE(WaitFor([](const auto& s) { return s.sent == kBefore; }));
    ASSERT_NO_FATAL_FAILURE(Fill());
    ASSERT_NO_FATAL_FAILURE(Offer(kBefore, kDuring));
    ASSERT_TRUE(WaitFor([](const auto& s) { return s.failed >= 2 * 100; }))
        << "failed " << runner_->stats().failed;
    SinkRunner::Stats s = runner_->stats();
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.sent + s.queued, kBefore + kDuring);
    EXPECT_LT(s.sent, kBefore + kDuring);
    check_while_full();
    ASSERT_NO_FATAL_FAILURE(Unfill());
    ASSERT_TRUE(WaitFor([](const auto& s) {
      return s.sent == kBefore + kDuring;
    })) << "sent "
        << runner_->stats().sent;
    runner_->Stop(absl::Now() + absl::Seconds(5));
    s = runner_->stats();
    EXPECT_EQ(s.sent, kBefore + kDuring);
    EXPECT_EQ(s.dropped, 0u);
    EXPECT_EQ(s.queued, 0u);
  }

  testutil::TempDir dir_;
  std::string mnt_;
  bool mounted_ = false;
  std::unique_ptr<SinkRunner> runner_;
};

std::string Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      out = t == nullptr ? "NULL" : reinterpret_cast<const char*>(t);
    } else {
      out = std::string("error: ") + sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return out;
}

TEST_F(DiskFullTest, SqliteFailsWhileFullThenWritesEveryRecordOnce) {
  const std::string db = mnt_ + "/flows.db";
  ASSERT_NO_FATAL_FAILURE(RunOutOfSpaceAndBack("sqlite:" + db, [&] {
    EXPECT_EQ(Query(db, "PRAGMA integrity_check"), "ok");
  }));
  EXPECT_EQ(Query(db, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(Query(db, "SELECT count(*) FROM flows"),
            std::to_string(kBefore + kDuring));
  EXPECT_EQ(Query(db, "SELECT count(DISTINCT uuid || '/' || seq) FROM flows"),
            std::to_string(kBefore + kDuring));
  // Rows went in in order: rowid order is record order.
  const flows::FlowRecord last =
      testutil::MakeFlowRecord(kBefore + kDuring - 1);
  EXPECT_EQ(Query(db,
                  "SELECT uuid || '/' || seq FROM flows ORDER BY rowid "
                  "DESC LIMIT 1"),
            last.uuid + "/" + std::to_string(last.seq));
}

TEST_F(DiskFullTest, JsonlFailsWhileFullThenWritesEveryLineOnceInOrder) {
  const std::string path = mnt_ + "/flows.jsonl";
  auto read = [&] {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  std::string before;
  for (uint32_t i = 0; i < kBefore; ++i) {
    flows::AppendRecordJson(testutil::MakeFlowRecord(i), &before);
    before.push_back('\n');
  }
  ASSERT_NO_FATAL_FAILURE(RunOutOfSpaceAndBack("jsonl:" + path, [&] {
    // What was written before stays; at most a broken line follows it.
    EXPECT_EQ(read().substr(0, before.size()), before);
  }));
  std::string want;
  for (uint32_t i = 0; i < kBefore + kDuring; ++i) {
    flows::AppendRecordJson(testutil::MakeFlowRecord(i), &want);
    want.push_back('\n');
  }
  EXPECT_EQ(read(), want);
}

}  // namespace
}  // namespace sinks
