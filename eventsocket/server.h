// Server: the -tcpinfo.eventsocket server. Listens on a unix stream socket
// and sends every connected client one JSON line per flow event (see
// flow_event.h for the format, the reference's protocol).
//
// Unlike the reference, a client never slows the collector down:
// FlowCreated/FlowDeleted only copy the event into a bounded lock-free queue
// (no lock, no allocation, no system call except one eventfd write per
// burst) and return. A server thread formats each event once and appends it
// to every client's bounded output buffer; a client whose buffer would
// overflow (it stopped reading) is disconnected and counted. A client gets
// the events the server thread handles after it was accepted; nothing is
// replayed. If the queue itself is full (the server thread starved), the
// event is dropped and counted.
//
// Threading: FlowCreated, FlowDeleted and stats() may be called from any
// thread, concurrently. Start/Flush/Stop and the destructor from one
// controlling thread.
#ifndef TCPINFO_EVENTSOCKET_SERVER_H_
#define TCPINFO_EVENTSOCKET_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "eventsocket/flow_event.h"
#include "inetdiag/inet_diag.h"
#include "parse/timestamp.h"

namespace eventsocket {

struct ServerOptions {
  std::string path;  // the unix socket's file name
  // Events that may wait for the server thread; rounded up to a power of 2.
  size_t queue_capacity = 8192;
  // Bytes a client may have unsent before it is disconnected (about 20000
  // events, a burst of new connections). Used only while a client lags.
  size_t client_buffer_bytes = 4 << 20;
};

struct ServerStats {
  uint64_t events_queued = 0;       // FlowCreated/FlowDeleted accepted
  uint64_t events_dropped = 0;      // lost because the queue was full
  uint64_t events_sent = 0;         // events handed to all current clients
  uint64_t clients_accepted = 0;    // connections accepted so far
  uint64_t clients_connected = 0;   // connected right now
  uint64_t clients_overflowed = 0;  // disconnected for not reading
};

class Server {
 public:
  // Creates the socket at options.path, replacing a stale socket file left
  // by an earlier run, with mode 0660, and starts the server thread.
  // Fails (one line, for the operator) if the path is empty, too long for a
  // unix socket address, exists and is not a socket, or cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options);

  // Stop()s.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // `timestamp` is written as the event's Timestamp, to the nanosecond; the
  // reference, and collector::TelemetryObserver, pass the wall-clock time
  // the event is made (not a snapshot's).
  //
  // A connection was first archived under `uuid`. Never blocks.
  // `owner`, when not null, is written as the event's Owner; `netns`
  // (-netns: the connection's namespace) adds a last field "Netns".
  void FlowCreated(parse::Timestamp timestamp, absl::string_view uuid,
                   const inetdiag::SockId& id,
                   const EventOwner* owner = nullptr,
                   absl::string_view netns = {});
  // The connection archived under `uuid` ended. Never blocks.
  void FlowDeleted(parse::Timestamp timestamp, absl::string_view uuid,
                   absl::string_view netns = {});

  // Waits until every event queued before the call has been written to the
  // clients' sockets (or their clients dropped), or `timeout` passes.
  // Returns whether it got there. For shutdown and tests.
  bool Flush(absl::Duration timeout);

  // Flushes (up to `timeout`), closes every client and the listening socket,
  // removes the socket file (unless another server replaced it) and joins
  // the server thread. Later events are
  // dropped. Idempotent.
  void Stop(absl::Duration timeout = absl::Seconds(1));

  ServerStats stats() const;
  const std::string& path() const;

 private:
  struct Rep;
  explicit Server(std::unique_ptr<Rep> rep);
  void Enqueue(const FlowEvent& event);
  std::unique_ptr<Rep> rep_;
};

}  // namespace eventsocket

#endif  // TCPINFO_EVENTSOCKET_SERVER_H_
