#pragma once

// NftElementSocket: the fast path of an element update. Adds and deletes
// addresses in our plain (not interval) sets, node-addresses-v4/-v6, with
// nf_tables' own netlink messages on one NETLINK_NETFILTER socket kept open for
// the life of the process.
//
// Why not libnftables for this too: a libnftables context fetches the set
// into its cache before it writes an element, and each context has its own
// netlink socket. Closing a socket that committed an nf_tables transaction
// waits for the kernel's deferred destruction of that transaction (an RCU
// grace period: 5-15 ms after an element delete on a 2-core VM), on the
// controller's loop thread; adding an element cost ~0.3 ms (the context and
// its cache). This path takes ~2 us an element (1000 adds into a 5000-element
// set, docs/masquerade.md) and never closes its socket.
//
// One batch is one nf_tables transaction (all of it applies or none of it):
// NFNL_MSG_BATCH_BEGIN, one DELSETELEM or NEWSETELEM per element (deletes
// first), NFNL_MSG_BATCH_END. The kernel runs a batch inside sendmsg() and
// queues its answers before it returns: an error for each refused element,
// and the ACK the last element message asks for. Only our table's
// address sets are written; an update that touches an interval set, or
// refills a set, is not encodable here and stays with libnftables.
//
// Synchronous (the kernel answers within the send); not thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "netfilter/masquerade_table.hpp"

struct mnl_socket;

namespace hostgw::netfilter {

// More elements than this go through libnftables: a batch this size is ~100 KB,
// under the socket's default send buffer, and only a full pass after many
// node changes writes more at once.
inline constexpr std::size_t kMaxBatchElements = 1024;

struct ElementBatch {
  std::vector<std::uint8_t> bytes;  // the datagram: begin, one message per element, end
  std::uint32_t first_seq = 0;      // the begin message's; element i has first_seq + 1 + i
  // Per element message, for errors: "delete element inet kube-hostgw node-addresses-v4 { 198.51.100.7 }".
  std::vector<std::string> commands;

  std::uint32_t last_seq() const { return first_seq + static_cast<std::uint32_t>(commands.size()); }
};

// `update` as one batch, or nullopt when this path does not write it: a set
// other than node-addresses-v4/-v6, a refill, no element at all, more than
// kMaxBatchElements, or an element that is not an address of its set's
// family (libnftables then reports what is wrong with it).
std::optional<ElementBatch> encode_element_batch(const MasqueradeUpdate& update, std::uint32_t first_seq);

// The kernel's answers to one batch, datagram by datagram.
class BatchAnswers {
 public:
  explicit BatchAnswers(const ElementBatch& batch) : batch_(batch) {}

  // Reads every message of `datagram`; answers to other sequence numbers are ignored.
  void feed(std::span<const std::uint8_t> datagram);
  // True once the last element's ACK or any error has been read (the kernel
  // queues every error of a batch before that ACK).
  bool complete() const { return last_acked_ || !errors_.empty(); }
  bool last_acked() const { return last_acked_; }
  // ok, or the first refused element and why: "delete element inet kube-hostgw
  // node-addresses-v4 { 198.51.100.7 }: No such file or directory" (with the
  // kernel's extended ACK message when it gave one), and how many more failed.
  NftResult result() const;

 private:
  const ElementBatch& batch_;
  bool last_acked_ = false;
  std::vector<std::string> errors_;
};

class NftElementSocket {
 public:
  // Opens and binds the socket in the calling thread's network namespace.
  // Throws std::system_error (no nfnetlink in this kernel, say).
  NftElementSocket();
  ~NftElementSocket();
  NftElementSocket(const NftElementSocket&) = delete;
  NftElementSocket& operator=(const NftElementSocket&) = delete;

  // Writes `update` as one transaction; nullopt when encode_element_batch()
  // does not take it (the caller uses libnftables). A socket error is a
  // failed result, and the next call opens a fresh socket.
  std::optional<NftResult> write(const MasqueradeUpdate& update);

 private:
  NftResult exchange(const ElementBatch& batch);

  mnl_socket* socket_ = nullptr;  // null after a socket error, until the next write
  std::uint32_t next_seq_ = 1;
  std::vector<std::uint8_t> receive_buffer_;
};

}  // namespace hostgw::netfilter
