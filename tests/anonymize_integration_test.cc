// Anonymization audit, end to end as root (issue 7): build/bin/tcp-info
// -anonymize.ip=netblock polls a connfarm client namespace holding 300
// connections (20 % IPv6, with churn) plus short connections of the
// test's own that only destroy events see, with the event socket, metrics
// and logs on. Then everything it produced is searched for the remote
// addresses 10.77.0.1 and fd77::1: every archive file (its name and its
// decompressed text), every decoded record (the raw inet_diag_msg and every
// attribute, for the 4 and 16 address bytes), every event line, the
// metrics pages and the log.
//
// A TCP-MD5 signed connection (as BGP uses) is audited too: for a reader
// with CAP_NET_ADMIN the kernel adds INET_DIAG_MD5SIG, whose entries hold
// the peer's address (the reference leaves it there in full).
//
// What must be there instead is what the Go reference does (m-lab/go
// anonymize, netblock): the remote address cut to its /24 (10.77.0.0) or
// /64 (fd77::), the local address (an address of this host, the
// reference's IgnoredIPs) unchanged: 10.77.0.2, fd77::2.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "nlohmann/json.hpp"
#include "tcp/tcp_info.h"
#include "tests/eventsocket_reader.h"
#include "tests/metrics_scrape.h"
#include "tests/testutil/archive.h"
#include "tests/testutil/daemon_fixture.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"

namespace {

namespace fs = std::filesystem;

constexpr uint16_t kPort = 18661;
constexpr uint16_t kMd5Port = 18662;
constexpr int kMetricsPort = 19661;
constexpr int kShortConnections = 50;
// fd77:: (fd77::1 cut to its /64) as an event's DstIP. Events write
// addresses as the reference's inetdiag.SockID does: dotted IPv4 when bytes
// 4..15 are zero, whatever the family, and fd77:: has only two nonzero
// bytes (eventsocket/flow_event.h, AppendGoIp).
constexpr char kAnonymizedV6InEvents[] = "253.119.0.0";

// An address in both forms the daemon could leak it in.
struct Address {
  std::string text;
  std::string bytes;  // network order, 4 or 16
};

Address MakeAddress(int family, const char* text) {
  char buf[16];
  EXPECT_EQ(inet_pton(family, text, buf), 1) << text;
  return {text, std::string(buf, family == AF_INET ? 4 : 16)};
}

// The remote addresses that must never appear, and what each side of a
// connection must read instead.
const Address& Remote4() {
  static const Address a = MakeAddress(AF_INET, "10.77.0.1");
  return a;
}
const Address& Remote6() {
  static const Address a = MakeAddress(AF_INET6, "fd77::1");
  return a;
}

// `haystack` must not contain either remote address as text nor as bytes;
// `where` names it in the failure. Returns the number of leaks.
int ExpectNoRemote(absl::string_view haystack, const std::string& where) {
  int leaks = 0;
  for (const Address* a : {&Remote4(), &Remote6()}) {
    for (const std::string& needle : {a->text, a->bytes}) {
      const size_t at = haystack.find(needle);
      if (at == absl::string_view::npos) continue;
      ++leaks;
      ADD_FAILURE() << where << ": remote address " << a->text << " ("
                    << (needle == a->text ? "text" : "bytes") << ") at offset "
                    << at;
    }
  }
  return leaks;
}

// The connection addresses of an inet_diag_msg, as text.
struct Ends {
  int family = 0;
  std::string src;
  std::string dst;
};

Ends EndsOf(const std::string& raw_idm) {
  Ends e;
  if (raw_idm.size() != sizeof(inetdiag::Msg)) return e;
  inetdiag::Msg idm;
  std::memcpy(&idm, raw_idm.data(), sizeof(idm));
  e.family = idm.family;
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(idm.family, idm.id.src, buf, sizeof(buf));
  e.src = buf;
  inet_ntop(idm.family, idm.id.dst, buf, sizeof(buf));
  e.dst = buf;
  return e;
}

class Anonymize : public testutil::DaemonTest {
 protected:
  Anonymize() : DaemonTest({"anonymize_it", "anon", "an", kPort}) {}

  // kShortConnections connections of about a millisecond, every fifth over
  // IPv6: too short for most polls, archived from their destroy events.
  void MakeShortConnections() {
    std::vector<testutil::Exchange> exchanges(kShortConnections);
    for (int i = 0; i < kShortConnections; ++i) {
      exchanges[i] = {.v6 = i % 5 == 4,
                      .up = 100,
                      .down = 50,
                      .lifetime = absl::Milliseconds(1)};
    }
    testutil::RunExchanges(*farm_, listeners_, kPort, &exchanges);
  }

  std::string Scrape() {
    return testutil::HttpGet("127.0.0.1", kMetricsPort, "/metrics",
                             farm_->name() + "-cli");
  }
};

TEST_F(Anonymize, NetblockLeavesNoRemoteAddressAnywhere) {
  const absl::Time start = absl::Now();
  const std::string socket_path = dir_ + "/events.sock";
  ASSERT_NO_FATAL_FAILURE(StartDaemon(
      {"-anonymize.ip=netblock",
       absl::StrCat("-prometheusx.listen-address=127.0.0.1:", kMetricsPort),
       "-tcpinfo.eventsocket=" + socket_path}));
  ASSERT_TRUE(testutil::WaitUntilListening(socket_path))
      << testutil::ReadText(daemon_log());
  // Connected before the farm's connections exist: it sees every open.
  testutil::ReadingClient events(socket_path);

  ASSERT_TRUE(farm_->Start({"--conns", "300", "--active", "30", "--churn", "10",
                            "--v6-fraction", "0.2", "--duration", "30"},
                           dir_ + "/ready"))
      << testutil::ReadText(farm_->log());
  MakeShortConnections();
  absl::SleepFor(absl::Milliseconds(1500));  // churn, rates, a few files
  const std::string metrics_running = Scrape();
  ASSERT_NE(metrics_running, "");

  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  EXPECT_TRUE(events.WaitForEof());

  int leaks = 0;
  // Archives: names, decompressed text, and every decoded record.
  std::map<std::string, int> src_seen, dst_seen;  // "family address" -> n
  int files = 0, records = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ + "/out")) {
    leaks += ExpectNoRemote(entry.path().string(), "file name");
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string path = entry.path().string();
    ASSERT_TRUE(absl::EndsWith(path, ".jsonl.zst")) << path;
    leaks += ExpectNoRemote(testutil::ReadZstdFileOrDie(path), path);
    const testutil::Archive archive = testutil::ReadArchive(path);
    for (size_t i = 0; i < archive.records.size(); ++i) {
      const parse::ArchivalRecord& r = archive.records[i];
      const std::string where = absl::StrCat(path, " line ", i + 1);
      leaks += ExpectNoRemote(r.raw_idm, where + " RawIDM");
      for (size_t t = 0; t < r.attributes.size(); ++t) {
        if (r.attributes[t].has_value()) {
          leaks += ExpectNoRemote(*r.attributes[t],
                                  absl::StrCat(where, " attribute ", t));
        }
      }
      if (r.metadata.has_value()) continue;
      ++records;
      const Ends e = EndsOf(r.raw_idm);
      ++src_seen[absl::StrCat(e.family, " ", e.src)];
      ++dst_seen[absl::StrCat(e.family, " ", e.dst)];
    }
  }
  // Exactly the reference's result: remote cut to its netblock, local kept.
  EXPECT_EQ(src_seen.size(), 2u);
  EXPECT_EQ(dst_seen.size(), 2u);
  EXPECT_GT(src_seen[absl::StrCat(AF_INET, " 10.77.0.2")], 0);
  EXPECT_GT(src_seen[absl::StrCat(AF_INET6, " fd77::2")], 0);
  EXPECT_EQ(src_seen[absl::StrCat(AF_INET, " 10.77.0.2")],
            dst_seen[absl::StrCat(AF_INET, " 10.77.0.0")]);
  EXPECT_EQ(src_seen[absl::StrCat(AF_INET6, " fd77::2")],
            dst_seen[absl::StrCat(AF_INET6, " fd77::")]);
  for (const auto& [address, n] : dst_seen) {
    EXPECT_TRUE(address == absl::StrCat(AF_INET, " 10.77.0.0") ||
                address == absl::StrCat(AF_INET6, " fd77::"))
        << address << " in " << n << " records";
  }

  // Event socket: every line, and the addresses of every open.
  const std::vector<std::string> lines = events.lines();
  int opens = 0;
  for (const std::string& line : lines) {
    leaks += ExpectNoRemote(line, "event " + line);
    const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(event.is_discarded()) << line;
    if (event["Event"] != 0) continue;
    ++opens;
    const std::string dst = event["ID"]["DstIP"];
    const std::string src = event["ID"]["SrcIP"];
    EXPECT_TRUE((src == "10.77.0.2" && dst == "10.77.0.0") ||
                (src == "fd77::2" && dst == kAnonymizedV6InEvents))
        << line;
  }

  // Metrics, while running; the log.
  leaks += ExpectNoRemote(metrics_running, "metrics page");
  const std::string log = testutil::ReadText(daemon_log());
  leaks += ExpectNoRemote(log, "daemon log");

  std::cout << "audited " << files << " archives, " << records << " records, "
            << lines.size() << " event lines (" << opens << " opens), "
            << metrics_running.size() << " bytes of metrics, " << log.size()
            << " bytes of log: " << leaks << " leaks\n";
  // Enough of everything for the audit to mean something.
  EXPECT_GE(files, 300 + kShortConnections / 2);
  EXPECT_GE(opens, 300);
  EXPECT_GE(lines.size(), 2u * 300);
  EXPECT_TRUE(absl::StrContains(metrics_running, "tcpinfo_snapshot_total"));
  EXPECT_TRUE(absl::StrContains(log, "summary connections="));
  EXPECT_EQ(leaks, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(40));
}

// Signs the socket's segments to and from `peer` with a TCP-MD5 key.
void SetMd5Key(int fd, const char* peer) {
  tcp_md5sig sig{};
  auto* a = reinterpret_cast<sockaddr_in*>(&sig.tcpm_addr);
  a->sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, peer, &a->sin_addr), 1);
  constexpr char kKey[] = "bgp-secret-key";
  sig.tcpm_keylen = sizeof(kKey) - 1;
  std::memcpy(sig.tcpm_key, kKey, sig.tcpm_keylen);
  ASSERT_EQ(setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof(sig)), 0)
      << std::strerror(errno) << " (kernel without CONFIG_TCP_MD5SIG?)";
}

// The kernel sends a TCP-MD5 socket's keys (peer and secret) to a reader
// with CAP_NET_ADMIN: the archive keeps neither the full peer address nor
// the secret.
TEST_F(Anonymize, Md5SignedConnectionKeepsNoRemoteAddressNorKey) {
  const absl::Time start = absl::Now();
  int listener = -1, client = -1, server = -1;
  testutil::InNamespace(farm_->Namespace("srv"), [&] {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener, 0);
    SetMd5Key(listener, "10.77.0.2");
    testutil::SetTimeouts(listener);
    const sockaddr_storage a = testutil::Address(false, kMd5Port);
    ASSERT_EQ(bind(listener, reinterpret_cast<const sockaddr*>(&a),
                   testutil::Length(false)),
              0)
        << std::strerror(errno);
    ASSERT_EQ(listen(listener, 4), 0);
  });
  ASSERT_NO_FATAL_FAILURE(
      StartDaemon({"-anonymize.ip=netblock", "-prometheusx.listen-address="}));
  uint64_t cookie = 0;
  testutil::InNamespace(farm_->Namespace("cli"), [&] {
    client = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(client, 0);
    SetMd5Key(client, "10.77.0.1");
    testutil::SetTimeouts(client);
    const sockaddr_storage a = testutil::Address(false, kMd5Port);
    ASSERT_EQ(connect(client, reinterpret_cast<const sockaddr*>(&a),
                      testutil::Length(false)),
              0)
        << std::strerror(errno);
    socklen_t len = sizeof(cookie);
    ASSERT_EQ(getsockopt(client, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
  });
  server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0) << std::strerror(errno);
  testutil::SendAll(client, 1000);
  testutil::ReceiveAll(server, 1000);
  absl::SleepFor(absl::Milliseconds(500));  // polled about 50 times
  close(client);
  close(server);
  close(listener);
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_EQ(kill(daemon_, SIGTERM), 0);
  ASSERT_GE(testutil::WaitFor(daemon_, absl::Seconds(10)), 0);
  daemon_ = -1;

  const auto files = Archives();
  ASSERT_EQ(files.count(cookie), 1u) << testutil::ReadText(daemon_log());
  int with_md5sig = 0, leaks = 0, keys = 0;
  for (const testutil::ArchiveFile& f : files.at(cookie)) {
    const testutil::Archive archive = testutil::ReadArchive(f.path);
    for (size_t i = 0; i < archive.records.size(); ++i) {
      const parse::ArchivalRecord& r = archive.records[i];
      if (r.attributes.size() > inetdiag::kMd5Sig &&
          r.attributes[inetdiag::kMd5Sig].has_value()) {
        ++with_md5sig;
        const std::string& sig = *r.attributes[inetdiag::kMd5Sig];
        if (absl::StrContains(sig, "bgp-secret")) ++keys;
        // The key length stays; the 80 key bytes are zero.
        ASSERT_GE(sig.size(), 100u);
        EXPECT_EQ(sig.substr(20, 80), std::string(80, '\0'));
      }
      leaks += ExpectNoRemote(r.raw_idm, f.path + " RawIDM");
      for (size_t t = 0; t < r.attributes.size(); ++t) {
        if (!r.attributes[t].has_value()) continue;
        leaks += ExpectNoRemote(
            *r.attributes[t],
            absl::StrCat(f.path, " line ", i + 1, " attribute ", t));
      }
    }
  }
  // Root has CAP_NET_ADMIN: the kernel sent the key's entry.
  EXPECT_GT(with_md5sig, 0);
  EXPECT_EQ(leaks, 0);
  EXPECT_EQ(keys, 0) << "a TCP-MD5 secret was archived";
  EXPECT_LT(absl::Now() - start, absl::Seconds(40));
}

}  // namespace
