#pragma once

// JsonObjectFramer: splits a byte stream carrying a sequence of JSON objects
// (the body of a Kubernetes WATCH) into whole objects, whatever the chunk
// boundaries, and without relying on newlines between objects.
//
// It tracks only string / escape state and brace depth, so it never parses
// the objects themselves. Pure: no I/O; the caller feeds bytes as they arrive.
//
// An object larger than `max_object_bytes` is not buffered: its bytes are
// skipped until it ends and it is reported as a frame with `too_large` set,
// so one hostile object costs no memory and never ends the stream. Anything
// other than whitespace between objects is a framing error the stream cannot
// recover from (the caller restarts the watch).

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace hostgw::k8s {

class JsonObjectFramer {
 public:
  static constexpr std::size_t kDefaultMaxObjectBytes = 4 * 1024 * 1024;

  struct Frame {
    std::string_view object;  // the whole object, '{' to '}'; empty if too_large
    bool too_large = false;
    std::size_t size = 0;  // bytes the object had (also when too_large)
    // The framer's own buffer, holding exactly `object` (a NUL after it), or
    // null when too_large. The handler may overwrite it, e.g. parse it in
    // place (parse_watch_event_in_place): the framer clears it after the call.
    std::string* buffer = nullptr;
  };
  using FrameHandler = std::function<void(const Frame&)>;
  // Offered each object that starts in a fed piece while no other object is
  // pending, to take it in one pass where it lies: `begin` is its '{' in the
  // framer's scratch copy of the rest of the piece, which ends at `end` (a
  // NUL). Returns the object's size when it took the whole object
  // (well-formed JSON, within the framer's max_object_bytes; it may have
  // overwritten the object's bytes, not those after it), else 0 (it may have
  // overwritten any of [begin, end)): the framer then frames the original
  // bytes as usual.
  using WholeObjectTaker = std::function<std::size_t(char* begin, char* end)>;

  explicit JsonObjectFramer(std::size_t max_object_bytes = kDefaultMaxObjectBytes);

  // Consumes `data`; calls `on_frame` for each object completed by it. Returns
  // false on a framing error (see error()); the framer then stays failed.
  bool feed(std::string_view data, const FrameHandler& on_frame);
  // The same, offering objects to `take_whole` first (see WholeObjectTaker):
  // for a stream whose objects mostly arrive whole, one pass over their bytes
  // instead of the framer's scan and then the consumer's.
  bool feed(std::string_view data, const FrameHandler& on_frame, const WholeObjectTaker& take_whole);

  // True while a partial object is buffered (or being skipped).
  bool in_object() const { return depth_ > 0; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // Bytes consumed since construction (for error positions).
  std::size_t offset() const { return offset_; }

 private:
  // The '{' that starts an object (else the framing error).
  bool open_object(char c);
  // From `i` inside an object to the byte after the one closing it
  // (`closed`), or to the end of `data`.
  std::size_t scan_object(std::string_view data, std::size_t i, bool& closed);
  // The same, byte by byte, from `i` up to `limit` at most.
  std::size_t scan_bytes(const char* base, std::size_t i, std::size_t limit, bool& closed);
  // Buffers (or skips, past the limit) a scanned piece; a closed object goes to `on_frame`.
  void take(std::string_view piece, bool closed, const FrameHandler& on_frame);

  bool feed(std::string_view data, const FrameHandler& on_frame, const WholeObjectTaker* take_whole);

  std::size_t max_object_bytes_;
  std::string buffer_;
  std::string scratch_;  // the rest of a fed piece, for the WholeObjectTaker
  std::size_t object_size_ = 0;
  std::size_t depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  bool skipping_ = false;
  std::size_t offset_ = 0;
  std::string error_;
};

}  // namespace hostgw::k8s
