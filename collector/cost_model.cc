#include "collector/cost_model.h"

#include <time.h>

namespace collector {

void CostModel::ObserveFull(int64_t nanos) {
  const double n = static_cast<double>(nanos);
  full_nanos_ = full_nanos_ < 0 ? n : full_nanos_ + kWeight * (n - full_nanos_);
}

void CostModel::ObserveExact(int64_t requests, int64_t nanos) {
  if (requests <= 0) return;
  const double per = static_cast<double>(nanos) / static_cast<double>(requests);
  exact_nanos_ =
      exact_measured_ ? exact_nanos_ + kWeight * (per - exact_nanos_) : per;
  exact_measured_ = true;
}

bool CostModel::PreferExact(int64_t requests) const {
  if (full_nanos_ < 0) return false;
  return static_cast<double>(requests) * exact_nanos_ <= kMargin * full_nanos_;
}

int64_t CostModel::ThreadCpuNanos() {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

}  // namespace collector
