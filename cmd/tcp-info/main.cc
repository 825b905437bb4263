// tcp-info: archives every TCP connection's changing state. Wiring only:
// flags -> saver -> collector loop -> shutdown. See collector/ for the loop
// and collector/flags.h for the flags.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/api_handler.h"
#include "api/connection_store.h"
#include "collector/collector.h"
#include "collector/debug_observer.h"
#include "collector/destroy_listener.h"
#include "collector/flags.h"
#include "collector/observer_fanout.h"
#include "collector/shutdown_signal.h"
#include "collector/telemetry_observer.h"
#include "eventsocket/server.h"
#include "flows/flow_tracker.h"
#include "gateway/gateway.h"
#include "metrics/http_server.h"
#include "metrics/metrics.h"
#include "metrics/process_metrics.h"
#include "netns/child_ehash.h"
#include "netns/namespace_watcher.h"
#include "netns/netns_spec.h"
#include "owners/bpf_hook.h"
#include "owners/owner_tracker.h"
#include "saver/saver.h"
#include "sinks/sink_set.h"
#include "sinks/sink_url.h"
#include "traffic/address_prefix.h"
#include "traffic/peer_names.h"
#include "traffic/service_names.h"
#include "traffic/traffic_observer.h"

namespace {

constexpr int kUsageError = 2;
// Labels tcpinfo_build_info.
constexpr char kVersion[] = "0.1.0-dev";
// How long a connection gone from the dumps waits for its destroy event
// before it is closed anyway (the kernel sends the event from a workqueue,
// usually within microseconds; a socket in CLOSE still held by its process
// sends it only when closed).
constexpr absl::Duration kDestroyGrace = absl::Seconds(1);
// How long the sinks may take at shutdown to write what they hold.
constexpr absl::Duration kSinkDrain = absl::Seconds(5);

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "tcp-info: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<collector::Config> config = collector::ParseFlags(
      args, [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      });
  if (!config.ok())
    return Fail(kUsageError, std::string(config.status().message()));
  if (config->help) {
    std::fputs(collector::Usage("tcp-info").c_str(), stdout);
    return 0;
  }
  const std::string output = config->output.empty() ? "." : config->output;
  absl::StatusOr<bool> created =
      collector::PrepareOutputDirectory(config->output);
  if (!created.ok())
    return Fail(kUsageError, std::string(created.status().message()));
  absl::StatusOr<std::string> prefix = collector::UuidPrefix(*config);
  if (!prefix.ok())
    return Fail(kUsageError, std::string(prefix.status().message()));
  absl::StatusOr<netns::NetnsSpec> netns_spec =
      netns::ParseNetnsSpec(config->netns);
  if (!netns_spec.ok())
    return Fail(kUsageError, std::string(netns_spec.status().message()));
  if (netns_spec->enabled() && config->poll_mode != collector::PollMode::kFull)
    return Fail(kUsageError,
                "-netns polls with full dumps only: -poll.mode=adaptive's "
                "exact requests ask the agent's own namespace");
  if (config->netns_child_ehash >= 0) {
    const absl::Status set =
        netns::SetChildEhashEntries(config->netns_child_ehash);
    if (!set.ok()) return Fail(kUsageError, std::string(set.message()));
  }
  std::vector<sinks::SinkUrl> sink_urls;
  for (const std::string& text : config->sinks) {
    absl::StatusOr<sinks::SinkUrl> url = sinks::ParseSinkUrl(text);
    if (!url.ok())
      return Fail(kUsageError, std::string(url.status().message()));
    sink_urls.push_back(*std::move(url));
  }
  absl::StatusOr<traffic::AddressPrefix> local_prefix =
      traffic::AddressPrefix::Parse(config->traffic_local_prefix);
  absl::StatusOr<traffic::AddressPrefix> remote_prefix =
      traffic::AddressPrefix::Parse(config->traffic_remote_prefix);
  for (const auto& [flag, parsed] :
       {std::pair{"-traffic.local-prefix", &local_prefix},
        std::pair{"-traffic.remote-prefix", &remote_prefix}}) {
    if (!parsed->ok()) {
      return Fail(kUsageError, absl::StrCat("invalid value for flag ", flag,
                                            ": ", parsed->status().message()));
    }
  }
  // Flow records and their sinks, only with a -sink (none: nothing
  // changes).
  std::unique_ptr<sinks::SinkSet> sink_set;
  if (!sink_urls.empty()) {
    sinks::SinkOptions sink_options;
    sink_options.queue_records = config->sink_queue_size;
    absl::StatusOr<std::unique_ptr<sinks::SinkSet>> set =
        sinks::SinkSet::Create(sink_urls, sink_options);
    if (!set.ok())
      return Fail(kUsageError, std::string(set.status().message()));
    sink_set = *std::move(set);
  }
  if (config->logx_debug) {
    collector::WriteDebugLine(absl::StrCat(
        "output ", output, *created ? " (created)" : " (existing)",
        ", uuid prefix ", *prefix, ", interval ",
        absl::FormatDuration(config->interval), ", reps ", config->reps,
        ", destroy events ", config->destroy_events ? "on" : "off",
        ", metrics \"", config->prometheus_listen_address,
        "\", event socket \"", config->eventsocket, "\""));
  }

  // Before the saver starts any thread, so that all of them block the
  // signals and only the polling loop sees them.
  absl::StatusOr<std::unique_ptr<collector::ShutdownSignal>> shutdown =
      collector::ShutdownSignal::Install();
  if (!shutdown.ok()) return Fail(1, std::string(shutdown.status().message()));

  saver::Options saver_options;
  saver_options.output_dir = output;
  saver_options.uuid_prefix = *prefix;
  absl::StatusOr<std::unique_ptr<saver::Saver>> saver =
      saver::Saver::Create(saver_options);
  if (!saver.ok())
    return Fail(kUsageError, std::string(saver.status().message()));

  // Gateway mode: its own thread, after the signal mask is set.
  std::unique_ptr<gateway::Gateway> gateway;
  if (!config->gateway_lan.empty()) {
    gateway::GatewayOptions gateway_options;
    gateway_options.lan_interfaces = config->gateway_lan;
    gateway_options.interval = config->gateway_interval;
    gateway_options.max_series = config->gateway_max_series;
    absl::StatusOr<std::unique_ptr<gateway::Gateway>> started =
        gateway::Gateway::Start(gateway_options, sink_set.get());
    if (!started.ok())
      return Fail(kUsageError, std::string(started.status().message()));
    gateway = *std::move(started);
  }
  // -traffic: bytes and packets by peer and service, with a listening-port
  // watcher and (-traffic.fqdn) a resolver thread of its own.
  traffic::ServiceNames services;
  flows::ListeningPorts traffic_listening;
  std::unique_ptr<traffic::PeerNames> peer_names;
  std::unique_ptr<traffic::TrafficObserver> traffic_observer;
  if (config->traffic) {
    absl::StatusOr<traffic::ServiceNames> loaded =
        traffic::ServiceNames::Load("/etc/services");
    if (loaded.ok()) {
      services = *std::move(loaded);
    } else {
      std::fprintf(stderr, "tcp-info: traffic: %s; service labels empty\n",
                   std::string(loaded.status().message()).c_str());
    }
    const absl::Status watching = traffic_listening.Start();
    if (!watching.ok()) {
      std::fprintf(stderr,
                   "tcp-info: traffic: cannot watch listening sockets (%s); "
                   "services are the remote ports'\n",
                   std::string(watching.message()).c_str());
    }
    if (config->traffic_fqdn) {
      peer_names =
          std::make_unique<traffic::PeerNames>(traffic::PeerNamesOptions{});
    }
    traffic_observer = std::make_unique<traffic::TrafficObserver>(
        traffic::TrafficOptions{.metric_prefix = config->traffic_metric_prefix,
                                .local_prefix = *local_prefix,
                                .remote_prefix = *remote_prefix,
                                .max_series = config->traffic_max_series,
                                .services = &services,
                                .listening = &traffic_listening,
                                .names = peer_names.get()});
  }
  // -owners: each connection's owner, resolved on a thread of its own,
  // with the BPF hook where the host allows it (TCPINFO_OWNERS_HOOK=off:
  // without, for tests of the fallback).
  std::unique_ptr<owners::BpfHook> owner_hook;
  std::unique_ptr<owners::OwnerTracker> owner_tracker;
  if (config->owners) {
    owners::OwnerTrackerOptions owner_options;
    owner_options.max_series = config->owners_max_series;
    owner_options.interval = config->owners_interval;
    owner_options.measurements = sink_set.get();
    std::string why_not = "TCPINFO_OWNERS_HOOK=off";
    const char* hook_env = std::getenv("TCPINFO_OWNERS_HOOK");
    if (hook_env == nullptr || std::string(hook_env) != "off") {
      absl::StatusOr<std::unique_ptr<owners::BpfHook>> hook =
          owners::BpfHook::Open();
      if (hook.ok()) {
        owner_hook = *std::move(hook);
      } else {
        why_not = std::string(hook.status().message());
      }
    }
    if (owner_hook != nullptr) {
      owner_options.resolver.hook = owner_hook.get();
      owner_options.hook_state = "bpf";
      if (!owner_hook->accepts()) {
        std::fprintf(stderr,
                     "tcp-info: owners: BPF hook records connects only, "
                     "accepted connections from /proc: %s\n",
                     owner_hook->why_no_accepts().c_str());
      }
    } else {
      std::fprintf(stderr,
                   "tcp-info: owners from /proc scans only, connections "
                   "shorter than a poll count as unknown: %s\n",
                   why_not.c_str());
    }
    owner_tracker = std::make_unique<owners::OwnerTracker>(owner_options);
  }
  // -netns: a thread of its own finds the namespaces and hands their
  // sockets to the collector.
  collector::SourceHandoff netns_sources;
  std::unique_ptr<netns::NamespaceWatcher> netns_watcher;
  if (netns_spec->enabled()) {
    netns::WatcherOptions watcher_options;
    watcher_options.spec = *netns_spec;
    watcher_options.destroy_events = config->destroy_events;
    absl::StatusOr<std::unique_ptr<netns::NamespaceWatcher>> watcher =
        netns::NamespaceWatcher::Start(watcher_options, &netns_sources);
    if (!watcher.ok()) return Fail(1, std::string(watcher.status().message()));
    netns_watcher = *std::move(watcher);
  }

  // Metrics and the event socket; like the saver's, their threads start
  // after the signal mask is set. An empty address or path turns one off.
  metrics::Metrics metrics(kVersion);
  // The query API, on the metrics address: every open connection's latest
  // snapshot, and closed ones for -api.keep-closed.
  api::ConnectionStore connection_store(*prefix, config->api_keep_closed);
  if (netns_watcher != nullptr) metrics.LabelFlowEventsByNamespace();
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!config->prometheus_listen_address.empty()) {
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables = {
        metrics.collectable(), std::make_shared<metrics::ProcessCollector>()};
    if (sink_set != nullptr) collectables.push_back(sink_set->collectable());
    if (gateway != nullptr) collectables.push_back(gateway->collectable());
    if (traffic_observer != nullptr) {
      collectables.push_back(traffic_observer->collectable());
    }
    if (owner_tracker != nullptr) {
      collectables.push_back(owner_tracker->collectable());
    }
    if (netns_watcher != nullptr) {
      collectables.push_back(netns_watcher->collectable());
    }
    absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> server =
        metrics::MetricsServer::Start(
            config->prometheus_listen_address, collectables, {},
            {{api::kApiPrefix,
              std::make_shared<api::ApiHandler>(&connection_store)}});
    if (!server.ok())
      return Fail(kUsageError, std::string(server.status().message()));
    metrics_server = *std::move(server);
  }
  std::unique_ptr<eventsocket::Server> events;
  if (!config->eventsocket.empty()) {
    absl::StatusOr<std::unique_ptr<eventsocket::Server>> server =
        eventsocket::Server::Start({.path = config->eventsocket});
    if (!server.ok())
      return Fail(kUsageError, std::string(server.status().message()));
    events = *std::move(server);
  }
  collector::TelemetryObserver telemetry(&metrics, events.get(), saver->get());
  // -logx.debug: a logging observer beside the telemetry.
  std::unique_ptr<collector::DebugObserver> debug;
  if (config->logx_debug) {
    debug = std::make_unique<collector::DebugObserver>(saver->get());
  }
  collector::ObserverFanout observers;
  // Before the telemetry, whose open events carry the owner.
  if (owner_tracker != nullptr) {
    observers.Add(owner_tracker.get());
    telemetry.SetEventOwners(owner_tracker.get());
  }
  observers.Add(&telemetry);
  observers.Add(debug.get());
  if (metrics_server != nullptr) observers.Add(&connection_store);
  observers.Add(traffic_observer.get());
  // With a -sink: flow records from a tracker beside them.
  std::unique_ptr<flows::FlowTracker> tracker;
  if (sink_set != nullptr) {
    flows::FlowTrackerOptions tracker_options;
    tracker_options.uuid_prefix = *prefix;
    tracker_options.active_timeout = config->flows_active_timeout;
    tracker_options.owners = owner_tracker.get();
    tracker =
        std::make_unique<flows::FlowTracker>(tracker_options, sink_set.get());
    observers.Add(tracker.get());
    sink_set->Start();
  }

  collector::CollectorOptions options;
  options.interval = config->interval;
  options.reps = config->reps;
  options.filter.include_local = config->include_local;
  options.filter.exclude_srcports = config->exclude_srcports;
  options.filter.exclude_dstips = config->exclude_dstips;
  options.program = config->filter;
  options.anonymize = config->anonymize;
  options.poll_mode = config->poll_mode;
  options.discovery_interval = config->discovery_interval;

  // Destroy events: every connection's final state, even one shorter than
  // a poll. If the kernel refuses them, polling alone goes on.
  std::unique_ptr<collector::DestroyListener> destroy_listener;
  if (netns_watcher != nullptr) {
    // Each namespace's listener is opened by the watcher, drained by the
    // collector.
    if (config->destroy_events) options.destroy_grace = kDestroyGrace;
  } else if (config->destroy_events) {
    absl::StatusOr<std::unique_ptr<collector::DestroyListener>> listener =
        collector::DestroyListener::Open();
    if (listener.ok()) {
      destroy_listener = *std::move(listener);
      options.destroy_grace = kDestroyGrace;
    } else {
      std::fprintf(stderr, "tcp-info: destroy events off, polling only: %s\n",
                   std::string(listener.status().message()).c_str());
    }
  }
  metrics.SetDestroyEventsEnabled(
      destroy_listener != nullptr ||
      (netns_watcher != nullptr && config->destroy_events));

  absl::StatusOr<std::unique_ptr<collector::Collector>> collector =
      netns_watcher != nullptr
          ? collector::Collector::CreateWithSources(options, &netns_sources,
                                                    saver->get(), &observers)
          : collector::Collector::Create(options, saver->get(), &observers);
  if (!collector.ok())
    return Fail(1, std::string(collector.status().message()));
  auto drain_destroy_events = [&] {
    bool overflowed = false;
    destroy_listener->Drain(
        [&](char* payload, size_t size) {
          (*collector)->HandleDestroyed(payload, size, absl::Now());
        },
        &overflowed);
    if (overflowed) (*collector)->CountDestroyOverflow();
  };
  if (destroy_listener != nullptr) {
    (*collector)->AddWatch(destroy_listener->fd(), drain_destroy_events);
  }

  (*collector)->Run((*shutdown)->fd());
  // Connections that ended during the last cycle.
  if (destroy_listener != nullptr) drain_destroy_events();
  if (netns_watcher != nullptr) {
    netns_watcher->Stop();
    (*collector)->DrainDestroyEvents();
  }
  const int signal = (*shutdown)->Take();
  (*saver)->CloseAll();
  // Every flow still open ends with the daemon: a close event for each,
  // delivered before the event socket closes.
  telemetry.CloseAllFlows();
  if (events) events->Stop(absl::Seconds(2));
  if (tracker != nullptr) tracker->FinishAll();
  if (gateway != nullptr) gateway->Stop();
  if (sink_set != nullptr) sink_set->Stop(kSinkDrain);
  std::fprintf(stderr, "tcp-info: %s%s\n",
               signal != 0 ? "stopped by signal; " : "",
               (*collector)->SummaryLine().c_str());
  return 0;
}
