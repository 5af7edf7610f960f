#include "k8s-client/json_framer.hpp"

#include <cstdio>
#include <cstring>

namespace hostgw::k8s {

JsonObjectFramer::JsonObjectFramer(std::size_t max_object_bytes) : max_object_bytes_(max_object_bytes) {}

bool JsonObjectFramer::feed(std::string_view data, const FrameHandler& on_frame) {
  if (failed()) return false;
  std::size_t i = 0;
  while (i < data.size()) {
    if (depth_ == 0) {
      // Between objects: only whitespace may appear.
      const char c = data[i];
      ++i;
      ++offset_;
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (!open_object(c)) return false;
    }
    const std::size_t start = i;
    bool closed = false;
    i = scan_object(data, i, closed);
    take(data.substr(start, i - start), closed, on_frame);
  }
  return true;
}

bool JsonObjectFramer::open_object(char c) {
  if (c != '{') {
    char shown[16];
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)
      std::snprintf(shown, sizeof shown, "'%c'", c);
    else
      std::snprintf(shown, sizeof shown, "byte 0x%02x", static_cast<unsigned char>(c));
    error_ = "watch stream: expected '{' at byte " + std::to_string(offset_ - 1) + " between objects, found " + shown;
    return false;
  }
  depth_ = 1;
  in_string_ = false;
  escape_ = false;
  skipping_ = false;
  object_size_ = 1;
  buffer_.clear();
  buffer_ += '{';
  return true;
}

std::size_t JsonObjectFramer::scan_object(std::string_view data, std::size_t i, bool& closed) {
  // Scans for the byte that closes the object. Most of an object's bytes are
  // inside strings, which are crossed with memchr: `quote` caches the next
  // '"' so a string full of escapes is still scanned once.
  const std::size_t n = data.size();
  const char* base = data.data();
  constexpr std::size_t kUnknown = std::string_view::npos;
  std::size_t quote = kUnknown;  // next '"' at or after i, valid while >= i (n: none)
  while (i < n) {
    if (in_string_) {
      if (escape_) {
        escape_ = false;
        ++i;
        continue;
      }
      if (quote == kUnknown || quote < i) {
        const void* found = std::memchr(base + i, '"', n - i);
        quote = found ? static_cast<std::size_t>(static_cast<const char*>(found) - base) : n;
      }
      if (const void* backslash = std::memchr(base + i, '\\', quote - i)) {
        i = static_cast<std::size_t>(static_cast<const char*>(backslash) - base) + 1;
        escape_ = true;
        continue;
      }
      if (quote == n) return n;
      i = quote + 1;
      in_string_ = false;
      continue;
    }
    const char c = base[i++];
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      // Mismatched brackets are the parser's business; the framer only counts.
      if (--depth_ == 0) {
        closed = true;
        return i;
      }
    }
  }
  return i;
}

void JsonObjectFramer::take(std::string_view piece, bool closed, const FrameHandler& on_frame) {
  offset_ += piece.size();
  object_size_ += piece.size();
  if (!skipping_) {
    if (object_size_ > max_object_bytes_) {
      skipping_ = true;
      buffer_.clear();
      buffer_.shrink_to_fit();
    } else {
      buffer_.append(piece);
    }
  }
  if (!closed) return;
  Frame frame;
  frame.size = object_size_;
  frame.too_large = skipping_;
  if (!skipping_) frame.object = buffer_;
  on_frame(frame);
  skipping_ = false;
  buffer_.clear();
  object_size_ = 0;
}

}  // namespace hostgw::k8s
