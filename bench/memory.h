// Memory measurements for the microbenchmarks.
#ifndef TCPINFO_BENCH_MEMORY_H_
#define TCPINFO_BENCH_MEMORY_H_

#include <malloc.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>

namespace bench {

// Live heap bytes, small and mmapped blocks (glibc).
inline size_t HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Resident set size of this process.
inline long ResidentBytes() {
  long pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace bench

#endif  // TCPINFO_BENCH_MEMORY_H_
