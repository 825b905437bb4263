// ObserverFanout: one CollectorObserver that passes every call on to
// several, in the order they were added (the collector takes one).
//
// Thread contract: as CollectorObserver; Add() before the collector runs.
#ifndef TCPINFO_COLLECTOR_OBSERVER_FANOUT_H_
#define TCPINFO_COLLECTOR_OBSERVER_FANOUT_H_

#include <vector>

#include "collector/observer.h"

namespace collector {

class ObserverFanout : public CollectorObserver {
 public:
  // `observer` must outlive the fanout; null is ignored.
  void Add(CollectorObserver* observer) {
    if (observer != nullptr) observers_.push_back(observer);
  }

  void OnFlowOpen(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& first) override {
    for (CollectorObserver* o : observers_)
      o->OnFlowOpen(cookie, timestamp, first);
  }
  void OnFlowOpenIn(uint64_t cookie, parse::Timestamp timestamp,
                    const parse::RecordView& first,
                    const NamespaceRef& ns) override {
    for (CollectorObserver* o : observers_)
      o->OnFlowOpenIn(cookie, timestamp, first, ns);
  }
  void OnSnapshot(uint64_t cookie, parse::Timestamp timestamp,
                  const parse::RecordView& record,
                  parse::Change change) override {
    for (CollectorObserver* o : observers_)
      o->OnSnapshot(cookie, timestamp, record, change);
  }
  void OnFlowClose(uint64_t cookie, parse::Timestamp timestamp,
                   CloseReason reason) override {
    for (CollectorObserver* o : observers_)
      o->OnFlowClose(cookie, timestamp, reason);
  }
  void OnCycle(const CycleStats& stats) override {
    for (CollectorObserver* o : observers_) o->OnCycle(stats);
  }
  void OnDestroyEvent(bool event_only) override {
    for (CollectorObserver* o : observers_) o->OnDestroyEvent(event_only);
  }
  void OnDestroyEventsLost() override {
    for (CollectorObserver* o : observers_) o->OnDestroyEventsLost();
  }

 private:
  std::vector<CollectorObserver*> observers_;
};

}  // namespace collector

#endif  // TCPINFO_COLLECTOR_OBSERVER_FANOUT_H_
