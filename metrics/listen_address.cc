#include "metrics/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace metrics {

namespace {

// Sets `out` to the first address getaddrinfo gives for `host` (with
// `flags`), IPv4 preferred.
absl::Status Resolve(const std::string& host, int flags, int port,
                     ListenAddress* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  const addrinfo* chosen = nullptr;
  for (const addrinfo* a = result; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
    if (a->ai_family == AF_INET6 && chosen == nullptr) chosen = a;
  }
  if (chosen == nullptr) {
    freeaddrinfo(result);
    return absl::InvalidArgumentError(absl::StrCat("no address for ", host));
  }
  std::memcpy(&out->addr, chosen->ai_addr, chosen->ai_addrlen);
  out->length = chosen->ai_addrlen;
  freeaddrinfo(result);
  const uint16_t net_port = htons(static_cast<uint16_t>(port));
  if (out->addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&out->addr)->sin_port = net_port;
  } else {
    reinterpret_cast<sockaddr_in6*>(&out->addr)->sin6_port = net_port;
  }
  return absl::OkStatus();
}

void SetAny(int family, int port, ListenAddress* out) {
  out->addr = {};
  const uint16_t net_port = htons(static_cast<uint16_t>(port));
  if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_any;
    sin6->sin6_port = net_port;
    out->length = sizeof(*sin6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->addr);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_ANY);
    sin->sin_port = net_port;
    out->length = sizeof(*sin);
  }
}

int PortOf(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace

std::string ListenAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr,
              text, sizeof(text));
    return absl::StrCat(text, ":", PortOf(addr));
  }
  inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr,
            text, sizeof(text));
  return absl::StrCat("[", text, "]:", PortOf(addr));
}

absl::StatusOr<ListenAddress> ResolveListenAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address must be host:port or :port, got \"", address, "\""));
  }
  const absl::string_view host = address.substr(0, colon);
  int port;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in listen address \"", address, "\""));
  }
  ListenAddress out;
  if (host.empty()) {
    out.any = true;
    SetAny(AF_INET6, port, &out);
    return out;
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']' ||
        host.find(':') == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad IPv6 host in listen address \"", address, "\""));
    }
    absl::Status s = Resolve(std::string(host.substr(1, host.size() - 2)),
                             AI_NUMERICHOST, port, &out);
    if (!s.ok() || out.addr.ss_family != AF_INET6) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad IPv6 address in listen address \"", address, "\""));
    }
    return out;
  }
  if (absl::Status s = Resolve(std::string(host), 0, port, &out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<int> OpenListener(const ListenAddress& address,
                                 absl::string_view text) {
  ListenAddress a = address;
  int fd =
      socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && a.any && errno == EAFNOSUPPORT) {
    // A kernel without IPv6: every IPv4 interface.
    SetAny(AF_INET, PortOf(a.addr), &a);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  auto fail = [&](const char* what) {
    const int e = errno;
    if (fd >= 0) close(fd);
    const std::string bound = a.ToString();
    return absl::FailedPreconditionError(
        absl::StrCat("cannot serve metrics on ", text,
                     bound == text ? "" : absl::StrCat(" (", bound, ")"), ": ",
                     what, ": ", std::strerror(e)));
  };
  if (fd < 0) return fail("socket");
  const int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (a.addr.ss_family == AF_INET6) {
    // [::] takes IPv4 too; a specific IPv6 address only itself.
    const int* v6only = a.any ? &zero : &one;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only, sizeof(int));
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.length) != 0) {
    return fail("bind");
  }
  if (listen(fd, SOMAXCONN) != 0) return fail("listen");
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t length = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    return 0;
  }
  return PortOf(addr);
}

}  // namespace metrics
