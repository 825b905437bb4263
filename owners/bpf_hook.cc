#include "owners/bpf_hook.h"

#include <sys/stat.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#ifdef TCPINFO_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "owners.skel.h"
#endif

namespace owners {

#ifdef TCPINFO_HAVE_BPF
namespace {

// struct owner_value of owners.bpf.c.
struct HookValue {
  uint32_t tgid;
  uint32_t tid;
  uint32_t uid;
  uint32_t pad;
  uint64_t cgroup_id;
  char comm[16];
};
static_assert(sizeof(HookValue) == 40);

// libbpf's last warning or error, for the one line Open returns.
thread_local std::string last_libbpf_message;

int KeepLastMessage(enum libbpf_print_level level, const char* format,
                    va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  std::vsnprintf(line, sizeof(line), format, args);
  last_libbpf_message = line;
  while (!last_libbpf_message.empty() && last_libbpf_message.back() == '\n') {
    last_libbpf_message.pop_back();
  }
  return 0;
}

absl::Status Failed(absl::string_view what, int err) {
  return absl::FailedPreconditionError(absl::StrCat(
      "BPF hook: ", what, ": ", std::strerror(err < 0 ? -err : err),
      last_libbpf_message.empty() ? "" : " (", last_libbpf_message,
      last_libbpf_message.empty() ? "" : ")"));
}

}  // namespace

struct BpfHook::Rep {
  ~Rep() { owners_bpf__destroy(skel); }
  owners_bpf* skel = nullptr;
  int map_fd = -1;
  bool accepts = false;
  std::string why_no_accepts;
};

absl::StatusOr<std::unique_ptr<BpfHook>> BpfHook::Open() {
  libbpf_set_print(KeepLastMessage);
  last_libbpf_message.clear();
  // This thread's network namespace: only its sockets are recorded.
  struct stat ns;
  const uint32_t netns =
      stat("/proc/thread-self/ns/net", &ns) == 0 ? ns.st_ino : 0;
  std::string first_failure;
  for (bool with_uses : {true, false}) {
    auto rep = std::make_unique<Rep>();
    rep->skel = owners_bpf__open();
    if (rep->skel == nullptr) return Failed("open", errno);
    rep->skel->rodata->target_netns = netns;
    bpf_program__set_autoload(rep->skel->progs.owners_send, with_uses);
    bpf_program__set_autoload(rep->skel->progs.owners_recv, with_uses);
    if (int err = owners_bpf__load(rep->skel); err != 0) {
      if (with_uses) {  // try with the connect probe alone
        first_failure = std::string(Failed("load", err).message());
        continue;
      }
      return Failed("load", err);
    }
    if (int err = owners_bpf__attach(rep->skel); err != 0) {
      if (with_uses) {
        first_failure = std::string(Failed("attach", err).message());
        continue;
      }
      return Failed("attach", err);
    }
    rep->map_fd = bpf_map__fd(rep->skel->maps.owners);
    rep->accepts = with_uses;
    rep->why_no_accepts = first_failure;
    return std::unique_ptr<BpfHook>(new BpfHook(std::move(rep)));
  }
  return Failed("load", EINVAL);
}

bool BpfHook::Lookup(uint64_t cookie, HookRecord* record) {
  HookValue v;
  if (bpf_map_lookup_elem(rep_->map_fd, &cookie, &v) != 0) return false;
  record->tgid = v.tgid;
  record->tid = v.tid;
  record->uid = v.uid;
  record->cgroup_id = v.cgroup_id;
  record->comm.assign(v.comm, strnlen(v.comm, sizeof(v.comm)));
  return true;
}

bool BpfHook::accepts() const { return rep_->accepts; }
std::string BpfHook::why_no_accepts() const { return rep_->why_no_accepts; }

#else  // built without the BPF program

struct BpfHook::Rep {};

absl::StatusOr<std::unique_ptr<BpfHook>> BpfHook::Open() {
  return absl::UnimplementedError(
      "BPF hook: not built (needs clang, bpftool, libbpf-dev and "
      "/sys/kernel/btf/vmlinux at build time)");
}

bool BpfHook::Lookup(uint64_t, HookRecord*) { return false; }
bool BpfHook::accepts() const { return false; }
std::string BpfHook::why_no_accepts() const { return ""; }

#endif

BpfHook::BpfHook(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
BpfHook::~BpfHook() = default;

}  // namespace owners
