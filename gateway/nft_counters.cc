#include "gateway/nft_counters.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gateway {

namespace {

constexpr char kChain[] = "forward";
constexpr int kPriority = 10;  // filter + 10
// nft's datatype numbers, so that `nft list table inet tcp_info` shows the
// keys as addresses.
constexpr uint32_t kTypeIpv4 = 7, kTypeIpv6 = 8, kTypeEther = 9;

struct SetSpec {
  const char* name;
  uint32_t key_type;
  uint32_t key_len;
  NftCount::Key key;
};
constexpr SetSpec kSets[] = {
    {"mac_up", kTypeEther, 6, NftCount::kMacUp},
    {"addr4_down", kTypeIpv4, 4, NftCount::kAddr4Down},
    {"addr6_down", kTypeIpv6, 16, NftCount::kAddr6Down},
};

// Builds one nf_tables transaction (a batch) in a growing buffer.
class Batch {
 public:
  explicit Batch(uint32_t seq) : seq_(seq) {
    buffer_.resize(256 * 1024);
    batch_ = mnl_nlmsg_batch_start(buffer_.data(), buffer_.size());
    nftnl_batch_begin(static_cast<char*>(mnl_nlmsg_batch_current(batch_)),
                      seq_++);
    mnl_nlmsg_batch_next(batch_);
  }
  ~Batch() { mnl_nlmsg_batch_stop(batch_); }

  // The header of the next message; call Next() once its payload is in.
  nlmsghdr* Header(uint16_t type, uint16_t flags) {
    ++messages_;
    return nftnl_nlmsg_build_hdr(
        static_cast<char*>(mnl_nlmsg_batch_current(batch_)), type, NFPROTO_INET,
        flags | NLM_F_ACK, seq_++);
  }
  void Next() { mnl_nlmsg_batch_next(batch_); }

  void End() {
    nftnl_batch_end(static_cast<char*>(mnl_nlmsg_batch_current(batch_)),
                    seq_++);
    mnl_nlmsg_batch_next(batch_);
  }
  const void* data() const { return mnl_nlmsg_batch_head(batch_); }
  size_t size() const { return mnl_nlmsg_batch_size(batch_); }
  int messages() const { return messages_; }
  uint32_t next_seq() const { return seq_; }

 private:
  std::vector<char> buffer_;
  mnl_nlmsg_batch* batch_;
  uint32_t seq_;
  int messages_ = 0;
};

nftnl_table* NewTable(uint32_t flags) {
  nftnl_table* t = nftnl_table_alloc();
  nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
  nftnl_table_set_str(t, NFTNL_TABLE_NAME, NftCounters::kTable);
  if (flags != 0) nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
  return t;
}

void AddTable(Batch* batch, uint16_t type, uint16_t flags,
              uint32_t table_flags) {
  nftnl_table* t = NewTable(table_flags);
  nftnl_table_nlmsg_build_payload(batch->Header(type, flags), t);
  batch->Next();
  nftnl_table_free(t);
}

void AddExpr(nftnl_rule* r, nftnl_expr* e) { nftnl_rule_add_expr(r, e); }

nftnl_expr* Meta(uint32_t key) {
  nftnl_expr* e = nftnl_expr_alloc("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  return e;
}

nftnl_expr* Equal(const void* data, uint32_t len) {
  nftnl_expr* e = nftnl_expr_alloc("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  return e;
}

nftnl_expr* Payload(uint32_t base, uint32_t offset, uint32_t len) {
  nftnl_expr* e = nftnl_expr_alloc("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  return e;
}

nftnl_expr* Update(const SetSpec& set, uint32_t set_id) {
  nftnl_expr* e = nftnl_expr_alloc("dynset");
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
  nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set.name);
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, set_id);
  return e;
}

// `iifname|oifname <iface> [meta ...] <payload> -> update @set`.
void AddRule(Batch* batch, uint32_t iface_key, const std::string& iface,
             const std::vector<nftnl_expr*>& match, const SetSpec& set,
             uint32_t set_id) {
  nftnl_rule* r = nftnl_rule_alloc();
  nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NftCounters::kTable);
  nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, kChain);
  AddExpr(r, Meta(iface_key));
  AddExpr(r, Equal(iface.c_str(), iface.size() + 1));
  for (nftnl_expr* e : match) AddExpr(r, e);
  AddExpr(r, Update(set, set_id));
  nftnl_rule_nlmsg_build_payload(
      batch->Header(NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE), r);
  batch->Next();
  nftnl_rule_free(r);
}

absl::Status Errno(const char* what, int error) {
  std::string message =
      absl::StrCat("nftables ", what, ": ", std::strerror(error));
  if (error == EPERM) {
    return absl::PermissionDeniedError(
        absl::StrCat(message, " (gateway mode needs CAP_NET_ADMIN)"));
  }
  return absl::UnavailableError(message);
}

}  // namespace

struct NftCounters::Rep {
  mnl_socket* socket = nullptr;
  uint32_t port_id = 0;
  uint32_t seq = 1;
  std::vector<char> buffer = std::vector<char>(64 * 1024);

  ~Rep() {
    if (socket != nullptr) mnl_socket_close(socket);
  }

  // Sends `batch` and waits for every message's answer (ACKs on each).
  absl::Status Commit(Batch& batch, const char* what) {
    batch.End();
    seq = batch.next_seq();
    if (mnl_socket_sendto(socket, batch.data(), batch.size()) < 0) {
      return Errno(what, errno);
    }
    int answered = 0;
    int first_error = 0;
    while (answered < batch.messages()) {
      pollfd p = {mnl_socket_get_fd(socket), POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) {
        if (first_error != 0) break;  // an aborted batch answers less
        return absl::DeadlineExceededError(
            absl::StrCat("nftables ", what, ": no answer"));
      }
      const ssize_t n =
          mnl_socket_recvfrom(socket, buffer.data(), buffer.size());
      if (n < 0) return Errno(what, errno);
      int left = static_cast<int>(n);
      for (const nlmsghdr* h = reinterpret_cast<const nlmsghdr*>(buffer.data());
           mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        ++answered;
        const auto* err =
            static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
        if (err->error != 0 && first_error == 0) first_error = -err->error;
      }
      if (first_error != 0) break;
    }
    if (first_error != 0) return Errno(what, first_error);
    return absl::OkStatus();
  }
};

NftCounters::NftCounters(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

NftCounters::~NftCounters() {
  Batch batch(rep_->seq);
  AddTable(&batch, NFT_MSG_DELTABLE, 0, 0);
  (void)rep_->Commit(batch, "delete table");
}

absl::StatusOr<std::unique_ptr<NftCounters>> NftCounters::Create(
    const std::vector<std::string>& lan_interfaces, uint32_t max_elements) {
  auto rep = std::make_unique<Rep>();
  rep->socket = mnl_socket_open(NETLINK_NETFILTER);
  if (rep->socket == nullptr) return Errno("socket", errno);
  if (mnl_socket_bind(rep->socket, 0, MNL_SOCKET_AUTOPID) < 0) {
    return Errno("bind", errno);
  }
  rep->port_id = mnl_socket_get_portid(rep->socket);
  for (const std::string& iface : lan_interfaces) {
    if (iface.empty() || iface.size() >= IFNAMSIZ) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad interface name \"", iface, "\""));
    }
  }

  // A stale table (an older run's, without the owner flag): the usual
  // add-then-delete, which succeeds whether or not it exists. One that a
  // live process owns refuses both.
  {
    Batch batch(rep->seq);
    AddTable(&batch, NFT_MSG_NEWTABLE, NLM_F_CREATE, 0);
    AddTable(&batch, NFT_MSG_DELTABLE, 0, 0);
    absl::Status s = rep->Commit(batch, "replace stale table");
    if (!s.ok()) {
      return absl::Status(s.code(),
                          absl::StrCat(s.message(),
                                       "; is another tcp-info running in this "
                                       "network namespace?"));
    }
  }

  Batch batch(rep->seq);
  AddTable(&batch, NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL,
           NFT_TABLE_F_OWNER);
  uint32_t set_id = 1;
  for (const SetSpec& spec : kSets) {
    nftnl_set* s = nftnl_set_alloc();
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
    nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
    nftnl_set_set_str(s, NFTNL_SET_NAME, spec.name);
    nftnl_set_set_u32(s, NFTNL_SET_ID, set_id++);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, spec.key_type);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, spec.key_len);
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_EVAL);
    nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, max_elements);
    nftnl_set_add_expr(s, nftnl_expr_alloc("counter"));
    nftnl_set_nlmsg_build_payload(
        batch.Header(NFT_MSG_NEWSET, NLM_F_CREATE | NLM_F_EXCL), s);
    batch.Next();
    nftnl_set_free(s);
  }
  {
    nftnl_chain* c = nftnl_chain_alloc();
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, kTable);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, kChain);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, kPriority);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    nftnl_chain_nlmsg_build_payload(
        batch.Header(NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL), c);
    batch.Next();
    nftnl_chain_free(c);
  }
  const uint16_t ether = ARPHRD_ETHER;
  const uint8_t ipv4 = NFPROTO_IPV4, ipv6 = NFPROTO_IPV6;
  for (const std::string& iface : lan_interfaces) {
    // Upload: iifname <lan> meta iiftype ether ether saddr -> @mac_up.
    AddRule(&batch, NFT_META_IIFNAME, iface,
            {Meta(NFT_META_IIFTYPE), Equal(&ether, sizeof(ether)),
             Payload(NFT_PAYLOAD_LL_HEADER, 6, 6)},
            kSets[0], 1);
    // Download: oifname <lan> meta nfproto ipv4 ip daddr -> @addr4_down,
    // and the same for IPv6.
    AddRule(&batch, NFT_META_OIFNAME, iface,
            {Meta(NFT_META_NFPROTO), Equal(&ipv4, sizeof(ipv4)),
             Payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4)},
            kSets[1], 2);
    AddRule(&batch, NFT_META_OIFNAME, iface,
            {Meta(NFT_META_NFPROTO), Equal(&ipv6, sizeof(ipv6)),
             Payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16)},
            kSets[2], 3);
  }
  if (absl::Status s = rep->Commit(batch, "create table"); !s.ok()) return s;
  return std::unique_ptr<NftCounters>(new NftCounters(std::move(rep)));
}

namespace {

struct ReadContext {
  NftCount::Key key;
  std::vector<NftCount>* out;
};

int OnExpr(nftnl_expr* e, void* data) {
  auto* count = static_cast<NftCount*>(data);
  const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  if (name != nullptr && std::strcmp(name, "counter") == 0) {
    count->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
    count->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
  }
  return 0;
}

int OnElement(nftnl_set_elem* e, void* data) {
  auto* context = static_cast<ReadContext*>(data);
  NftCount count;
  count.key = context->key;
  uint32_t len = 0;
  const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
  if (key == nullptr || len > sizeof(count.bytes_of_key)) return 0;
  std::memcpy(count.bytes_of_key, key, len);
  nftnl_set_elem_expr_foreach(e, OnExpr, &count);
  context->out->push_back(count);
  return 0;
}

int OnElementsMessage(const nlmsghdr* h, void* data) {
  nftnl_set* s = nftnl_set_alloc();
  if (nftnl_set_elems_nlmsg_parse(h, s) >= 0) {
    nftnl_set_elem_foreach(s, OnElement, data);
  }
  nftnl_set_free(s);
  return MNL_CB_OK;
}

}  // namespace

absl::Status NftCounters::Read(std::vector<NftCount>* out) {
  out->clear();
  for (const SetSpec& spec : kSets) {
    nftnl_set* s = nftnl_set_alloc();
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
    nftnl_set_set_str(s, NFTNL_SET_TABLE, kTable);
    nftnl_set_set_str(s, NFTNL_SET_NAME, spec.name);
    const uint32_t seq = rep_->seq++;
    nlmsghdr* h =
        nftnl_nlmsg_build_hdr(rep_->buffer.data(), NFT_MSG_GETSETELEM,
                              NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, seq);
    nftnl_set_elems_nlmsg_build_payload(h, s);
    nftnl_set_free(s);
    if (mnl_socket_sendto(rep_->socket, h, h->nlmsg_len) < 0) {
      return Errno("read counters", errno);
    }
    ReadContext context{spec.key, out};
    int rc;
    do {
      pollfd p = {mnl_socket_get_fd(rep_->socket), POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) {
        return absl::DeadlineExceededError("nftables read counters: no answer");
      }
      const ssize_t n = mnl_socket_recvfrom(rep_->socket, rep_->buffer.data(),
                                            rep_->buffer.size());
      if (n < 0) return Errno("read counters", errno);
      rc = mnl_cb_run(rep_->buffer.data(), n, seq, rep_->port_id,
                      OnElementsMessage, &context);
    } while (rc > 0);
    if (rc < 0) return Errno("read counters", errno);
  }
  return absl::OkStatus();
}

}  // namespace gateway
