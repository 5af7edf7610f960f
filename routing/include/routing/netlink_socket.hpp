#pragma once

// netlink::Socket: one NETLINK_ROUTE socket (libmnl), non-blocking and
// close-on-exec, driven by the caller's io_context through async_wait on a
// posix::stream_descriptor. It owns the fd, the sequence numbers and the
// receive buffer; it knows the framing (batches, ACKs, dumps) but not what the
// messages mean (netlink_message.hpp) nor what the caller does with them.
//
// Two uses:
//   - requests (NetlinkRouteTable, NetlinkOverlayTable): many messages per
//     sendmsg, one ACK matched to each message by sequence number (transact),
//     dumps until NLMSG_DONE and single GETs (request). One conversation at a
//     time; concurrent callers queue on a common::AsyncMutex.
//   - events (NetlinkChangeMonitor): joined to multicast groups, drained in
//     bursts; ENOBUFS (events lost) is reported, not hidden.
//
// The constructor throws std::system_error naming the step that failed
// (start-up); the coroutines return error codes.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "common/async_mutex.hpp"
#include "routing/netlink_message.hpp"
#include "routing/netlink_table_options.hpp"

struct mnl_socket;

namespace hostgw::routing::netlink {

// A positive errno as an error code (system category).
inline std::error_code errno_code(int value) { return {value, std::system_category()}; }

struct SocketOptions {
  // RTNLGRP_* multicast groups to join (events); empty for a request socket.
  std::vector<unsigned> groups;
  // SO_RCVBUF in bytes (SO_RCVBUFFORCE first, which needs CAP_NET_ADMIN and
  // passes net.core.rmem_max). 0 keeps the kernel default.
  int receive_buffer = 0;
  // SO_SNDBUF, the same way: bounds the bytes of one sendmsg.
  int send_buffer = 0;
  // How long one request may wait for its answers (-> ETIMEDOUT).
  std::chrono::milliseconds timeout{5000};
};

// The answer to one message of a batch.
struct MessageResult {
  int error = 0;        // positive errno; 0 on success
  std::string message;  // the kernel's extended-ACK text, if any
};

// One message visited during a dump or an event burst.
using MessageVisitor = std::function<void(const MessageHeader& header, std::span<const std::uint8_t> message)>;

class Socket {
 public:
  Socket(boost::asio::any_io_executor executor, SocketOptions options);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // The port id the kernel gave this socket (nlmsg_pid of echoes of our changes).
  std::uint32_t port_id() const { return port_id_; }
  // The kernel's SO_RCVBUF after the constructor set it (twice what was asked).
  int receive_buffer_size() const { return receive_buffer_size_; }
  int send_buffer_size() const { return send_buffer_size_; }
  // Whether the kernel accepted NETLINK_GET_STRICT_CHK / NETLINK_EXT_ACK.
  bool strict_checking() const { return strict_checking_; }
  bool extended_acks() const { return extended_acks_; }
  // How many messages one window of a batch may carry so that their ACKs fit
  // in the receive buffer.
  std::size_t window() const { return window_; }

  // Reserves `count` consecutive sequence numbers and returns the first. Never
  // 0 (notifications use 0); wraps to 1 before a range would overflow.
  std::uint32_t reserve_sequence(std::size_t count);

  // Sends the messages in `batch` (concatenated; message i is
  // batch[ends[i-1], ends[i]) and carries NLM_F_ACK and sequence first_seq + i)
  // in windows of at most window() messages and send_buffer bytes, and returns
  // one result per message. A message without an answer within the timeout
  // gets ETIMEDOUT; one whose ACK was lost to an overrun gets ENOBUFS.
  boost::asio::awaitable<std::vector<MessageResult>> transact(std::span<const std::uint8_t> batch,
                                                              std::span<const std::size_t> ends,
                                                              std::uint32_t first_seq);

  // Sends `request` (sequence `seq`) and calls `visit` for every reply
  // message: for an NLM_F_DUMP request until NLMSG_DONE, otherwise for its
  // one reply (a GET answered with the object). Returns the error the kernel
  // answered (an NLMSG_ERROR reply), a receive error, EMSGSIZE for a reply
  // larger than the receive slot, or ETIMEDOUT. `interrupted`, if given, is
  // set when a reply carried NLM_F_DUMP_INTR (the table changed during the
  // dump: dump again).
  boost::asio::awaitable<std::error_code> request(std::span<const std::uint8_t> request, std::uint32_t seq,
                                                  const MessageVisitor& visit, bool* interrupted = nullptr);

  // Events: waits (without deadline) until the socket is readable, then
  // reads every datagram already queued and calls `visit` per message.
  // Returns ENOBUFS if the kernel dropped messages since the last call
  // (the queue is still drained), or another receive error.
  boost::asio::awaitable<std::error_code> receive_burst(const MessageVisitor& visit);

  // Sends one message without waiting for anything (a dump request on the
  // event socket). Returns the send error.
  std::error_code send(std::span<const std::uint8_t> message);

  // Changes SO_RCVBUF after construction (tests shrink it to provoke ENOBUFS).
  std::error_code set_receive_buffer(int bytes);

 private:
  struct Datagram {
    std::span<const std::uint8_t> bytes;
    bool truncated = false;
  };
  // Reads up to the buffer's worth of queued datagrams without blocking.
  // Returns EAGAIN when none is queued.
  std::error_code receive_now(std::size_t slot_size, std::vector<Datagram>& out);
  // Waits until readable or until `deadline`; false on timeout/cancel.
  boost::asio::awaitable<bool> wait_readable(std::chrono::steady_clock::time_point deadline);
  std::error_code send_raw(const std::uint8_t* data, std::size_t size);

  std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> socket_;
  boost::asio::posix::stream_descriptor descriptor_;
  boost::asio::steady_timer timer_;
  // One conversation on the socket at a time (requests queue).
  common::AsyncMutex conversation_;
  SocketOptions options_;
  // Not value-initialised: 256 KiB of zeros would be resident from the start
  // on each of the three sockets; only the pages recvmmsg() writes are.
  std::unique_ptr<std::uint8_t[]> receive_buffer_;
  std::uint32_t port_id_ = 0;
  std::uint32_t next_seq_ = 1;
  int receive_buffer_size_ = 0;
  int send_buffer_size_ = 0;
  std::size_t window_ = 64;
  bool strict_checking_ = false;
  bool extended_acks_ = false;
};

// The request socket of a netlink table (no multicast groups), sized and
// timed as `options` says. Throws std::system_error like the constructor.
std::unique_ptr<Socket> open_request_socket(boost::asio::any_io_executor executor, const NetlinkTableOptions& options);

// One consistent dump: sends the request `request(seq)` builds and hands every
// reply message to `visit` (false = it did not parse), repeating the whole
// dump while the kernel flags it NLM_F_DUMP_INTR (the table changed under it),
// at most `attempts` times; `restart` drops what the previous attempt
// gathered. Returns the kernel's or the socket's error, EBADMSG if a reply
// did not parse, EAGAIN if every attempt was interrupted. Callers pass named
// locals: GCC 12 may destroy a temporary bound to a coroutine's reference
// parameter twice.
using RequestBuilder = std::function<std::vector<std::uint8_t>(std::uint32_t seq)>;
using DumpVisitor = std::function<bool(const MessageHeader& header, std::span<const std::uint8_t> message)>;
boost::asio::awaitable<std::error_code> consistent_dump(Socket& socket, int attempts, const RequestBuilder& request,
                                                        const std::function<void()>& restart,
                                                        const DumpVisitor& visit);

// One acknowledged batch: every change `check(change)` accepts (an empty
// text) is encoded by `append(batch, change, seq)` and sent; a refused one
// gets EINVAL with the text and is not sent. One Result (a struct with
// `change`, `error`, `message`) per change, in order; a failed message never
// stops the others. Arguments by value: they live in the coroutine frame.
template <typename Result, typename Change, typename Check, typename Append>
boost::asio::awaitable<std::vector<Result>> checked_batch(Socket& socket, std::vector<Change> changes, Check check,
                                                          Append append) {
  // The changes move into their results at once, and their own vector is
  // freed: one copy of a first pass's 5000 routes alive, not two (~0.5 MB).
  std::vector<Result> results(changes.size());
  for (std::size_t i = 0; i < changes.size(); ++i) results[i].change = std::move(changes[i]);
  std::vector<Change>().swap(changes);
  std::vector<std::size_t> sent;  // indexes of the changes that go out
  sent.reserve(results.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (std::string problem = check(results[i].change); !problem.empty()) {
      results[i].error = EINVAL;
      results[i].message = std::move(problem);
    } else {
      sent.push_back(i);
    }
  }
  if (sent.empty()) co_return results;

  std::vector<std::uint8_t> batch;
  batch.reserve(sent.size() * 80);
  std::vector<std::size_t> ends;
  ends.reserve(sent.size());
  const std::uint32_t first_seq = socket.reserve_sequence(sent.size());
  for (std::size_t n = 0; n < sent.size(); ++n) {
    append(batch, results[sent[n]].change, first_seq + static_cast<std::uint32_t>(n));
    ends.push_back(batch.size());
  }
  std::vector<MessageResult> answers = co_await socket.transact(batch, ends, first_seq);
  for (std::size_t n = 0; n < sent.size(); ++n) {
    results[sent[n]].error = answers[n].error;
    results[sent[n]].message = std::move(answers[n].message);
  }
  co_return results;
}

}  // namespace hostgw::routing::netlink
