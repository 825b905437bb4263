// NetClient's address parsing and its UDP/TCP behaviour on loopback.
#include "sinks/net_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sinks {
namespace {

TEST(SplitHostPort, AcceptsHostsIpv4AndBracketedIpv6) {
  using HostPort = std::pair<std::string, uint16_t>;
  EXPECT_EQ(*SplitHostPort("collector.example.net:4739"),
            HostPort("collector.example.net", 4739));
  EXPECT_EQ(*SplitHostPort("10.77.0.1:2055"), HostPort("10.77.0.1", 2055));
  EXPECT_EQ(*SplitHostPort("[fd77::1]:65535"), HostPort("fd77::1", 65535));
}

TEST(SplitHostPort, RejectsAMissingOrBadPortAndAnEmptyHost) {
  for (const char* bad :
       {"collector", "collector:", "collector:0", "collector:65536",
        "collector:47x9", ":4739", "[]:4739"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(SplitHostPort(bad).status())) << bad;
  }
}

TEST(NetClient, UdpSendsOneDatagramPerMessageEvenWithNobodyListening) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  NetClient client;
  ASSERT_TRUE(client
                  .Open(NetClient::Transport::kUdp,
                        absl::StrCat("127.0.0.1:", ntohs(a.sin_port)),
                        absl::Seconds(1))
                  .ok());
  const uint8_t message[] = {0, 10, 0, 4};
  ASSERT_TRUE(client.Send(message, sizeof(message)).ok());
  uint8_t got[16];
  EXPECT_EQ(recv(fd, got, sizeof(got), 0), 4);
  close(fd);  // now nobody listens: ICMP unreachable must not surface
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(client.Send(message, sizeof(message)).ok()) << i;
  }
}

TEST(NetClient, TcpToAClosedPortIsUnavailable) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  socklen_t len = sizeof(a);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);  // bound, never listened: refused
  NetClient client;
  absl::Status s =
      client.Open(NetClient::Transport::kTcp,
                  absl::StrCat("[::1]:", ntohs(a.sin6_port)), absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_FALSE(client.is_open());
}

TEST(NetClient, UnresolvableHostIsUnavailable) {
  NetClient client;
  absl::Status s = client.Open(NetClient::Transport::kUdp,
                               "no-such-host.invalid:4739", absl::Seconds(1));
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
}

}  // namespace
}  // namespace sinks
