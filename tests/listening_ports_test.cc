// ListeningPorts against the kernel: listening sockets of the test's own
// (loopback, in this process's network namespace) are seen by the first
// dump, other sockets are not, and a port stays for its memory after its
// listener closed, then goes.
#include "flows/listening_ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace flows {
namespace {

// A TCP socket bound to an ephemeral port of 127.0.0.1 (::1 if `v6`),
// listening if `listening`; its port through *port.
int BoundSocket(bool v6, bool listening, uint16_t* port) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_storage a{};
  socklen_t len;
  if (v6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a);
    s->sin6_family = AF_INET6;
    s->sin6_addr = in6addr_loopback;
    len = sizeof(*s);
  } else {
    auto* s = reinterpret_cast<sockaddr_in*>(&a);
    s->sin_family = AF_INET;
    s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*s);
  }
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  if (listening) {
    EXPECT_EQ(listen(fd, 4), 0);
  }
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  *port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&a)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  return fd;
}

TEST(ListeningPorts, SeesListenersOfBothFamiliesAndRemembersThem) {
  uint16_t v4 = 0, v6 = 0, bound = 0;
  const int l4 = BoundSocket(false, true, &v4);
  const int l6 = BoundSocket(true, true, &v6);
  const int b = BoundSocket(false, false, &bound);  // bound, not listening
  ListeningPorts ports;
  ASSERT_TRUE(ports.Start().ok());
  EXPECT_GE(ports.dumps(), 1);
  EXPECT_TRUE(ports.Contains(v4));
  EXPECT_TRUE(ports.Contains(v6));
  EXPECT_FALSE(ports.Contains(bound));
  // A listener that opens later is seen within a period or two.
  uint16_t late = 0;
  const int l = BoundSocket(false, true, &late);
  const absl::Time deadline = absl::Now() + 3 * ListeningPorts::kPeriod;
  while (!ports.Contains(late) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(ports.Contains(late));
  // A closed one is remembered (kMemory is a minute).
  close(l4);
  const int64_t seen = ports.dumps();
  while (ports.dumps() < seen + 2 &&
         absl::Now() < deadline + absl::Seconds(3)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(ports.dumps(), seen + 2);
  EXPECT_TRUE(ports.Contains(v4));
  close(l6);
  close(b);
  close(l);
}

TEST(ListeningPorts, ForgetsAPortItsMemoryAfterItsListenerClosed) {
  uint16_t port = 0;
  const int fd = BoundSocket(false, true, &port);
  ListeningPorts ports(absl::Milliseconds(300), absl::Milliseconds(50));
  ASSERT_TRUE(ports.Start().ok());
  ASSERT_TRUE(ports.Contains(port));
  close(fd);
  const absl::Time closed = absl::Now();
  while (ports.Contains(port) && absl::Now() < closed + absl::Seconds(5)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const absl::Duration kept = absl::Now() - closed;
  EXPECT_FALSE(ports.Contains(port));
  EXPECT_GE(kept, absl::Milliseconds(300));
  EXPECT_LT(kept, absl::Seconds(2));
}

TEST(ListeningPorts, SetReplacesTheSetWhenNotStarted) {
  ListeningPorts ports;
  ports.Set({0, 63, 64, 65535});
  for (uint16_t p : {0, 63, 64, 65535}) EXPECT_TRUE(ports.Contains(p)) << p;
  for (uint16_t p : {1, 62, 65, 65534}) EXPECT_FALSE(ports.Contains(p)) << p;
  ports.Set({});
  EXPECT_FALSE(ports.Contains(63));
  EXPECT_EQ(ports.dumps(), 0);
}

}  // namespace
}  // namespace flows
