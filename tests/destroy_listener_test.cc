#include "collector/destroy_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "tcp/tcp_info.h"
#include "tests/testutil/farm.h"

namespace {

struct Captured {
  inetdiag::Msg idm;
  tcp::TcpInfo info;
  size_t info_len;
};

// Reads exactly `n` bytes from `fd`.
void ReadExactly(int fd, size_t n) {
  std::string buf(n, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, buf.data() + done, n - done);
    ASSERT_GT(r, 0) << std::strerror(errno);
    done += r;
  }
}

uint16_t LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A real TCP connection over loopback moves known bytes each way and closes;
// the kernel's destroy message for each end carries the final counters and
// the CLOSE state.
TEST(DestroyListener, DeliversFinalStateOfClosedConnection) {
  auto listener = collector::DestroyListener::Open();
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_GE((*listener)->receive_buffer_bytes(), 1 << 20);

  int srv = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(srv, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(srv, reinterpret_cast<sockaddr*>(&addr), &len);
  int cli = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(cli, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  int acc = accept(srv, nullptr, nullptr);
  ASSERT_GE(acc, 0);
  const uint16_t client_port = LocalPort(cli);
  const uint16_t server_port = LocalPort(srv);

  ASSERT_TRUE(testutil::WriteAll(cli, std::string(1000, 'a')))
      << std::strerror(errno);
  ReadExactly(acc, 1000);
  ASSERT_TRUE(testutil::WriteAll(acc, std::string(500, 'b')))
      << std::strerror(errno);
  ReadExactly(cli, 500);
  close(cli);
  close(acc);
  close(srv);

  std::vector<Captured> client_side, server_side;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((client_side.empty() || server_side.empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{(*listener)->fd(), POLLIN, 0};
    poll(&p, 1, 100);
    (*listener)->Drain([&](char* payload, size_t size) {
      absl::StatusOr<parse::RecordView> parsed =
          parse::SplitMessage(absl::string_view(payload, size));
      ASSERT_TRUE(parsed.ok());
      const parse::RecordView& view = *parsed;
      Captured c{view.Idm(), {}, 0};
      if (view.Has(inetdiag::kInfo)) {
        c.info_len = view.attributes[inetdiag::kInfo].size();
        std::memcpy(&c.info, view.attributes[inetdiag::kInfo].data(),
                    std::min(c.info_len, sizeof(c.info)));
      }
      const uint16_t sport = ntohs(c.idm.id.sport_be);
      const uint16_t dport = ntohs(c.idm.id.dport_be);
      if (sport == client_port && dport == server_port) {
        client_side.push_back(c);
      } else if (sport == server_port && dport == client_port) {
        server_side.push_back(c);
      }
    });
  }
  ASSERT_EQ(client_side.size(), 1u);
  ASSERT_EQ(server_side.size(), 1u);
  const Captured& c = client_side[0];
  EXPECT_EQ(c.idm.state, tcp::kClose);
  EXPECT_EQ(c.idm.family, inetdiag::kAfInet);
  EXPECT_NE(inetdiag::Cookie(c.idm.id), 0u);
  ASSERT_GE(c.info_len, sizeof(tcp::TcpInfo));
  EXPECT_EQ(c.info.bytes_sent, 1000u);
  EXPECT_EQ(c.info.bytes_acked, 1002u);    // data plus our SYN and FIN
  EXPECT_EQ(c.info.bytes_received, 501u);  // data plus the peer's FIN
  const Captured& s = server_side[0];
  EXPECT_EQ(s.idm.state, tcp::kClose);
  EXPECT_EQ(s.info.bytes_sent, 500u);
  EXPECT_EQ(s.info.bytes_received, 1001u);
  EXPECT_EQ((*listener)->stats().overflows, 0u);
  EXPECT_GE((*listener)->stats().messages, 2u);
}

}  // namespace
