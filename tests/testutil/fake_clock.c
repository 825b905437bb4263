// fake_clock: an LD_PRELOAD shim that shifts one process's wall clock
// without touching the machine's, so that a test can step the clock of a
// running daemon back or forward.
//
// The process's environment names a file with TCPINFO_FAKE_CLOCK_FILE; its
// first 8 bytes are a signed offset in nanoseconds (native byte order),
// which the test changes at any time (e.g. through a shared mapping, with
// an atomic 8-byte store). Every CLOCK_REALTIME reading (clock_gettime with
// CLOCK_REALTIME or CLOCK_REALTIME_COARSE, gettimeofday, time) gets the
// offset added at the moment of the call; CLOCK_MONOTONIC and every other
// clock pass through unchanged, as they would on a host whose clock is
// stepped. Without the variable, or if the file cannot be mapped, the
// offset is 0.
//
// Thread-safe: the file is mapped once (pthread_once) and read with an
// atomic load on every call; nothing allocates.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*ClockGettime)(clockid_t, struct timespec*);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static ClockGettime real_clock_gettime;
static const int64_t* offset_ns;  // mapped, or NULL

static int SyscallClockGettime(clockid_t id, struct timespec* ts) {
  return (int)syscall(SYS_clock_gettime, id, ts);
}

static void Init(void) {
  real_clock_gettime = (ClockGettime)dlsym(RTLD_NEXT, "clock_gettime");
  if (real_clock_gettime == NULL) real_clock_gettime = SyscallClockGettime;
  const char* path = getenv("TCPINFO_FAKE_CLOCK_FILE");
  if (path == NULL) return;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  void* p = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (p != MAP_FAILED) offset_ns = (const int64_t*)p;
}

static int64_t Offset(void) {
  return offset_ns == NULL ? 0 : __atomic_load_n(offset_ns, __ATOMIC_RELAXED);
}

static void Shift(struct timespec* ts, int64_t ns) {
  int64_t sec = ts->tv_sec + ns / 1000000000;
  int64_t nsec = ts->tv_nsec + ns % 1000000000;
  if (nsec < 0) nsec += 1000000000, --sec;
  if (nsec >= 1000000000) nsec -= 1000000000, ++sec;
  ts->tv_sec = (time_t)sec;
  ts->tv_nsec = (long)nsec;
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  pthread_once(&init_once, Init);
  const int r = real_clock_gettime(id, ts);
  if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
    Shift(ts, Offset());
  }
  return r;
}

int gettimeofday(struct timeval* restrict tv, void* restrict tz) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return -1;
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  if (tz != NULL) {
    struct timezone* z = (struct timezone*)tz;
    z->tz_minuteswest = 0;
    z->tz_dsttime = 0;
  }
  return 0;
}

time_t time(time_t* out) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
  if (out != NULL) *out = ts.tv_sec;
  return ts.tv_sec;
}
