// The eventsocket-client binary against a real Server: prints events as they
// come and reconnects when the server restarts.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "eventsocket/server.h"
#include "gtest/gtest.h"
#include "tests/eventsocket_reader.h"
#include "tests/testutil/paths.h"

namespace {

using testutil::WaitForClients;

TEST(EventSocketClient, PrintsEventsAndReconnectsAfterServerRestart) {
  char dir_template[] = "/tmp/evclient_XXXXXX";
  const std::string dir = mkdtemp(dir_template);
  const std::string path = dir + "/events.sock";
  const parse::Timestamp t{1795310805, 264601601};

  auto server = eventsocket::Server::Start({.path = path});
  ASSERT_TRUE(server.ok()) << server.status();
  // The client exits by itself after four events; `timeout` bounds a
  // failure.
  FILE* client =
      popen(("timeout 20 " + testutil::BinaryPath("eventsocket-client") +
             " -tcpinfo.eventsocket " + path + " -count=4 2>/dev/null")
                .c_str(),
            "r");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(WaitForClients(**server, 1));
  // An open event with -owners' Owner: passed on as it is.
  eventsocket::EventOwner owner;
  owner.pid = 77;
  owner.comm.Set("curl");
  (*server)->FlowCreated(t, "with-owner", inetdiag::SockId{}, &owner);
  (*server)->FlowDeleted(t, "before-restart");
  ASSERT_TRUE((*server)->Flush(absl::Seconds(5)));

  // The daemon restarts: the socket goes away and comes back.
  server->reset();
  auto restarted = eventsocket::Server::Start({.path = path});
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(WaitForClients(**restarted, 1));
  (*restarted)->FlowDeleted(t, "after-restart-1");
  (*restarted)->FlowDeleted(t, "after-restart-2");
  ASSERT_TRUE((*restarted)->Flush(absl::Seconds(5)));

  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), client)) > 0) output.append(buf, n);
  const int status = pclose(client);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto close_line = [](const std::string& uuid) {
    return "{\"Event\":1,\"Timestamp\":\"2026-11-22T01:26:45.264601601Z\","
           "\"UUID\":\"" +
           uuid + "\",\"ID\":null}\n";
  };
  const std::string open_line =
      "{\"Event\":0,\"Timestamp\":\"2026-11-22T01:26:45.264601601Z\","
      "\"UUID\":\"with-owner\",\"ID\":{\"SPort\":0,\"DPort\":0,\"SrcIP\":"
      "\"0.0.0.0\",\"DstIP\":\"0.0.0.0\",\"Interface\":0,\"Cookie\":0},"
      "\"Owner\":{\"PID\":77,\"Comm\":\"curl\",\"UID\":4294967295,"
      "\"User\":\"\",\"Container\":\"\",\"Unit\":\"\"}}\n";
  EXPECT_EQ(output, open_line + close_line("before-restart") +
                        close_line("after-restart-1") +
                        close_line("after-restart-2"));
  restarted->reset();
  rmdir(dir.c_str());
}

TEST(EventSocketClient, RefusesMissingPathWithUsage) {
  const std::string cmd = "env -u TCPINFO_EVENTSOCKET " +
                          testutil::BinaryPath("eventsocket-client") + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output.append(buf, n);
  const int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << output;
  EXPECT_NE(output.find("-tcpinfo.eventsocket is required"), std::string::npos)
      << output;
}

}  // namespace
