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
#include "collector/collector.h"
#include "collector/debug_observer.h"
#include "collector/destroy_listener.h"
#include "collector/flags.h"
#include "collector/observer_fanout.h"
#include "collector/shutdown_signal.h"
#include "collector/telemetry_observer.h"
#include "eventsocket/server.h"
#include "flows/flow_tracker.h"
#include "metrics/http_server.h"
#include "metrics/metrics.h"
#include "metrics/process_metrics.h"
#include "netns/child_ehash.h"
#include "netns/namespace_watcher.h"
#include "netns/netns_spec.h"
#include "saver/saver.h"
#include "sinks/sink_set.h"
#include "sinks/sink_url.h"

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
  if (netns_watcher != nullptr) metrics.LabelFlowEventsByNamespace();
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!config->prometheus_listen_address.empty()) {
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables = {
        metrics.collectable(), std::make_shared<metrics::ProcessCollector>()};
    if (sink_set != nullptr) collectables.push_back(sink_set->collectable());
    if (netns_watcher != nullptr) {
      collectables.push_back(netns_watcher->collectable());
    }
    absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> server =
        metrics::MetricsServer::Start(config->prometheus_listen_address,
                                      collectables);
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
  observers.Add(&telemetry);
  observers.Add(debug.get());
  // With a -sink: flow records from a tracker beside them.
  std::unique_ptr<flows::FlowTracker> tracker;
  if (sink_set != nullptr) {
    flows::FlowTrackerOptions tracker_options;
    tracker_options.uuid_prefix = *prefix;
    tracker_options.active_timeout = config->flows_active_timeout;
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
  options.anonymize = config->anonymize;

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
  if (sink_set != nullptr) sink_set->Stop(kSinkDrain);
  std::fprintf(stderr, "tcp-info: %s%s\n",
               signal != 0 ? "stopped by signal; " : "",
               (*collector)->SummaryLine().c_str());
  return 0;
}
