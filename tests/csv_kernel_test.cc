// csvtool's raw input on what this machine's kernel really sends: a
// loopback connection is looked up with one SOCK_DIAG_BY_FAMILY request
// (exact socket id, no dump, so no other socket on the host is seen), the
// reply is saved as a raw netlink dump and read back by RawReader and by the
// csvtool binary. The kernel's tcp_info is longer than the reference's
// struct on any kernel from 6.2 on (280 bytes on 6.18): NotFullyParsed.
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "inetdiag/inet_diag.h"
#include "parse/csv_writer.h"
#include "parse/input_stream.h"
#include "parse/raw_reader.h"
#include "parse/snapshot.h"
#include "tests/testutil/paths.h"

namespace {

// Closes a descriptor at the end of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

uint16_t LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Asks the kernel for the inet_diag reply of one IPv4 TCP socket, every
// attribute requested; returns the raw netlink bytes.
std::string QuerySocket(uint16_t sport, uint16_t dport) {
  Fd nl{socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)};
  EXPECT_GE(nl.fd, 0);
  timeval timeout{5, 0};
  setsockopt(nl.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  struct {
    nlmsghdr header;
    inet_diag_req_v2 req;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.req.sdiag_family = AF_INET;
  request.req.sdiag_protocol = IPPROTO_TCP;
  request.req.idiag_ext = 0xff;  // MEMINFO .. SHUTDOWN
  request.req.idiag_states = ~0u;
  request.req.id.idiag_sport = htons(sport);
  request.req.id.idiag_dport = htons(dport);
  request.req.id.idiag_src[0] = htonl(INADDR_LOOPBACK);
  request.req.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
  request.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  EXPECT_EQ(send(nl.fd, &request, sizeof(request), 0),
            static_cast<ssize_t>(sizeof(request)));
  std::string reply(1 << 16, '\0');
  const ssize_t n = recv(nl.fd, reply.data(), reply.size(), 0);
  EXPECT_GT(n, 0) << strerror(errno);
  reply.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return reply;
}

TEST(KernelRawDump, ThisKernelsReplyConvertsWithItsLongTcpInfo) {
  // A loopback connection with a little traffic.
  Fd listener{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            0);
  ASSERT_EQ(listen(listener.fd, 1), 0);
  addr.sin_port = htons(LocalPort(listener.fd));
  Fd client{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  ASSERT_EQ(
      connect(client.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Fd server{accept(listener.fd, nullptr, nullptr)};
  ASSERT_GE(server.fd, 0);
  ASSERT_EQ(write(client.fd, "hello", 5), 5);
  char buf[5];
  ASSERT_EQ(read(server.fd, buf, 5), 5);

  const uint16_t sport = LocalPort(client.fd), dport = LocalPort(listener.fd);
  const std::string reply = QuerySocket(sport, dport);
  ASSERT_GE(reply.size(), sizeof(nlmsghdr));
  nlmsghdr header;
  std::memcpy(&header, reply.data(), sizeof(header));
  ASSERT_EQ(header.nlmsg_type, SOCK_DIAG_BY_FAMILY)
      << "kernel answered type " << header.nlmsg_type;

  const std::string path =
      absl::StrCat(::testing::TempDir(), "/csv_kernel_test.", getpid(), ".raw");
  std::ofstream(path, std::ios::binary) << reply;
  auto input = parse::InputStream::Open(path);
  ASSERT_TRUE(input.ok());
  parse::RawReader reader(*std::move(input));
  parse::RecordView view;
  absl::StatusOr<bool> got = reader.Next(&view);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(*got);
  parse::Snapshot s;
  ASSERT_TRUE(parse::DecodeSnapshot(parse::Timestamp::GoZero(), view, &s).ok());
  EXPECT_EQ(s.idm.family, AF_INET);
  EXPECT_EQ(s.idm.state, 1);  // ESTABLISHED
  EXPECT_EQ(ntohs(s.idm.id.sport_be), sport);
  EXPECT_EQ(ntohs(s.idm.id.dport_be), dport);
  EXPECT_EQ(s.tcp_info.state, 1);
  EXPECT_EQ(s.tcp_info.bytes_acked, 6u);  // SYN + 5 bytes
  EXPECT_FALSE(s.congestion_algorithm.empty());
  EXPECT_TRUE(s.has_mem_info && s.has_sk_mem_info && s.has_tcp_info);
  // The reference's NotFullyParsed for INET_DIAG_INFO follows the length.
  EXPECT_GE(s.tcp_info_length, parse::kReferenceTcpInfoSize);
  EXPECT_EQ((s.not_fully_parsed & 2) != 0,
            s.tcp_info_length > parse::kReferenceTcpInfoSize);
  EXPECT_EQ(s.observed & 0x4b, 0x4bu);  // MEMINFO, INFO, CONG, SKMEMINFO
  // Newer attributes the reference does not decode (6.18 sends
  // INET_DIAG_CGROUP_ID and INET_DIAG_SOCKOPT): observed, not fully parsed.
  for (int type : {inetdiag::kCgroupId, inetdiag::kSockOpt}) {
    if (!view.Has(type)) continue;
    EXPECT_TRUE(s.observed & 1u << (type - 1)) << type;
    EXPECT_TRUE(s.not_fully_parsed & 1u << (type - 1)) << type;
  }
  // With BBR as congestion control its 20-byte info is fully parsed.
  if (view.Has(inetdiag::kBbrInfo)) {
    EXPECT_EQ(s.congestion_algorithm, "bbr");
    EXPECT_TRUE(s.observed & 1u << 15);
    EXPECT_FALSE(s.not_fully_parsed & 1u << 15);
    EXPECT_GT(s.bbr.min_rtt, 0u);
  }
  got = reader.Next(&view);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(*got);

  // The binary agrees: header + one row with our ports.
  const std::string out = path + ".csv";
  const int status = std::system(absl::StrCat(testutil::BinaryPath("csvtool"),
                                              " -input raw ", path, " > ", out)
                                     .c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::vector<std::string> lines =
      absl::StrSplit(testutil::ReadFileOrDie(out), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  const std::vector<std::string> cells = absl::StrSplit(lines[1], ',');
  ASSERT_EQ(cells.size(), static_cast<size_t>(parse::kCsvColumns));
  EXPECT_EQ(cells[7], std::to_string(sport));
  EXPECT_EQ(cells[8], std::to_string(dport));
  EXPECT_EQ(cells[9], "127.0.0.1");
  std::remove(path.c_str());
  std::remove(out.c_str());
}

}  // namespace
