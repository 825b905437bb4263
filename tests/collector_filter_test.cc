// The collector with -filter (CollectorOptions::program): dumped messages
// it does not select are skipped, destroy events are checked by the same
// program unless their connection was selected while alive.
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "collector/collector.h"
#include "filter/program.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/collector_fakes.h"

namespace {

using collector_test::MakeMessage;
using collector_test::MakeMsg;
using ::testing::ElementsAre;

std::shared_ptr<const filter::Program> Compiled(const char* text) {
  absl::StatusOr<filter::Program> p = filter::Program::Create(text);
  EXPECT_TRUE(p.ok()) << p.status();
  return std::make_shared<const filter::Program>(*std::move(p));
}

std::string Message(uint64_t cookie, uint16_t dport, uint8_t state) {
  return MakeMessage(
      MakeMsg("10.77.0.2", 40000 + cookie, "10.77.0.1", dport, cookie, state),
      280, static_cast<uint8_t>(cookie));
}

void Deliver(collector::Collector* c, std::string message) {
  c->HandleDestroyed(message.data(), message.size(), absl::Now());
}

TEST(CollectorFilter, OnlySelectedDumpedConnectionsAreArchived) {
  collector_test::ScriptedCollector run;
  run.script.inet = {Message(1, 443, tcp::kEstablished),
                     Message(2, 80, tcp::kEstablished),
                     Message(3, 443, tcp::kCloseWait)};
  collector::CollectorOptions options;
  options.program = Compiled("state established dport = :https");
  auto c = run.Start(options, nullptr);
  c->RunCycle();
  ASSERT_EQ(run.saver.written.size(), 1u);
  EXPECT_EQ(run.saver.written[0].cookie, 1u);
  EXPECT_EQ(c->stats().connections, 1);
  EXPECT_EQ(c->stats().skipped, 2);
}

TEST(CollectorFilter, DestroyEventsPassTheSameProgramOrTheirSelectedPast) {
  collector_test::ScriptedCollector run;
  run.script.inet = {Message(1, 443, tcp::kEstablished)};
  collector::CollectorOptions options;
  options.program = Compiled("established and dport = 443 or dport = 22");
  auto c = run.Start(options, nullptr);
  c->RunCycle();
  ASSERT_EQ(run.saver.written.size(), 1u);
  // Tracked: its CLOSE event is its final record, though "established"
  // no longer holds.
  Deliver(c.get(), Message(1, 443, tcp::kClose));
  // Never dumped: judged by the program on its CLOSE state.
  Deliver(c.get(), Message(2, 443, tcp::kClose));  // not selected
  Deliver(c.get(), Message(3, 22, tcp::kClose));   // selected
  ASSERT_EQ(run.saver.written.size(), 3u);
  EXPECT_EQ(run.saver.written[1].cookie, 1u);
  EXPECT_EQ(run.saver.written[2].cookie, 3u);
  EXPECT_THAT(run.saver.closed, ElementsAre(1u, 3u));
  EXPECT_EQ(c->stats().event_only_archives, 1);
}

}  // namespace
