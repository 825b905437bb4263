// The IPFIX sink end to end, as root: build/bin/tcp-info polls a connfarm
// client namespace with -sink=jsonl:... and -sink=ipfix://10.77.0.1:PORT (a
// UDP socket of the test in the server namespace) while the test makes
// connections there (every third over IPv6). Every JSONL record must have
// its IPFIX record (same uuid and seq, decoded by ipfixDump) with the same
// values, element by element as the README's table maps them, and the
// test's connections their exact byte counts.
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "collector/ip_address.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "parse/timestamp.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/ipfix_dump.h"

namespace {

constexpr uint16_t kPort = 18681;
constexpr int kMetricsPort = 19681;
constexpr int kConnections = 24;

using Key = std::pair<std::string, std::string>;  // (uuid, seq)

class IpfixIntegration : public testutil::DaemonTest {
 protected:
  IpfixIntegration() : DaemonTest({"ipfix_it", "ipit", "ix", kPort}) {}
};

TEST_F(IpfixIntegration, IpfixRecordsCarryTheJsonlRecordsValues) {
  std::unique_ptr<testutil::UdpSink> collector;
  testutil::InNamespace(farm_->Namespace("srv"), [&] {
    collector = std::make_unique<testutil::UdpSink>("10.77.0.1");
  });
  ASSERT_NE(collector->port(), 0);
  const std::string jsonl = dir_ + "/flows.jsonl";
  ASSERT_NO_FATAL_FAILURE(StartPollingDaemon(
      {"-sink=jsonl:" + jsonl,
       absl::StrCat("-sink=ipfix://10.77.0.1:", collector->port()),
       "-flows.active-timeout=1s",
       absl::StrCat("-prometheusx.listen-address=127.0.0.1:", kMetricsPort)}));
  std::vector<testutil::Exchange> exchanges(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    exchanges[i] = {.v6 = i % 3 == 2,
                    .up = 2000u + 31u * i,
                    .down = 5000u + 13u * i,
                    .lifetime = absl::Milliseconds(i % 8 == 0 ? 1500 : 20)};
  }
  ASSERT_NO_FATAL_FAILURE(
      testutil::RunExchanges(*farm_, listeners_, kPort, &exchanges));
  absl::SleepFor(absl::Milliseconds(500));  // the sinks' flush interval
  ASSERT_NO_FATAL_FAILURE(StopDaemon());

  const std::string dump =
      testutil::IpfixDump(dir_ + "/flows.ipfix", collector->Drain());
  std::map<Key, testutil::IpfixRecord> ipfix;
  for (testutil::IpfixRecord& r : testutil::ParseIpfixDump(dump)) {
    Key key(r["tcpinfoUuid"], r["tcpinfoRecordSeq"]);
    r.erase("tcpinfoTcpState");  // a number here, a name in JSONL
    EXPECT_TRUE(ipfix.emplace(key, std::move(r)).second)
        << "twice: " << key.first << " " << key.second;
  }
  std::map<Key, nlohmann::json> json;
  std::ifstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    testutil::IpfixRecord e = testutil::IpfixElementsOf(j);
    json.emplace(Key(e["tcpinfoUuid"], e["tcpinfoRecordSeq"]), std::move(j));
  }
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(ipfix.size(), json.size());
  std::cout << json.size() << " records in both sinks\n";
  for (const auto& [key, j] : json) {
    auto it = ipfix.find(key);
    ASSERT_NE(it, ipfix.end()) << key.first << " " << key.second;
    EXPECT_EQ(it->second, testutil::IpfixElementsOf(j))
        << key.first << " " << key.second;
  }

  // The test's connections: final records with their exact byte counts.
  for (const testutil::Exchange& e : exchanges) {
    const std::string uuid = absl::StrFormat("%s_%016X", prefix_, e.cookie);
    SCOPED_TRACE(uuid);
    const std::string uuid_text =
        absl::StrCat("(len: ", uuid.size(), ") ", uuid);
    const testutil::IpfixRecord* last = nullptr;  // the final record
    uint64_t sent = 0, received = 0;
    for (const auto& [key, r] : ipfix) {
      if (key.first != uuid_text) continue;
      uint64_t d = 0;
      ASSERT_TRUE(absl::SimpleAtoi(r.at("octetDeltaCount"), &d));
      sent += d;
      ASSERT_TRUE(absl::SimpleAtoi(r.at("reverseOctetDeltaCount"), &d));
      received += d;
      if (r.at("flowEndReason") == "3") last = &r;  // destroyed: the final
    }
    ASSERT_NE(last, nullptr) << "no final (destroyed) record";
    EXPECT_EQ(last->at("destinationTransportPort"), std::to_string(kPort));
    EXPECT_EQ(last->at("tcpinfoOctetTotalCount"), std::to_string(e.up));
    // bytes_received counts the server's FIN.
    EXPECT_EQ(last->at("reverseTcpinfoOctetTotalCount"),
              std::to_string(e.down + 1));
    EXPECT_EQ(sent, e.up);
    EXPECT_EQ(received, e.down + 1);
  }
}

}  // namespace
