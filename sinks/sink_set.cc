#include "sinks/sink_set.h"

#include <string>
#include <utility>

#include "prometheus/metric_family.h"
#include "sinks/writers.h"

namespace sinks {

// Shared by the set and its collectable, which a metrics server may hold
// a little longer than the set lives.
struct SinkSet::Runners : public prometheus::Collectable {
  std::vector<prometheus::MetricFamily> Collect() const override;

  std::vector<std::unique_ptr<SinkRunner>> list;
};

namespace {

prometheus::ClientMetric Metric(const std::string& sink, const char* result,
                                double value, bool counter) {
  prometheus::ClientMetric m;
  m.label.push_back({"sink", sink});
  if (result != nullptr) m.label.push_back({"result", result});
  if (counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> SinkSet::Runners::Collect() const {
  prometheus::MetricFamily records;
  records.name = "tcpinfo_sink_records_total";
  records.help =
      "Flow records per sink: sent (written), failed (in failed write "
      "attempts, each attempt), dropped (queue full or left at stop), "
      "rejected (refused by the destination as bad data, not retried).";
  records.type = prometheus::MetricType::Counter;
  prometheus::MetricFamily queued;
  queued.name = "tcpinfo_sink_queue_records";
  queued.help = "Flow records waiting in each sink's queue.";
  queued.type = prometheus::MetricType::Gauge;
  for (const std::unique_ptr<SinkRunner>& r : list) {
    const SinkRunner::Stats s = r->stats();
    const std::string& sink = r->name();
    records.metric.push_back(
        Metric(sink, "sent", static_cast<double>(s.sent), true));
    records.metric.push_back(
        Metric(sink, "failed", static_cast<double>(s.failed), true));
    records.metric.push_back(
        Metric(sink, "dropped", static_cast<double>(s.dropped), true));
    records.metric.push_back(
        Metric(sink, "rejected", static_cast<double>(s.rejected), true));
    queued.metric.push_back(
        Metric(sink, nullptr, static_cast<double>(s.queued), false));
  }
  std::vector<prometheus::MetricFamily> out;
  if (list.empty()) return out;
  out.push_back(std::move(queued));
  out.push_back(std::move(records));
  return out;
}

SinkSet::SinkSet() : runners_(std::make_shared<Runners>()) {}

SinkSet::~SinkSet() {
  if (!stopped_) Stop(absl::ZeroDuration());
}

absl::StatusOr<std::unique_ptr<SinkSet>> SinkSet::Create(
    const std::vector<SinkUrl>& urls, const SinkOptions& options) {
  auto set = std::make_unique<SinkSet>();
  for (const SinkUrl& url : urls) {
    absl::StatusOr<std::unique_ptr<SinkWriter>> writer = MakeWriter(url);
    if (!writer.ok()) return writer.status();
    set->Add(std::make_unique<SinkRunner>(url.redacted, *std::move(writer),
                                          options));
  }
  return set;
}

void SinkSet::Add(std::unique_ptr<SinkRunner> runner) {
  runners_->list.push_back(std::move(runner));
}

void SinkSet::Start() {
  for (const std::unique_ptr<SinkRunner>& r : runners_->list) r->Start();
}

void SinkSet::Consume(flows::FlowRecord record) {
  std::vector<std::unique_ptr<SinkRunner>>& list = runners_->list;
  if (list.empty()) return;
  for (size_t i = 0; i + 1 < list.size(); ++i) list[i]->Offer(record);
  list.back()->Offer(std::move(record));
}

void SinkSet::ConsumeMeasurement(flows::Measurement measurement) {
  SinkRunner* last = nullptr;
  for (const std::unique_ptr<SinkRunner>& r : runners_->list) {
    if (!r->Accepts(measurement.kind)) continue;
    if (last != nullptr) last->Offer(measurement);
    last = r.get();
  }
  if (last != nullptr) last->Offer(std::move(measurement));
}

bool SinkSet::Accepts(flows::MeasurementKind kind) const {
  for (const std::unique_ptr<SinkRunner>& r : runners_->list) {
    if (r->Accepts(kind)) return true;
  }
  return false;
}

void SinkSet::Stop(absl::Duration drain) {
  stopped_ = true;
  const absl::Time deadline = absl::Now() + drain;
  for (const std::unique_ptr<SinkRunner>& r : runners_->list) r->Stop(deadline);
}

size_t SinkSet::size() const { return runners_->list.size(); }

std::vector<SinkRunner::Stats> SinkSet::stats() const {
  std::vector<SinkRunner::Stats> out;
  for (const std::unique_ptr<SinkRunner>& r : runners_->list) {
    out.push_back(r->stats());
  }
  return out;
}

std::shared_ptr<prometheus::Collectable> SinkSet::collectable() const {
  return runners_;
}

}  // namespace sinks
