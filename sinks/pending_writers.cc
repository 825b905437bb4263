// Stand-in for the writer built on another branch (postgres), so that this
// tree links: MakeWriter reports its scheme as not built yet. Removed when
// that writer is merged.
#include "sinks/writers.h"

namespace sinks {

std::unique_ptr<SinkWriter> NewPostgresWriter(const SinkUrl& url) {
  return nullptr;
}

}  // namespace sinks
