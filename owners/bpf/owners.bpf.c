// The owners layer's kernel hook (libbpf CO-RE, built by CMakeLists.txt
// with clang -target bpf against /sys/kernel/btf/vmlinux): records the
// process, uid and cgroup of every TCP socket as it is made, keyed by
// socket cookie, in a bounded LRU map that user space reads
// (owners/bpf_hook.h).
//
//   tp_btf/inet_sock_set_state  a socket entering SYN_SENT: connect(), in
//                               the connecting task's context
//   tp_btf/sock_send_length,    a socket's first send or receive by a
//   tp_btf/sock_recv_length     task (accepted sockets: the accept path
//                               has no tracepoint, and kprobes or fexit
//                               are missing on some kernels), 6.3 on
// vmlinux.h first: libbpf's headers use its types.
// clang-format off
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
// clang-format on

// Layout shared with owners/bpf_hook.cc (struct HookValue).
struct owner_value {
  __u32 tgid;
  __u32 tid;
  __u32 uid;
  __u32 pad;
  __u64 cgroup_id;
  char comm[16];
};

// The network namespace (its inode number) whose sockets are recorded, set
// by user space before load; 0: every namespace. Sockets of other
// namespaces (other tests, containers) would only crowd the map.
const volatile __u32 target_netns = 0;

static __always_inline int wanted(struct sock *sk) {
  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  if (target_netns == 0) return 1;
  return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == target_netns;
}

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct owner_value);
} owners SEC(".maps");

static __always_inline void fill(struct owner_value *v) {
  const __u64 pid_tgid = bpf_get_current_pid_tgid();
  v->tgid = pid_tgid >> 32;
  v->tid = (__u32)pid_tgid;
  v->uid = (__u32)bpf_get_current_uid_gid();
  v->cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(v->comm, sizeof(v->comm));
}

static __always_inline void record(struct sock *sk) {
  __u64 cookie = bpf_get_socket_cookie(sk);
  struct owner_value v = {};
  fill(&v);
  bpf_map_update_elem(&owners, &cookie, &v, BPF_ANY);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(owners_connect, struct sock *sk, int oldstate, int newstate) {
  if (newstate != TCP_SYN_SENT || !wanted(sk)) return 0;
  record(sk);
  return 0;
}

// A socket's first send or receive by a task (an accepted one, or one made
// before the hook): in that task's context. Later calls find the record.
static __always_inline void first_use(struct sock *sk) {
  if (!wanted(sk)) return;
  __u64 cookie = bpf_get_socket_cookie(sk);
  if (bpf_map_lookup_elem(&owners, &cookie) != 0) return;
  struct owner_value v = {};
  fill(&v);
  bpf_map_update_elem(&owners, &cookie, &v, BPF_NOEXIST);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(owners_send, struct sock *sk, int ret, int flags) {
  first_use(sk);
  return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(owners_recv, struct sock *sk, int ret, int flags) {
  first_use(sk);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
