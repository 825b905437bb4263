#include "saver/error_log.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace {

using saver::ErrorLog;
using std::chrono::seconds;

TEST(ErrorLog, AdmitsTheFirstAtOnceThenOncePerPeriodWithTheCountHeldBack) {
  ErrorLog log("x", seconds(10));
  const ErrorLog::Clock::time_point t0{seconds(1000)};
  EXPECT_EQ(log.Admit(t0), std::optional<uint64_t>(0));
  EXPECT_EQ(log.Admit(t0 + seconds(1)), std::nullopt);
  EXPECT_EQ(log.Admit(t0 + seconds(9)), std::nullopt);
  EXPECT_EQ(log.Admit(t0 + seconds(10)), std::optional<uint64_t>(2));
  // The period restarts from the line let through, and so does the count.
  EXPECT_EQ(log.Admit(t0 + seconds(19)), std::nullopt);
  EXPECT_EQ(log.Admit(t0 + seconds(20)), std::optional<uint64_t>(1));
  EXPECT_EQ(log.Admit(t0 + seconds(500)), std::optional<uint64_t>(0));
}

TEST(ErrorLog, ReportWritesOneLineCountingTheErrorsSinceTheLastLine) {
  char* text = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  ASSERT_NE(out, nullptr);
  {
    ErrorLog log("saver", seconds(10), out);
    const ErrorLog::Clock::time_point t0{seconds(1000)};
    EXPECT_TRUE(log.Report("disk full", t0));
    EXPECT_FALSE(log.Report("disk full", t0 + seconds(2)));
    EXPECT_FALSE(log.Report("disk full", t0 + seconds(3)));
    EXPECT_TRUE(log.Report("read-only", t0 + seconds(12)));
  }
  std::fclose(out);
  EXPECT_EQ(std::string(text, size),
            "saver: disk full (errors since the last report: 1)\n"
            "saver: read-only (errors since the last report: 3)\n");
  std::free(text);
}

}  // namespace
