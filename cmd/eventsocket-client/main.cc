// eventsocket-client: connects to tcp-info's event socket and prints each
// event line (JSON, as the daemon sends it) to stdout as it comes. When the
// daemon goes away it reconnects, backing off from 100 ms to 5 s, so it
// survives daemon restarts. Ends on SIGINT/SIGTERM, or after -count events.
//
//   eventsocket-client -tcpinfo.eventsocket=/run/tcpinfo.sock [-count=N]
//
// Flags take one or two dashes and "=value" or a separate value, as Go's;
// TCPINFO_EVENTSOCKET in the environment is used when the flag is absent.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace {

constexpr char kUsage[] =
    "usage: eventsocket-client -tcpinfo.eventsocket=PATH [-count=N]\n"
    "  -tcpinfo.eventsocket PATH  the daemon's event socket "
    "($TCPINFO_EVENTSOCKET)\n"
    "  -count N                   exit after N events (0: never)\n";

struct Flags {
  std::string path;
  long long count = 0;
};

// Parses argv; prints one line and exits 2 on a mistake.
Flags ParseFlagsOrDie(int argc, char** argv) {
  Flags flags;
  bool have_path = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!absl::ConsumePrefix(&arg, "--")) absl::ConsumePrefix(&arg, "-");
    if (arg == "h" || arg == "help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    absl::string_view name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    } else if (i + 1 < argc) {
      value = argv[++i];
      has_value = true;
    }
    if (!has_value) {
      std::fprintf(stderr, "eventsocket-client: flag needs a value: %s\n%s",
                   argv[i], kUsage);
      std::exit(2);
    }
    bool ok = true;
    if (name == "tcpinfo.eventsocket") {
      flags.path = std::string(value);
      have_path = true;
    } else if (name == "count") {
      ok = absl::SimpleAtoi(value, &flags.count) && flags.count >= 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "eventsocket-client: bad flag: %s\n%s", argv[i],
                   kUsage);
      std::exit(2);
    }
  }
  if (!have_path) {
    if (const char* env = std::getenv("TCPINFO_EVENTSOCKET")) flags.path = env;
  }
  if (flags.path.empty()) {
    std::fprintf(stderr,
                 "eventsocket-client: -tcpinfo.eventsocket is required\n%s",
                 kUsage);
    std::exit(2);
  }
  return flags;
}

int Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return -1;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits up to `ms` for a signal; true if one arrived.
bool WaitForSignal(int signal_fd, int ms) {
  pollfd p{signal_fd, POLLIN, 0};
  return poll(&p, 1, ms) > 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlagsOrDie(argc, argv);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);

  long long printed = 0;
  int backoff_ms = 100;
  bool said_waiting = false;
  for (;;) {
    const int fd = Connect(flags.path);
    if (fd < 0) {
      if (!said_waiting) {
        std::fprintf(stderr,
                     "eventsocket-client: cannot connect to %s: %s; "
                     "retrying\n",
                     flags.path.c_str(), std::strerror(errno));
        said_waiting = true;
      }
      if (WaitForSignal(signal_fd, backoff_ms)) return 0;
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    std::fprintf(stderr, "eventsocket-client: connected to %s\n",
                 flags.path.c_str());
    said_waiting = false;
    backoff_ms = 100;

    std::string partial;
    char buf[65536];
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
      if (fds[1].revents & POLLIN) {
        close(fd);
        return 0;
      }
      if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      partial.append(buf, n);
      size_t start = 0, newline;
      while ((newline = partial.find('\n', start)) != std::string::npos) {
        std::fwrite(partial.data() + start, 1, newline - start + 1, stdout);
        start = newline + 1;
        if (flags.count > 0 && ++printed >= flags.count) {
          std::fflush(stdout);
          close(fd);
          return 0;
        }
      }
      partial.erase(0, start);
      std::fflush(stdout);
    }
    close(fd);
    std::fprintf(stderr, "eventsocket-client: disconnected from %s\n",
                 flags.path.c_str());
  }
}
