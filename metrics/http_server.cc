#include "metrics/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "prometheus/exposer.h"

namespace metrics {

namespace {

// The first address `host` resolves to, IPv4 preferred, as civetweb
// writes it ("1.2.3.4" or "[::1]").
absl::StatusOr<std::string> Resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  std::string v4, v6;
  char text[INET6_ADDRSTRLEN];
  for (const addrinfo* a = result; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET && v4.empty()) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
      v4 = text;
    } else if (a->ai_family == AF_INET6 && v6.empty()) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
      v6 = absl::StrCat("[", text, "]");
    }
  }
  freeaddrinfo(result);
  if (!v4.empty()) return v4;
  if (!v6.empty()) return v6;
  return absl::InvalidArgumentError(absl::StrCat("no address for ", host));
}

// The address to connect to for reaching a listener bound by civetweb
// "listening_ports" value `ports`: its own address, loopback for any.
std::string WakeHost(absl::string_view ports) {
  if (ports.empty() || ports.front() == '+' ||
      ports.find(':') == absl::string_view::npos) {
    return "127.0.0.1";
  }
  const absl::string_view host = ports.substr(0, ports.rfind(':'));
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "[::]") return "::1";
  if (host.front() == '[') return std::string(host.substr(1, host.size() - 2));
  return std::string(host);
}

// Opens and closes one TCP connection to host:port, ignoring failure.
void Knock(const std::string& host, int port) {
  sockaddr_storage addr{};
  socklen_t length;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
  } else {
    return;
  }
  const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)connect(fd, reinterpret_cast<sockaddr*>(&addr), length);
  close(fd);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CivetwebListeningPorts(
    absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address must be host:port or :port, got \"", address, "\""));
  }
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  int port;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port in listen address \"", address, "\""));
  }
  const std::string port_str = absl::StrCat(port);
  if (host.empty()) {
    // Every interface: both families where civetweb can, else IPv4.
    return std::vector<std::string>{"+" + port_str, port_str};
  }
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad IPv6 host in listen address \"", address, "\""));
    }
    const std::string literal(host.substr(1, host.size() - 2));
    in6_addr ignored;
    if (inet_pton(AF_INET6, literal.c_str(), &ignored) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad IPv6 address in listen address \"", address, "\""));
    }
    return std::vector<std::string>{absl::StrCat(host, ":", port_str)};
  }
  auto resolved = Resolve(std::string(host));
  if (!resolved.ok()) return resolved.status();
  return std::vector<std::string>{absl::StrCat(*resolved, ":", port_str)};
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view address,
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables) {
  auto candidates = CivetwebListeningPorts(address);
  if (!candidates.ok()) return candidates.status();
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  std::string failure;
  for (const std::string& ports : *candidates) {
    // The Exposer reports a bind failure only by throwing.
    try {
      server->exposer_ = std::make_unique<prometheus::Exposer>(ports, 2);
      server->wake_host_ = WakeHost(ports);
      break;
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  if (!server->exposer_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot serve metrics on ", address, " (civetweb \"",
        absl::StrJoin(*candidates, "\" or \""),
        "\"): port in use, address not local, or IPv6 not supported by "
        "civetweb: ",
        failure));
  }
  for (const auto& c : collectables) server->exposer_->RegisterCollectable(c);
  server->collectables_ = std::move(collectables);
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

MetricsServer::~MetricsServer() {
  // civetweb's listening thread sees the stop request only when its poll()
  // returns: every 2 s, or at once when a connection arrives. Knock until
  // the Exposer is gone so that stopping takes milliseconds, not seconds.
  std::atomic<bool> stopped{false};
  std::thread knocker([this, &stopped] {
    for (int i = 0; i < 400 && !stopped.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (!stopped.load()) Knock(wake_host_, port_);
    }
  });
  exposer_.reset();
  stopped.store(true);
  knocker.join();
}

}  // namespace metrics
