#include "routing/netlink_socket.hpp"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <limits>

namespace hostgw::routing::netlink {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// Receive slots: an ACK or event datagram is small (an RTM_NEWLINK with stats
// is the largest, a few KiB); a dump datagram is at most 32 KiB (the kernel
// sizes dump skbs after the reader's buffer, capped at 32 KiB).
constexpr std::size_t kSmallSlot = 8 * 1024;
// Event datagrams: RTM_NEWLINK notifications carry statistics and per-family
// data (no VF lists), a few KiB; 16 KiB leaves room. A truncated event counts
// as a lost one (resync).
constexpr std::size_t kEventSlot = 16 * 1024;
constexpr std::size_t kDumpSlot = 32 * 1024;
constexpr std::size_t kReceiveBufferBytes = 256 * 1024;
constexpr std::size_t kMaxSlots = kReceiveBufferBytes / kSmallSlot;
// Receive-buffer space one queued ACK takes (skb truesize), with margin.
constexpr std::size_t kBytesPerAck = 1024;
// An event burst returns after this many datagrams even if more are queued,
// so a flood cannot starve the caller.
constexpr std::size_t kMaxBurstDatagrams = 4096;

[[noreturn]] void throw_errno(int value, const std::string& what) {
  throw std::system_error(errno_code(value), "netlink socket: " + what);
}

bool set_flag(mnl_socket* socket, int option) {
  int one = 1;
  return mnl_socket_setsockopt(socket, option, &one, sizeof one) == 0;
}

// SO_*BUFFORCE (CAP_NET_ADMIN, ignores net.core.[rw]mem_max), else the capped one.
int set_buffer(int fd, int force_option, int option, int bytes) {
  if (bytes > 0 && setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0) {
    if (setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes) != 0) return -1;
  }
  int actual = 0;
  socklen_t length = sizeof actual;
  getsockopt(fd, SOL_SOCKET, option, &actual, &length);
  return actual;
}

}  // namespace

Socket::Socket(asio::any_io_executor executor, SocketOptions options)
    : socket_(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK), &mnl_socket_close),
      descriptor_(executor),
      timer_(executor),
      conversation_(executor),
      options_(std::move(options)),
      receive_buffer_(std::make_unique_for_overwrite<std::uint8_t[]>(kReceiveBufferBytes)) {
  if (!socket_) throw_errno(errno, "cannot open a NETLINK_ROUTE socket");
  mnl_socket* socket = socket_.get();
  const int fd = mnl_socket_get_fd(socket);

  // Each optional: a kernel without them still works, with less detail.
  set_flag(socket, NETLINK_CAP_ACK);  // ACKs do not echo the whole request
  extended_acks_ = set_flag(socket, NETLINK_EXT_ACK);
  strict_checking_ = set_flag(socket, NETLINK_GET_STRICT_CHK);

  receive_buffer_size_ = set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, options_.receive_buffer);
  if (receive_buffer_size_ < 0)
    throw_errno(errno, "cannot set SO_RCVBUF to " + std::to_string(options_.receive_buffer));
  send_buffer_size_ = set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, options_.send_buffer);
  if (send_buffer_size_ < 0) throw_errno(errno, "cannot set SO_SNDBUF to " + std::to_string(options_.send_buffer));
  window_ = std::clamp<std::size_t>(static_cast<std::size_t>(receive_buffer_size_) / kBytesPerAck, 8, 65536);

  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) != 0) throw_errno(errno, "cannot bind");
  port_id_ = mnl_socket_get_portid(socket);
  for (unsigned group : options_.groups) {
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
      throw_errno(errno, "cannot join multicast group " + std::to_string(group));
    }
  }
  descriptor_.assign(fd);
}

Socket::~Socket() {
  // The mnl_socket closes the fd; the descriptor must not close it again.
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
  descriptor_.release();
}

std::uint32_t Socket::reserve_sequence(std::size_t count) {
  if (count >= std::numeric_limits<std::uint32_t>::max() / 2) count = std::numeric_limits<std::uint32_t>::max() / 2;
  if (next_seq_ == 0 || next_seq_ > std::numeric_limits<std::uint32_t>::max() - count) next_seq_ = 1;
  std::uint32_t first = next_seq_;
  next_seq_ += static_cast<std::uint32_t>(count);
  return first;
}

std::error_code Socket::set_receive_buffer(int bytes) {
  const int fd = mnl_socket_get_fd(socket_.get());
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0) return errno_code(errno);
  int actual = 0;
  socklen_t length = sizeof actual;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &length);
  receive_buffer_size_ = actual;
  window_ = std::clamp<std::size_t>(static_cast<std::size_t>(actual) / kBytesPerAck, 8, 65536);
  return {};
}

std::error_code Socket::send_raw(const std::uint8_t* data, std::size_t size) {
  for (;;) {
    ssize_t sent = mnl_socket_sendto(socket_.get(), data, size);
    if (sent >= 0) return {};
    if (errno == EINTR) continue;
    return errno_code(errno);
  }
}

std::error_code Socket::send(std::span<const std::uint8_t> message) {
  return send_raw(message.data(), message.size());
}

std::error_code Socket::receive_now(std::size_t slot_size, std::vector<Datagram>& out) {
  out.clear();
  const std::size_t slots = std::min(kMaxSlots, kReceiveBufferBytes / slot_size);
  mmsghdr headers[kMaxSlots] = {};
  iovec vectors[kMaxSlots];
  sockaddr_nl senders[kMaxSlots];
  for (std::size_t i = 0; i < slots; ++i) {
    vectors[i] = {receive_buffer_.get() + i * slot_size, slot_size};
    headers[i].msg_hdr.msg_iov = &vectors[i];
    headers[i].msg_hdr.msg_iovlen = 1;
    headers[i].msg_hdr.msg_name = &senders[i];
    headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
  }
  int received;
  do {
    received = recvmmsg(mnl_socket_get_fd(socket_.get()), headers, static_cast<unsigned>(slots), MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return errno_code(errno == EWOULDBLOCK ? EAGAIN : errno);
  for (int i = 0; i < received; ++i) {
    // Only the kernel (port 0) speaks to us; anything else is ignored.
    if (senders[i].nl_pid != 0) continue;
    const bool truncated = (headers[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    out.push_back({std::span<const std::uint8_t>(receive_buffer_.get() + i * slot_size,
                                                 std::min<std::size_t>(headers[i].msg_len, slot_size)),
                   truncated});
  }
  return {};
}

asio::awaitable<bool> Socket::wait_readable(std::chrono::steady_clock::time_point deadline) {
  timer_.expires_at(deadline);
  auto result = co_await (
      descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, asio::as_tuple(asio::use_awaitable)) ||
      timer_.async_wait(asio::as_tuple(asio::use_awaitable)));
  co_return result.index() == 0 && !std::get<0>(std::get<0>(result));
}

asio::awaitable<std::vector<MessageResult>> Socket::transact(std::span<const std::uint8_t> batch,
                                                             std::span<const std::size_t> ends,
                                                             std::uint32_t first_seq) {
  common::AsyncMutex::Guard guard = co_await conversation_.lock();

  const std::size_t count = ends.size();
  std::vector<MessageResult> results(count);
  std::vector<bool> answered(count, false);
  std::vector<Datagram> datagrams;
  // The kernel refuses a sendmsg larger than the send buffer minus a little.
  const std::size_t max_bytes = send_buffer_size_ > 256 ? static_cast<std::size_t>(send_buffer_size_) - 128 : 4096;

  std::size_t begin = 0;
  while (begin < count) {
    const std::size_t begin_byte = begin == 0 ? 0 : ends[begin - 1];
    std::size_t end = begin + 1;
    while (end < count && end - begin < window_ && ends[end] - begin_byte <= max_bytes) ++end;
    const std::size_t end_byte = ends[end - 1];

    if (std::error_code error = send_raw(batch.data() + begin_byte, end_byte - begin_byte)) {
      for (std::size_t i = begin; i < end; ++i) results[i] = {error.value(), "sendmsg failed: " + error.message()};
      begin = end;
      continue;
    }

    const std::uint32_t window_first = first_seq + static_cast<std::uint32_t>(begin);
    const std::uint32_t window_end = first_seq + static_cast<std::uint32_t>(end);
    const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    std::size_t pending = end - begin;
    bool overrun = false;
    std::error_code failure;
    while (pending > 0) {
      std::error_code error = receive_now(kSmallSlot, datagrams);
      if (error == std::errc::resource_unavailable_try_again) {
        if (overrun) break;  // drained: the missing ACKs were dropped
        if (!co_await wait_readable(deadline)) break;
        continue;
      }
      if (error.value() == ENOBUFS) {
        overrun = true;
        continue;
      }
      if (error) {
        failure = error;
        break;
      }
      for (const Datagram& datagram : datagrams) {
        for_each_message(datagram.bytes, [&](const MessageHeader& header, std::span<const std::uint8_t> message) {
          if (header.type != NLMSG_ERROR) return;
          auto ack = parse_ack(message);
          if (!ack || ack->acked_seq < window_first || ack->acked_seq >= window_end) return;  // stale or foreign
          const std::size_t index = ack->acked_seq - first_seq;
          if (answered[index]) return;
          answered[index] = true;
          results[index] = {ack->error, std::move(ack->message)};
          --pending;
        });
      }
    }
    if (pending > 0) {
      for (std::size_t i = begin; i < end; ++i) {
        if (answered[i]) continue;
        if (failure) {
          results[i] = {failure.value(), "receiving the acknowledgement failed: " + failure.message()};
        } else if (overrun) {
          results[i] = {ENOBUFS,
                        "acknowledgement lost (netlink receive buffer overrun); state unknown until the next dump"};
        } else {
          results[i] = {ETIMEDOUT, "no acknowledgement from the kernel within " +
                                       std::to_string(options_.timeout.count()) + " ms"};
        }
      }
    }
    begin = end;
  }
  co_return results;
}

namespace {

// Reads the replies to one request until its conversation ends.
struct Conversation {
  std::uint32_t seq;
  std::uint32_t port;
  bool dump;  // NLM_F_DUMP: until NLMSG_DONE; else one reply
  const MessageVisitor& visit;
  bool interrupted = false;
  bool done = false;
  std::error_code error;

  void take(const MessageHeader& header, std::span<const std::uint8_t> message) {
    if (done || header.seq != seq || (header.port != port && header.port != 0)) return;
    if (header.flags & NLM_F_DUMP_INTR) interrupted = true;
    if (header.type == NLMSG_DONE || header.type == NLMSG_ERROR) {
      auto ack = parse_ack(message);
      if (ack && ack->error != 0) error = errno_code(ack->error);
      if (!ack) error = errno_code(EBADMSG);
      // An NLMSG_ERROR with error 0 (an ACK) also ends a conversation.
      done = true;
      return;
    }
    if (header.type == NLMSG_NOOP) return;
    visit(header, message);
    if (!dump) done = true;
  }
};

}  // namespace

asio::awaitable<std::error_code> Socket::request(std::span<const std::uint8_t> request, std::uint32_t seq,
                                                 const MessageVisitor& visit, bool* interrupted) {
  common::AsyncMutex::Guard guard = co_await conversation_.lock();
  if (interrupted) *interrupted = false;
  auto header = parse_header(request);
  if (!header) co_return errno_code(EINVAL);
  if (std::error_code error = send_raw(request.data(), request.size())) co_return error;
  Conversation conversation{seq, port_id_, (header->flags & NLM_F_DUMP) == NLM_F_DUMP, visit, false, false, {}};
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  std::vector<Datagram> datagrams;
  while (!conversation.done) {
    std::error_code error = receive_now(kDumpSlot, datagrams);
    if (error == std::errc::resource_unavailable_try_again) {
      if (!co_await wait_readable(deadline)) co_return errno_code(ETIMEDOUT);
      continue;
    }
    if (error) co_return error;
    for (const Datagram& datagram : datagrams) {
      if (datagram.truncated) co_return errno_code(EMSGSIZE);
      for_each_message(datagram.bytes, [&](const MessageHeader& header, std::span<const std::uint8_t> message) {
        conversation.take(header, message);
      });
    }
  }
  if (interrupted) *interrupted = conversation.interrupted;
  co_return conversation.error;
}

asio::awaitable<std::error_code> Socket::receive_burst(const MessageVisitor& visit) {
  std::vector<Datagram> datagrams;
  bool overrun = false;
  std::size_t seen = 0;
  for (;;) {
    std::error_code error = receive_now(kEventSlot, datagrams);
    if (error == std::errc::resource_unavailable_try_again) {
      if (seen > 0 || overrun) break;
      auto [wait_error] = co_await descriptor_.async_wait(asio::posix::stream_descriptor::wait_read,
                                                          asio::as_tuple(asio::use_awaitable));
      if (wait_error) co_return std::error_code(wait_error.value(), std::system_category());
      continue;
    }
    if (error.value() == ENOBUFS) {
      overrun = true;
      continue;
    }
    if (error) co_return error;
    for (const Datagram& datagram : datagrams) {
      ++seen;
      // A truncated event lost its tail: as good as a dropped one.
      if (datagram.truncated) overrun = true;
      for_each_message(datagram.bytes, visit);
    }
    if (seen >= kMaxBurstDatagrams) break;
  }
  co_return overrun ? errno_code(ENOBUFS) : std::error_code();
}

std::unique_ptr<Socket> open_request_socket(asio::any_io_executor executor, const NetlinkTableOptions& options) {
  return std::make_unique<Socket>(std::move(executor),
                                  SocketOptions{{}, options.receive_buffer, options.send_buffer, options.timeout});
}

asio::awaitable<std::error_code> consistent_dump(Socket& socket, int attempts, const RequestBuilder& request,
                                                 const std::function<void()>& restart, const DumpVisitor& visit) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    restart();
    const std::uint32_t seq = socket.reserve_sequence(1);
    const std::vector<std::uint8_t> bytes = request(seq);
    bool malformed = false;
    bool interrupted = false;
    const MessageVisitor gather = [&](const MessageHeader& header, std::span<const std::uint8_t> message) {
      if (!visit(header, message)) malformed = true;
    };
    std::error_code error = co_await socket.request(bytes, seq, gather, &interrupted);
    if (error) co_return error;
    if (malformed) co_return errno_code(EBADMSG);
    if (!interrupted) co_return std::error_code();
  }
  co_return errno_code(EAGAIN);
}

}  // namespace hostgw::routing::netlink
