#include "tests/testutil/saver_fixture.h"

namespace testutil {

Archive* RealSnapshotsTest::original_ = nullptr;

void RealSnapshotsTest::SetUpTestSuite() {
  original_ = new Archive(MlabSnapshots(kLongConnection));
}

void RealSnapshotsTest::TearDownTestSuite() { delete original_; }

parse::Timestamp RealSnapshotsTest::T(int64_t ms) {
  return parse::Timestamp::FromUnixNanos(1795309200000000000 + ms * 1000000);
}

void RealSnapshotsTest::WriteSnapshots(saver::Saver* s, uint64_t cookie,
                                       size_t first, size_t n) {
  for (size_t i = first; i < first + n; ++i) {
    s->Write(cookie, T(static_cast<int64_t>(i)), original_->records[i].View());
  }
}

std::vector<size_t> RealSnapshotsTest::Range(size_t first, size_t n) {
  std::vector<size_t> v;
  for (size_t i = first; i < first + n; ++i) v.push_back(i);
  return v;
}

}  // namespace testutil
