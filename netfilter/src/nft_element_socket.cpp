#include "netfilter/nft_element_socket.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "routing/ip.hpp"

namespace hostgw::netfilter {

namespace {

// Room for one element message: header, nfgenmsg, table and set names, the
// nested key with up to 16 bytes (~100 bytes in all).
constexpr std::size_t kMessageRoom = 160;
constexpr std::size_t kSocketBufferBytes = 1 << 20;
// The kernel answers within sendmsg(); this only bounds a kernel that does not.
constexpr std::chrono::seconds kAnswerTimeout{2};

nlmsghdr* put_header(std::uint8_t* at, std::uint16_t type, std::uint16_t flags, std::uint32_t seq, std::uint8_t family,
                     std::uint16_t resource) {
  nlmsghdr* header = mnl_nlmsg_put_header(at);
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST | flags;
  header->nlmsg_seq = seq;
  auto* generic = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(header, sizeof(nfgenmsg)));
  generic->nfgen_family = family;
  generic->version = NFNETLINK_V0;
  generic->res_id = htons(resource);
  return header;
}

std::string errno_text(int error) {
  return std::error_code(error, std::generic_category()).message();
}

}  // namespace

std::optional<ElementBatch> encode_element_batch(const MasqueradeUpdate& update, std::uint32_t first_seq) {
  struct Element {
    std::string_view set;
    bool add;
    routing::IpAddress address;
    const std::string* text;
  };
  std::size_t count = 0;
  for (const auto& change : update.sets) {
    if (!node_address_set_family(change.set) || change.replace_all) return std::nullopt;
    count += change.add.size() + change.remove.size();
  }
  if (count == 0 || count > kMaxBatchElements) return std::nullopt;
  std::vector<Element> elements;
  elements.reserve(count);
  // Deletes before adds, as render_update_script() orders them.
  for (bool add : {false, true}) {
    for (const auto& change : update.sets) {
      const routing::Family family = *node_address_set_family(change.set);
      for (const std::string& text : add ? change.add : change.remove) {
        auto address = routing::IpAddress::try_parse(text);
        if (!address || address->family() != family) return std::nullopt;
        elements.push_back({change.set, add, *address, &text});
      }
    }
  }

  ElementBatch batch;
  batch.first_seq = first_seq;
  batch.bytes.resize((elements.size() + 2) * kMessageRoom);
  std::size_t used = 0;
  auto append = [&](nlmsghdr* header) { used += header->nlmsg_len; };

  append(put_header(batch.bytes.data(), NFNL_MSG_BATCH_BEGIN, 0, first_seq, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
  std::uint32_t seq = first_seq;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const Element& element = elements[i];
    const bool last = i + 1 == elements.size();
    const std::uint16_t type = (NFNL_SUBSYS_NFTABLES << 8) | (element.add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    // Adding an element that is there already is not an error (no
    // NLM_F_EXCL), as with nft's `add element`; deleting one that is not
    // there is (ENOENT), as with nft's `delete element`.
    std::uint16_t flags = element.add ? NLM_F_CREATE : 0;
    if (last) flags |= NLM_F_ACK;
    nlmsghdr* header = put_header(batch.bytes.data() + used, type, flags, ++seq, NFPROTO_INET, 0);
    mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_TABLE, std::string(kTableName).c_str());
    mnl_attr_put_strz(header, NFTA_SET_ELEM_LIST_SET, std::string(element.set).c_str());
    nlattr* list = mnl_attr_nest_start(header, NFTA_SET_ELEM_LIST_ELEMENTS);
    nlattr* item = mnl_attr_nest_start(header, NFTA_LIST_ELEM);
    nlattr* key = mnl_attr_nest_start(header, NFTA_SET_ELEM_KEY);
    mnl_attr_put(header, NFTA_DATA_VALUE, element.address.size(), element.address.data());
    mnl_attr_nest_end(header, key);
    mnl_attr_nest_end(header, item);
    mnl_attr_nest_end(header, list);
    append(header);
    batch.commands.push_back(std::string(element.add ? "add" : "delete") + " element " + qualified_set(element.set) +
                             " { " + *element.text + " }");
  }
  append(put_header(batch.bytes.data() + used, NFNL_MSG_BATCH_END, 0, ++seq, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
  batch.bytes.resize(used);
  return batch;
}

void BatchAnswers::feed(std::span<const std::uint8_t> datagram) {
  const std::uint32_t first = batch_.first_seq;
  const std::uint32_t last = batch_.last_seq();
  std::size_t offset = 0;
  while (datagram.size() - offset >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, datagram.data() + offset, sizeof header);
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > datagram.size() - offset) return;
    const std::span<const std::uint8_t> message = datagram.subspan(offset, header.nlmsg_len);
    offset += std::min<std::size_t>(NLMSG_ALIGN(header.nlmsg_len), datagram.size() - offset);
    if (header.nlmsg_type != NLMSG_ERROR || message.size() < NLMSG_HDRLEN + sizeof(nlmsgerr)) continue;
    if (header.nlmsg_seq < first || header.nlmsg_seq > last) continue;
    nlmsgerr answer;
    std::memcpy(&answer, message.data() + NLMSG_HDRLEN, sizeof answer);
    if (answer.error == 0) {
      if (header.nlmsg_seq == last) last_acked_ = true;
      continue;
    }
    // The begin message itself refused (no nf_tables batches here): the whole batch.
    std::string what =
        header.nlmsg_seq == first ? std::string("nf_tables batch") : batch_.commands[header.nlmsg_seq - first - 1];
    what += ": " + errno_text(-answer.error);
    // Extended ACK: the kernel's own words, after the request it echoes
    // (all of it, or only its header with NETLINK_CAP_ACK).
    if (header.nlmsg_flags & NLM_F_ACK_TLVS) {
      std::size_t tlv = NLMSG_HDRLEN + sizeof(nlmsgerr);
      if (!(header.nlmsg_flags & NLM_F_CAPPED)) tlv += NLMSG_ALIGN(answer.msg.nlmsg_len) - sizeof(nlmsghdr);
      while (tlv + sizeof(nlattr) <= message.size()) {
        nlattr attribute;
        std::memcpy(&attribute, message.data() + tlv, sizeof attribute);
        if (attribute.nla_len < sizeof(nlattr) || tlv + attribute.nla_len > message.size()) break;
        if ((attribute.nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
          std::string text(reinterpret_cast<const char*>(message.data() + tlv + sizeof(nlattr)),
                           attribute.nla_len - sizeof(nlattr));
          if (auto nul = text.find('\0'); nul != std::string::npos) text.resize(nul);
          if (!text.empty()) what += " (" + text + ")";
        }
        tlv += NLMSG_ALIGN(attribute.nla_len);
      }
    }
    errors_.push_back(std::move(what));
  }
}

NftResult BatchAnswers::result() const {
  NftResult result;
  if (!errors_.empty()) {
    result.ok = false;
    result.error = errors_.front();
    if (errors_.size() > 1) result.error += " (and " + std::to_string(errors_.size() - 1) + " more elements refused)";
    result.error += "; nothing of the batch applied";
  } else if (!last_acked_) {
    result.ok = false;
    result.error = "nf_tables did not answer the batch";
  }
  return result;
}

namespace {

// A NETLINK_NETFILTER socket, bound, in the calling thread's network
// namespace. Throws std::system_error.
mnl_socket* open_element_socket() {
  mnl_socket* socket = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (!socket) throw std::system_error(errno, std::generic_category(), "nf_tables element socket: open");
  const int fd = mnl_socket_get_fd(socket);
  int one = 1;
  // Optional: without them, answers are longer (the request echoed) or carry no text.
  mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(socket, NETLINK_EXT_ACK, &one, sizeof one);
  // Room for a full batch and an error for each of its elements; SO_*BUFFORCE
  // needs CAP_NET_ADMIN, which writing nf_tables needs anyway.
  int bytes = kSocketBufferBytes;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  timeval timeout{.tv_sec = kAnswerTimeout.count(), .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (mnl_socket_bind(socket, 0, MNL_SOCKET_AUTOPID) != 0) {
    const int error = errno;
    mnl_socket_close(socket);
    throw std::system_error(error, std::generic_category(), "nf_tables element socket: bind");
  }
  return socket;
}

}  // namespace

NftElementSocket::NftElementSocket() : socket_(open_element_socket()), receive_buffer_(MNL_SOCKET_BUFFER_SIZE) {}

NftElementSocket::~NftElementSocket() {
  if (socket_) mnl_socket_close(socket_);
}

std::optional<NftResult> NftElementSocket::write(const MasqueradeUpdate& update) {
  // Sequence numbers skip 0 and never wrap inside a batch.
  if (next_seq_ == 0 || next_seq_ > UINT32_MAX - kMaxBatchElements - 4) next_seq_ = 1;
  auto batch = encode_element_batch(update, next_seq_);
  if (!batch) return std::nullopt;
  next_seq_ = batch->last_seq() + 2;
  const auto start = std::chrono::steady_clock::now();
  NftResult result = exchange(*batch);
  result.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return result;
}

NftResult NftElementSocket::exchange(const ElementBatch& batch) {
  auto failed = [&](std::string what, int error) {
    // A socket in an unknown state (answers of this batch may still be
    // queued): the next write starts on a fresh one.
    mnl_socket_close(socket_);
    socket_ = nullptr;
    return NftResult{false, "nf_tables element socket: " + what + ": " + errno_text(error), {}};
  };
  if (!socket_) {
    try {
      socket_ = open_element_socket();
    } catch (const std::system_error& error) {
      return NftResult{false, error.what(), {}};
    }
  }
  const ssize_t sent = mnl_socket_sendto(socket_, batch.bytes.data(), batch.bytes.size());
  if (sent < 0) return failed("send", errno);
  if (static_cast<std::size_t>(sent) != batch.bytes.size()) return failed("send", EMSGSIZE);

  BatchAnswers answers(batch);
  while (!answers.complete()) {
    const ssize_t got = mnl_socket_recvfrom(socket_, receive_buffer_.data(), receive_buffer_.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: SO_RCVTIMEO ran out. ENOBUFS: answers were lost, errors among them maybe.
      return failed("read the answers", errno);
    }
    answers.feed(std::span<const std::uint8_t>(receive_buffer_.data(), static_cast<std::size_t>(got)));
  }
  // A refused batch: read what the kernel queued with the first error (the
  // other errors, the last ACK) so that it does not wait for the next batch.
  // It is all queued already (the kernel answers within the send).
  while (!answers.last_acked()) {
    const ssize_t got =
        ::recv(mnl_socket_get_fd(socket_), receive_buffer_.data(), receive_buffer_.size(), MSG_DONTWAIT);
    if (got <= 0) break;
    answers.feed(std::span<const std::uint8_t>(receive_buffer_.data(), static_cast<std::size_t>(got)));
  }
  return answers.result();
}

}  // namespace hostgw::netfilter
