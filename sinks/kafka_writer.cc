#include "sinks/kafka_writer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "flows/record_json.h"
#include "sinks/writers.h"

namespace sinks {

namespace {

// librdkafka's own log lines (one per failed connection attempt) would flood
// stderr while a broker is down; what matters reaches the writer through the
// error callback and the delivery reports instead, and the runner logs it.
void DiscardLog(const rd_kafka_t*, int, const char*, const char*) {}

std::string UrlPrefix(const SinkUrl& url) {
  return absl::StrCat("-sink=", url.redacted, ": ");
}

// The producer's configuration: bootstrap.servers (when `with_servers`), our
// defaults, then the URL's properties. The caller owns the result.
absl::StatusOr<rd_kafka_conf_t*> BuildConf(const SinkUrl& url,
                                           bool with_servers) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, DiscardLog);
  auto set = [&](const std::string& name,
                 const std::string& value) -> absl::Status {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK) {
      // A secret's value never reaches a log line, as in SinkUrl::redacted.
      const std::string lower = absl::AsciiStrToLower(name);
      const bool secret = absl::StrContains(lower, "password") ||
                          absl::StrContains(lower, "secret");
      return absl::InvalidArgumentError(
          absl::StrCat(UrlPrefix(url), "kafka property \"", name, "\" = \"",
                       secret ? "..." : value, "\": ", errstr));
    }
    return absl::OkStatus();
  };
  absl::Status status;
  if (with_servers) status.Update(set("bootstrap.servers", url.hosts));
  status.Update(set("enable.idempotence", "true"));
  status.Update(set("acks", kKafkaDefaultAcks));
  status.Update(set("message.timeout.ms", kKafkaDefaultMessageTimeoutMs));
  status.Update(
      set("reconnect.backoff.max.ms", kKafkaDefaultReconnectBackoffMaxMs));
  for (const auto& [name, value] : url.params) {
    if (!status.ok()) break;
    status.Update(set(name, value));
  }
  if (!status.ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  return conf;
}

// Creates a producer from `conf` (taken, whatever the outcome).
absl::StatusOr<rd_kafka_t*> NewProducer(const SinkUrl& url,
                                        rd_kafka_conf_t* conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat(UrlPrefix(url), "kafka producer: ", errstr));
  }
  return rk;
}

class KafkaWriter final : public SinkWriter {
 public:
  explicit KafkaWriter(const SinkUrl& url) : url_(url) {}
  ~KafkaWriter() override { Destroy(); }

  absl::Status Connect() override {
    if (rk_ != nullptr) {
      char reason[256];
      if (rd_kafka_fatal_error(rk_, reason, sizeof reason) ==
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::OkStatus();  // librdkafka reconnects by itself
      }
      Destroy();  // a fatal error: this producer can send nothing more
    }
    absl::StatusOr<rd_kafka_conf_t*> conf = BuildConf(url_, true);
    if (!conf.ok()) return conf.status();
    rd_kafka_conf_set_opaque(*conf, this);
    rd_kafka_conf_set_dr_msg_cb(*conf, &KafkaWriter::OnDelivery);
    rd_kafka_conf_set_error_cb(*conf, &KafkaWriter::OnError);
    absl::StatusOr<rd_kafka_t*> rk = NewProducer(url_, *conf);
    if (!rk.ok()) return rk.status();
    rk_ = *rk;
    rkt_ = rd_kafka_topic_new(rk_, url_.topic.c_str(), nullptr);
    if (rkt_ == nullptr) {
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      Destroy();
      return absl::InvalidArgumentError(absl::StrCat(
          UrlPrefix(url_), "kafka topic: ", rd_kafka_err2str(err)));
    }
    return absl::OkStatus();
  }

  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    WriteResult result;
    if (rk_ == nullptr) {
      result.status = absl::FailedPreconditionError("kafka: not connected");
      return result;
    }
    const absl::Time bound = absl::Now() + kKafkaWriteBound;
    // Messages of an earlier Write still awaiting their report are settled
    // first: producing later records beside them could put a flow's retried
    // record behind its successor.
    AwaitInFlight(bound);
    absl::Status produce_error;
    if (in_flight_ == 0) {
      for (const flows::FlowRecord& record : records) {
        Message& message = Track(record);
        if (message.state == State::kDelivered) continue;
        produce_error = Produce(record, &message, bound);
        if (!produce_error.ok()) break;
      }
      AwaitInFlight(bound);
    }
    return Settle(records, produce_error);
  }

  void Close(absl::Time deadline) override {
    if (rk_ != nullptr) {
      const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      rd_kafka_flush(rk_, static_cast<int>(std::clamp<int64_t>(ms, 0, 60000)));
    }
    Destroy();
  }

 private:
  enum class State { kUnsent, kInFlight, kDelivered, kFailed };
  struct Message {
    State state = State::kUnsent;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    // Failed after it was sent, without an answer: the broker may have it.
    bool possibly_persisted = false;
  };
  using Key = std::pair<std::string, uint32_t>;  // (uuid, seq)

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* report,
                         void* opaque) {
    auto* writer = static_cast<KafkaWriter*>(opaque);
    auto* message = static_cast<Message*>(report->_private);
    message->error = report->err;
    message->possibly_persisted = rd_kafka_message_status(report) ==
                                  RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;
    message->state = report->err == RD_KAFKA_RESP_ERR_NO_ERROR
                         ? State::kDelivered
                         : State::kFailed;
    --writer->in_flight_;
  }

  static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* writer = static_cast<KafkaWriter*>(opaque);
    writer->last_error_ = absl::StrCat(
        rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), ": ", reason);
  }

  // The record's tracking entry, new (kUnsent) if it has none.
  Message& Track(const flows::FlowRecord& record) {
    std::unique_ptr<Message>& slot = tracked_[Key(record.uuid, record.seq)];
    if (slot == nullptr) slot = std::make_unique<Message>();
    return *slot;
  }

  absl::Status Produce(const flows::FlowRecord& record, Message* message,
                       absl::Time bound) {
    value_.clear();
    flows::AppendRecordJson(record, &value_);
    while (true) {
      if (rd_kafka_produce(rkt_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                           value_.data(), value_.size(), record.uuid.data(),
                           record.uuid.size(), message) == 0) {
        message->state = State::kInFlight;
        message->error = RD_KAFKA_RESP_ERR_NO_ERROR;
        ++in_flight_;
        return absl::OkStatus();
      }
      const rd_kafka_resp_err_t err = rd_kafka_last_error();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || absl::Now() >= bound) {
        return absl::UnavailableError(
            absl::StrCat("produce: ", rd_kafka_err2str(err)));
      }
      rd_kafka_poll(rk_, 10);  // serve reports, making room in the queue
    }
  }

  // Serves delivery reports until no message is in flight or `bound`.
  void AwaitInFlight(absl::Time bound) {
    while (in_flight_ > 0) {
      const int64_t ms = absl::ToInt64Milliseconds(bound - absl::Now());
      if (ms <= 0) break;
      rd_kafka_poll(rk_, static_cast<int>(std::min<int64_t>(ms, 100)));
    }
    rd_kafka_poll(rk_, 0);  // errors and reports already there
  }

  // The result of a Write of `records`, and the tracking entries it no longer
  // needs: those of the written records, and those librdkafka gave up on
  // (produced anew on the retry).
  WriteResult Settle(absl::Span<const flows::FlowRecord> records,
                     const absl::Status& produce_error) {
    WriteResult result;
    size_t delivered = 0, failed = 0, in_flight = 0, possibly_persisted = 0;
    rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = 0; i < records.size(); ++i) {
      const Key key(records[i].uuid, records[i].seq);
      auto it = tracked_.find(key);
      const State state =
          it == tracked_.end() ? State::kUnsent : it->second->state;
      if (state == State::kDelivered) ++delivered;
      if (state == State::kInFlight) ++in_flight;
      if (state == State::kFailed) {
        ++failed;
        if (it->second->possibly_persisted) ++possibly_persisted;
        if (first_error == RD_KAFKA_RESP_ERR_NO_ERROR) {
          first_error = it->second->error;
        }
      }
      if (state == State::kDelivered && result.written == i) ++result.written;
      const bool done = state == State::kDelivered && result.written > i;
      if (it != tracked_.end() &&
          (done || state == State::kFailed || state == State::kUnsent)) {
        tracked_.erase(it);
      }
    }
    if (result.written == records.size()) return result;
    std::string why =
        absl::StrCat("kafka topic ", url_.topic, ": ", result.written, " of ",
                     records.size(), " records acknowledged in order (",
                     delivered, " delivered");
    if (failed > 0) {
      absl::StrAppend(&why, ", ", failed,
                      " failed: ", rd_kafka_err2str(first_error));
    }
    if (possibly_persisted > 0) {
      absl::StrAppend(&why, ", of them ", possibly_persisted,
                      " possibly in the topic (their retry may repeat them)");
    }
    if (in_flight > 0) {
      absl::StrAppend(&why, ", ", in_flight, " awaiting delivery");
    }
    absl::StrAppend(&why, ")");
    if (!produce_error.ok()) {
      absl::StrAppend(&why, "; ", produce_error.message());
    }
    if (!last_error_.empty()) {
      absl::StrAppend(&why, "; last producer error: ", last_error_);
      last_error_.clear();
    }
    result.status = absl::UnavailableError(why);
    return result;
  }

  // Drops the producer and whatever it still holds (no report is served
  // after this), and every tracking entry.
  void Destroy() {
    if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
    rkt_ = nullptr;
    if (rk_ != nullptr) {
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_destroy(rk_);
    }
    rk_ = nullptr;
    tracked_.clear();
    in_flight_ = 0;
  }

  const SinkUrl url_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  // Records of this and earlier Writes not yet written (the runner retries
  // them): delivered beyond the first gap, or still in flight. Bounded by
  // the runner's batch. The Message addresses are the messages' opaques.
  absl::flat_hash_map<Key, std::unique_ptr<Message>> tracked_;
  int64_t in_flight_ = 0;   // produced, no delivery report yet
  std::string last_error_;  // of the error callback, since the last Write
  std::string value_;       // reused message buffer
};

}  // namespace

absl::Status CheckKafkaUrl(const SinkUrl& url) {
  // Without bootstrap.servers the producer contacts no one; creating it
  // checks the properties' combination too (e.g. acks against idempotence).
  absl::StatusOr<rd_kafka_conf_t*> conf = BuildConf(url, false);
  if (!conf.ok()) return conf.status();
  absl::StatusOr<rd_kafka_t*> rk = NewProducer(url, *conf);
  if (!rk.ok()) return rk.status();
  rd_kafka_destroy(*rk);
  return absl::OkStatus();
}

std::unique_ptr<SinkWriter> NewKafkaWriter(const SinkUrl& url) {
  return std::make_unique<KafkaWriter>(url);
}

}  // namespace sinks
