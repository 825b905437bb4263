// The query API of build/bin/tcp-info end to end, in a connfarm farm: a
// real connection is found by cookie (decimal and hex) and by uuid while
// open, with the values the kernel has; ?fields= selects; after it closes
// it is kept for -api.keep-closed with its final record, then answers 404;
// errors are JSON with the right status. And a hostile load (slowloris
// clients, a huge request, thousands of API requests a second) neither
// stalls polling nor the /metrics scrape.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/http_client.h"

namespace {

using std::chrono::milliseconds;
using Json = nlohmann::json;

constexpr uint16_t kPort = 4617;

class ApiIntegration : public testutil::DaemonTest {
 protected:
  ApiIntegration() : DaemonTest({"api_it", "apit", "ap", kPort}) {}

  // GET `target` on a fresh connection from the client namespace.
  testutil::Response Get(const std::string& target) {
    testutil::Response r;
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      const int fd = testutil::Connect(kDefaultMetricsPort);
      if (fd < 0) return;
      std::string pending;
      if (testutil::SendAll(fd, absl::StrCat("GET ", target,
                                             " HTTP/1.1\r\nHost: x\r\n"
                                             "Connection: close\r\n\r\n"))) {
        r = testutil::ReadResponse(fd, &pending);
      }
      close(fd);
    });
    return r;
  }

  // GET that must answer `status` with a JSON body; the body.
  Json GetJson(const std::string& target, int status) {
    const testutil::Response r = Get(target);
    EXPECT_TRUE(r.ok) << target;
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    EXPECT_EQ(
        r.headers.count("content-type") ? r.headers.at("content-type") : "",
        "application/json")
        << target;
    Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(j.is_discarded()) << target << ": " << r.body;
    return j;
  }

  // A client connection to the farm's server, accepted: client fd in
  // *client (its cookie in *cookie), server end returned.
  int OpenConnection(int* client, uint64_t* cookie) {
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      *client = socket(AF_INET, SOCK_STREAM, 0);
      ASSERT_GE(*client, 0);
      testutil::SetTimeouts(*client);
      const sockaddr_storage a = testutil::Address(false, kPort);
      ASSERT_EQ(connect(*client, reinterpret_cast<const sockaddr*>(&a),
                        testutil::Length(false)),
                0)
          << std::strerror(errno);
      socklen_t len = sizeof(*cookie);
      ASSERT_EQ(getsockopt(*client, SOL_SOCKET, SO_COOKIE, cookie, &len), 0);
    });
    const int server = accept(listeners_[0], nullptr, nullptr);
    EXPECT_GE(server, 0);
    return server;
  }

  // Polls GET `target` (at most `timeout`) until `done` holds for its JSON.
  bool WaitFor(const std::string& target, int status,
               const std::function<bool(const Json&)>& done,
               milliseconds timeout = milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const testutil::Response r = Get(target);
      if (r.ok && r.status == status) {
        Json j = Json::parse(r.body, nullptr, false);
        if (!j.is_discarded() && done(j)) return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }
};

TEST_F(ApiIntegration, FindsAConnectionByCookieAndUuidAndKeepsItAfterClose) {
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({"-api.keep-closed=2s"}));
  int client = -1;
  uint64_t cookie = 0;
  const int server = OpenConnection(&client, &cookie);
  ASSERT_GE(server, 0);
  ASSERT_NO_FATAL_FAILURE(testutil::SendAll(client, 100000));
  ASSERT_NO_FATAL_FAILURE(testutil::ReceiveAll(server, 100000));
  const std::string uuid = absl::StrFormat("%s_%016X", prefix_, cookie);
  const std::string by_cookie = absl::StrCat("/api/v1/connections/", cookie);

  // Open: in the list, and by decimal cookie, hex cookie and uuid.
  ASSERT_TRUE(WaitFor(by_cookie, 200, [](const Json& j) {
    return j.value("/TCP/BytesAcked"_json_pointer, int64_t{0}) >= 100000;
  })) << testutil::ReadText(daemon_log());
  Json list = GetJson("/api/v1/connections", 200);
  bool listed = false;
  for (const Json& c : list["Connections"]) {
    listed = listed || c["UUID"] == uuid;
  }
  EXPECT_TRUE(listed) << list.dump();
  for (const std::string& id :
       {absl::StrCat(cookie), absl::StrFormat("0x%x", cookie),
        absl::StrFormat("0X%X", cookie), uuid}) {
    Json j = GetJson("/api/v1/connections/" + id, 200);
    EXPECT_EQ(j["UUID"], uuid) << id;
    EXPECT_EQ(j["Cookie"], absl::StrCat(cookie)) << id;
    EXPECT_EQ(j["Open"], true) << id;
    EXPECT_EQ(j["IDM"]["DPort"], kPort) << id;
    EXPECT_EQ(j["IDM"]["Dst"], "10.77.0.1") << id;
    EXPECT_EQ(j["IDM"]["Cookie"], absl::StrFormat("%X", cookie)) << id;
    EXPECT_EQ(j["TCP"]["State"], 1) << id;  // ESTABLISHED
    EXPECT_GE(j["TCP"]["BytesAcked"].get<int64_t>(), 100000) << id;
    EXPECT_TRUE(j.contains("Timestamp") && j.contains("SKMemInfo")) << id;
  }

  // Field selection: exactly what was asked for, in the object's order.
  Json some =
      GetJson(by_cookie + "?fields=TCP.RTT,UUID,TCP.BytesAcked,Nope", 200);
  EXPECT_EQ(some.size(), 2u) << some.dump();
  EXPECT_EQ(some["UUID"], uuid);
  EXPECT_EQ(some["TCP"].size(), 2u) << some.dump();
  EXPECT_GT(some["TCP"]["RTT"].get<int64_t>(), 0);
  Json sections = GetJson("/api/v1/connections?fields=UUID,IDM", 200);
  for (const Json& c : sections["Connections"]) {
    EXPECT_EQ(c.size(), 2u) << c.dump();
    EXPECT_TRUE(c.contains("IDM")) << c.dump();
  }

  // Errors: JSON bodies with their status.
  for (const auto& [target, status] : std::vector<std::pair<std::string, int>>{
           {"/api/v1/connections/12345678901", 404},
           {absl::StrCat("/api/v1/connections/other_",
                         uuid.substr(prefix_.size())),
            404},
           {"/api/v1/connections/0xZZ", 400},
           {"/api/v1/connections/99999999999999999999", 400},
           {"/api/v1/connections/not-an-id", 400},
           {"/api/v1/connections?fields=a%ZZ", 400},
           {"/api/v1/connections?limit=3", 400},
           {"/api/v1/nothing", 404},
           {"/api/v1/connections/1/2", 404}}) {
    Json e = GetJson(target, status);
    EXPECT_EQ(e["Status"], status) << target;
    EXPECT_TRUE(e["Error"].is_string()) << target;
  }
  EXPECT_EQ(Get("/nothing").status, 404);
  // /metrics still the metrics.
  const testutil::Response metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(absl::StrContains(metrics.body, "tcpinfo_")) << metrics.body;

  // Closed: kept with its final record (the destroy event's) for 2 s.
  close(client);
  close(server);
  const auto closed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor(by_cookie, 200, [](const Json& j) {
    return j["Open"] == false;
  })) << testutil::ReadText(daemon_log());
  Json last = GetJson(absl::StrCat("/api/v1/connections/", uuid), 200);
  EXPECT_EQ(last["Open"], false);
  EXPECT_TRUE(last["ClosedAt"].is_string()) << last.dump();
  EXPECT_EQ(last["CloseReason"], "destroyed") << last.dump();
  EXPECT_GE(last["TCP"]["BytesAcked"].get<int64_t>(), 100000);
  // Not open any more: not in the list.
  const Json after_close = GetJson("/api/v1/connections", 200);
  for (const Json& c : after_close["Connections"]) {
    EXPECT_NE(c["UUID"], uuid);
  }
  // Then gone.
  ASSERT_TRUE(WaitFor(
      by_cookie, 404, [](const Json& j) { return j["Status"] == 404; },
      milliseconds(6000)));
  const int64_t kept = testutil::MsSince(closed);
  EXPECT_GE(kept, 1900);
  EXPECT_LE(kept, 4500);
}

// The tcpinfo_polling_interval_histogram count: cycles done.
int64_t Cycles(const std::string& metrics) {
  const std::string name = "tcpinfo_polling_interval_histogram_count ";
  const size_t at = metrics.find(name);
  if (at == std::string::npos) return -1;
  return std::stoll(metrics.substr(at + name.size()));
}

TEST_F(ApiIntegration, HostileClientsStallNeitherPollingNorTheScrape) {
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon({}));
  // Cycles in 3 s unloaded, on this machine as it is now.
  const int64_t idle_before = Cycles(Get("/metrics").body);
  std::this_thread::sleep_for(milliseconds(3000));
  const int64_t idle_cycles = Cycles(Get("/metrics").body) - idle_before;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> answered{0};
  std::vector<std::thread> threads;
  // Slowloris: 100 connections sending a request a byte at a time.
  threads.emplace_back([&] {
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      std::vector<int> fds;
      for (int i = 0; i < 100; ++i)
        fds.push_back(testutil::Connect(kDefaultMetricsPort));
      const std::string request = "GET /api/v1/connections HTTP/1.1\r\n";
      for (size_t k = 0; k < request.size() && !stop; ++k) {
        for (int fd : fds) {
          if (fd >= 0) (void)!send(fd, &request[k], 1, MSG_NOSIGNAL);
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
      for (int fd : fds) close(fd);
    });
  });
  // Huge requests: 1 MiB of header, again and again.
  threads.emplace_back([&] {
    testutil::InNamespace(farm_->Namespace("cli"), [&] {
      const std::string huge = absl::StrCat(
          "GET /api/v1/connections HTTP/1.1\r\nX: ", std::string(1 << 20, 'a'));
      while (!stop) {
        const int fd = testutil::Connect(kDefaultMetricsPort);
        if (fd < 0) continue;
        testutil::SendAll(fd, huge);
        close(fd);
      }
    });
  });
  // A flood: 4 keep-alive clients, each a request a millisecond (about
  // 4,000 a second in all; unpaced, they would take both cores of the
  // test machine from the daemon, which says nothing of the daemon).
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      testutil::InNamespace(farm_->Namespace("cli"), [&] {
        const int fd = testutil::Connect(kDefaultMetricsPort);
        if (fd < 0) return;
        std::string pending;
        const std::string request =
            t % 2 ? "GET /api/v1/connections HTTP/1.1\r\n\r\n"
                  : "GET /api/v1/connections/1?fields=TCP.RTT HTTP/1.1\r\n\r\n";
        while (!stop) {
          if (!testutil::SendAll(fd, request)) break;
          if (!testutil::ReadResponse(fd, &pending).ok) break;
          ++answered;
          std::this_thread::sleep_for(milliseconds(1));
        }
        close(fd);
      });
    });
  }
  std::this_thread::sleep_for(milliseconds(500));
  const int64_t answered_before = answered;
  const auto start = std::chrono::steady_clock::now();
  const int64_t cycles_before = Cycles(Get("/metrics").body);
  int64_t slowest_scrape = 0;
  // Meanwhile: scrapes are prompt, and a new connection shows at once.
  int client = -1;
  uint64_t cookie = 0;
  const int server = OpenConnection(&client, &cookie);
  const auto opened = std::chrono::steady_clock::now();
  const bool seen = WaitFor(absl::StrCat("/api/v1/connections/", cookie), 200,
                            [](const Json& j) { return j["Open"] == true; });
  const int64_t seen_ms = testutil::MsSince(opened);
  while (testutil::MsSince(start) < 3000) {
    const auto t = std::chrono::steady_clock::now();
    const testutil::Response r = Get("/metrics");
    EXPECT_EQ(r.status, 200);
    slowest_scrape = std::max(slowest_scrape, testutil::MsSince(t));
    std::this_thread::sleep_for(milliseconds(100));
  }
  const int64_t cycles_after = Cycles(Get("/metrics").body);
  const int64_t elapsed = testutil::MsSince(start);
  const int64_t rate = (answered - answered_before) * 1000 / elapsed;
  stop = true;
  for (std::thread& th : threads) th.join();
  close(client);
  close(server);
  std::printf(
      "api flood: %lld answers/s, slowest scrape %lld ms, a new "
      "connection seen after %lld ms, %lld cycles in %lld ms (%lld in 3 s "
      "unloaded)\n",
      static_cast<long long>(rate), static_cast<long long>(slowest_scrape),
      static_cast<long long>(seen_ms),
      static_cast<long long>(cycles_after - cycles_before),
      static_cast<long long>(elapsed), static_cast<long long>(idle_cycles));
  EXPECT_TRUE(seen);
  EXPECT_LT(seen_ms, 1000);
  EXPECT_GE(rate, 1000);  // thousands of requests a second were made
  EXPECT_LT(slowest_scrape, 500);
  // Polling went on: at least half the cycles it made unloaded.
  EXPECT_GE((cycles_after - cycles_before) * 3000, idle_cycles * elapsed / 2);
}

}  // namespace
