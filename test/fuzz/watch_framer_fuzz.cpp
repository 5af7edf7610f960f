// Fuzz target: the watch-stream framer (k8s-client/json_framer.hpp) with
// arbitrary chunk boundaries chosen by the input.
//
// Input layout: byte 0 picks the object size limit, byte 1 the number of
// chunk lengths that follow (one byte each, 0 = an empty read), the rest is
// the stream. The lengths are used in turn until the stream is consumed.
//
// Properties:
//  - chunking does not matter: frames, too_large flags, sizes and the final
//    state (failed or not, error text, partial object) are the same as when the
//    whole stream arrives in one read;
//  - each frame is one whole object ('{' ... '}', or '{' ... ']' that the
//    parser must then refuse) no larger than the limit, or
//    an empty too_large frame whose size is larger than the limit;
//  - a failed framer stays failed; frames never cover more bytes than were fed;
//  - every frame goes through parse_watch_event (what NodeWatcher does) safely;
//  - offering objects to a WholeObjectTaker running
//    parse_leading_watch_event_in_place (what NodeWatcher does) changes
//    nothing: each object it takes is the frame the framer would have cut,
//    with the event parse_watch_event gives over it, and the frames, events
//    and final state are those of the plain framer, in one read or in chunks.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "k8s-client/json_framer.hpp"
#include "k8s-client/node_json.hpp"

using hostgw::k8s::JsonObjectFramer;

namespace {

struct Outcome {
  struct Frame {
    std::string object;
    bool too_large = false;
    std::size_t size = 0;
    bool operator==(const Frame&) const = default;
  };
  std::vector<Frame> frames;
  std::vector<std::string> events;  // each frame's parse, described
  bool failed = false;
  std::string error;
  bool in_object = false;
};

std::string describe(const hostgw::k8s::WatchEventParseResult& parsed) {
  if (!parsed.ok()) return "error " + parsed.error;
  const auto& event = *parsed.event;
  std::string out(hostgw::k8s::to_string(event.type));
  out += ' ';
  out += event.node.name;
  out += ' ';
  out += event.node.resource_version;
  for (const auto& cidr : event.node.pod_cidrs) out += " cidr " + cidr;
  for (const auto& ip : event.node.internal_ips) out += " internal " + ip;
  for (const auto& ip : event.node.external_ips) out += " external " + ip;
  if (event.node.deleting) out += " deleting";
  out += " status " + std::to_string(event.status.code) + ' ' + event.status.reason + ' ' + event.status.message;
  return out;
}

Outcome run(std::size_t max_bytes, std::string_view stream, const std::vector<std::size_t>& lengths,
            bool with_taker) {
  JsonObjectFramer framer(max_bytes);
  hostgw::k8s::NodeJsonLimits limits;
  limits.max_object_bytes = max_bytes;
  Outcome out;
  std::size_t fed = 0;
  std::size_t framed_bytes = 0;
  auto on_frame = [&](const JsonObjectFramer::Frame& frame) {
    if (frame.too_large) {
      KHG_FUZZ_CHECK(frame.object.empty(), "too_large frame carries %zu bytes", frame.object.size());
      KHG_FUZZ_CHECK(frame.size > max_bytes, "too_large frame of %zu bytes, limit %zu", frame.size, max_bytes);
    } else {
      KHG_FUZZ_CHECK(!frame.object.empty() && frame.object.front() == '{', "frame does not start an object");
      // The framer only counts brackets: `{"a":1]` is a frame, and the parser
      // must be the one to refuse it. It never becomes an event.
      if (frame.object.back() != '}') {
        KHG_FUZZ_CHECK(frame.object.back() == ']', "frame ends in byte 0x%02x",
                       static_cast<unsigned char>(frame.object.back()));
        KHG_FUZZ_CHECK(!hostgw::k8s::parse_watch_event(frame.object).ok(), "a frame closed by ']' parsed as an event");
      }
      KHG_FUZZ_CHECK(frame.size == frame.object.size(), "frame size %zu, object %zu bytes", frame.size,
                     frame.object.size());
      KHG_FUZZ_CHECK(frame.size <= max_bytes, "frame of %zu bytes passed the limit %zu", frame.size, max_bytes);
      out.events.push_back(describe(hostgw::k8s::parse_watch_event(frame.object, limits)));
    }
    if (frame.too_large) out.events.push_back("too large " + std::to_string(frame.size));
    framed_bytes += frame.size;
    KHG_FUZZ_CHECK(framed_bytes <= fed, "frames cover %zu bytes, only %zu fed", framed_bytes, fed);
    out.frames.push_back({std::string(frame.object), frame.too_large, frame.size});
  };
  auto take_whole = [&](char* begin, char* end) -> std::size_t {
    KHG_FUZZ_CHECK(begin < end && *begin == '{' && *end == '\0', "offered bytes are not an object's start");
    const std::string original(begin, end);
    hostgw::k8s::WatchEventParseResult parsed;
    const std::size_t taken = hostgw::k8s::parse_leading_watch_event_in_place(begin, end, parsed, limits);
    if (taken == 0) return 0;
    KHG_FUZZ_CHECK(taken <= original.size() && taken <= max_bytes, "took %zu of %zu bytes, limit %zu", taken,
                   original.size(), max_bytes);
    framed_bytes += taken;
    KHG_FUZZ_CHECK(framed_bytes <= fed, "frames cover %zu bytes, only %zu fed", framed_bytes, fed);
    out.frames.push_back({original.substr(0, taken), false, taken});
    out.events.push_back(describe(parsed));
    return taken;
  };
  std::size_t position = 0;
  std::size_t next_length = 0;
  while (position < stream.size()) {
    std::size_t length = stream.size() - position;
    if (next_length < lengths.size()) length = std::min(length, lengths[next_length++]);
    fed += length;
    bool ok = with_taker ? framer.feed(stream.substr(position, length), on_frame, take_whole)
                         : framer.feed(stream.substr(position, length), on_frame);
    position += length;
    KHG_FUZZ_CHECK(ok == !framer.failed(), "feed() returned %d but failed() is %d", ok, framer.failed());
    if (!ok) {
      KHG_FUZZ_CHECK(!framer.error().empty(), "failed without an error message");
      // A failed framer stays failed and emits nothing more.
      std::size_t frames_before = out.frames.size();
      KHG_FUZZ_CHECK(!framer.feed("{}", on_frame) && out.frames.size() == frames_before, "failed framer recovered");
      break;
    }
  }
  out.failed = framer.failed();
  out.error = framer.error();
  out.in_object = framer.in_object();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Small limits exercise the too_large path; 0xff keeps the daemon's default.
  const std::size_t max_bytes = data[0] == 0xff ? JsonObjectFramer::kDefaultMaxObjectBytes : 2 + data[0];
  const std::size_t count = data[1] % 32;
  if (size < 2 + count) return 0;
  std::vector<std::size_t> lengths(data + 2, data + 2 + count);
  const std::string_view stream(reinterpret_cast<const char*>(data + 2 + count), size - 2 - count);

  const Outcome whole = run(max_bytes, stream, {}, false);
  auto check_same = [&](const Outcome& other, const char* how) {
    KHG_FUZZ_CHECK(whole.frames.size() == other.frames.size(), "%zu frames in one read, %zu %s", whole.frames.size(),
                   other.frames.size(), how);
    for (std::size_t i = 0; i < whole.frames.size(); ++i)
      KHG_FUZZ_CHECK(whole.frames[i] == other.frames[i], "frame %zu differs between one read and %s", i, how);
    KHG_FUZZ_CHECK(whole.events == other.events, "events differ between one read and %s", how);
    KHG_FUZZ_CHECK(whole.failed == other.failed, "failed: %d in one read, %d %s", whole.failed, other.failed, how);
    KHG_FUZZ_CHECK(whole.error == other.error, "error \"%s\" in one read, \"%s\" %s", whole.error.c_str(),
                   other.error.c_str(), how);
    KHG_FUZZ_CHECK(whole.in_object == other.in_object, "in_object differs %s", how);
  };
  check_same(run(max_bytes, stream, lengths, false), "in chunks");
  check_same(run(max_bytes, stream, {}, true), "with the taker");
  check_same(run(max_bytes, stream, lengths, true), "in chunks with the taker");
  return 0;
}
