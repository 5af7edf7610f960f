#include "k8s-client/json_framer.hpp"

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json_skipper.hpp"

namespace hostgw::k8s {

JsonObjectFramer::JsonObjectFramer(std::size_t max_object_bytes) : max_object_bytes_(max_object_bytes) {}

namespace {
// The scratch copy is kept between pieces up to this size (a watch read is at most 64 KiB).
constexpr std::size_t kKeptScratchBytes = 128 * 1024;
}  // namespace

bool JsonObjectFramer::feed(std::string_view data, const FrameHandler& on_frame) {
  return feed(data, on_frame, nullptr);
}

bool JsonObjectFramer::feed(std::string_view data, const FrameHandler& on_frame, const WholeObjectTaker& take_whole) {
  return feed(data, on_frame, &take_whole);
}

bool JsonObjectFramer::feed(std::string_view data, const FrameHandler& on_frame, const WholeObjectTaker* take_whole) {
  if (failed()) return false;
  std::size_t i = 0;
  std::size_t scratch_from = std::string_view::npos;  // the offset in `data` that scratch_ starts at
  // Objects starting before this offset are offered to the taker. A piece
  // that does not end with '}' (and whitespace) ends inside an object, and
  // offering that one would cost a parse of its head before the framer scans
  // it anyway. Which object that is, only a scan would tell; the API server
  // ends each event with a newline and puts none inside one, so the guess is
  // the one after the piece's last newline. A wrong guess (other whitespace)
  // costs time, never a result: a refused object is framed as usual.
  std::size_t offer_before = 0;
  if (take_whole != nullptr) {
    std::size_t last = data.size();
    while (last > 0 && detail::is_json_space(data[last - 1])) --last;
    if (last > 0 && data[last - 1] == '}') {
      offer_before = data.size();
    } else if (const void* newline = last > 0 ? memrchr(data.data(), '\n', last) : nullptr) {
      offer_before = static_cast<std::size_t>(static_cast<const char*>(newline) - data.data());
    }
  }
  while (i < data.size()) {
    if (depth_ == 0) {
      // Between objects: only whitespace may appear.
      const char c = data[i];
      if (detail::is_json_space(c)) {
        ++i;
        ++offset_;
        continue;
      }
      if (c == '{' && i < offer_before) {
        // One copy of the rest of the piece (the taker overwrites what it
        // parses; the framer may need the original bytes back), then each
        // object in it offered where it lies.
        if (scratch_from == std::string_view::npos) {
          scratch_.assign(data.substr(i));
          scratch_from = i;
        }
        char* begin = scratch_.data() + (i - scratch_from);
        const std::size_t taken = (*take_whole)(begin, scratch_.data() + scratch_.size());
        if (taken > 0) {
          i += taken;
          offset_ += taken;
          continue;
        }
        scratch_from = std::string_view::npos;  // the refusing taker may have overwritten all of it
      }
      ++i;
      ++offset_;
      if (!open_object(c)) return false;
    }
    const std::size_t start = i;
    bool closed = false;
    i = scan_object(data, i, closed);
    take(data.substr(start, i - start), closed, on_frame);
  }
  if (scratch_.capacity() > kKeptScratchBytes) std::string().swap(scratch_);  // a rare big piece: give it back
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

#if defined(__SSE2__)
namespace {

// One bit per byte of a 64-byte block (bit k = byte k) for each byte the
// framer cares about.
struct BlockMasks {
  std::uint64_t quote = 0;
  std::uint64_t backslash = 0;
  std::uint64_t open = 0;   // '{' or '['
  std::uint64_t close = 0;  // '}' or ']'
};

// The 64 bits of four 16-byte comparisons, in memory order.
std::uint64_t bits_of(__m128i a, __m128i b, __m128i c, __m128i d) {
  const auto low = static_cast<std::uint32_t>(_mm_movemask_epi8(a)) | static_cast<std::uint32_t>(_mm_movemask_epi8(b)) << 16;
  const auto high = static_cast<std::uint32_t>(_mm_movemask_epi8(c)) | static_cast<std::uint32_t>(_mm_movemask_epi8(d)) << 16;
  return low | static_cast<std::uint64_t>(high) << 32;
}

BlockMasks block_masks(const char* p) {
  const auto load = [p](int k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k)); };
  const __m128i b0 = load(0), b1 = load(1), b2 = load(2), b3 = load(3);
  // '[' and '{' differ only in bit 0x20, as do ']' and '}'; no other byte
  // becomes 0x7b or 0x7d with that bit set.
  const __m128i fold = _mm_set1_epi8(0x20);
  const __m128i f0 = _mm_or_si128(b0, fold), f1 = _mm_or_si128(b1, fold), f2 = _mm_or_si128(b2, fold),
                f3 = _mm_or_si128(b3, fold);
  const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), open = _mm_set1_epi8('{'),
                close = _mm_set1_epi8('}');
  BlockMasks masks;
  masks.quote = bits_of(_mm_cmpeq_epi8(b0, quote), _mm_cmpeq_epi8(b1, quote), _mm_cmpeq_epi8(b2, quote),
                        _mm_cmpeq_epi8(b3, quote));
  masks.backslash = bits_of(_mm_cmpeq_epi8(b0, backslash), _mm_cmpeq_epi8(b1, backslash),
                            _mm_cmpeq_epi8(b2, backslash), _mm_cmpeq_epi8(b3, backslash));
  masks.open = bits_of(_mm_cmpeq_epi8(f0, open), _mm_cmpeq_epi8(f1, open), _mm_cmpeq_epi8(f2, open),
                       _mm_cmpeq_epi8(f3, open));
  masks.close = bits_of(_mm_cmpeq_epi8(f0, close), _mm_cmpeq_epi8(f1, close), _mm_cmpeq_epi8(f2, close),
                        _mm_cmpeq_epi8(f3, close));
  return masks;
}

// Set bits of x (std::popcount without the POPCNT instruction is a libgcc call).
std::size_t count_bits(std::uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<std::size_t>((x * 0x0101010101010101ULL) >> 56);
}

// Bit k = the parity of the bits 0..k of `x`.
std::uint64_t prefix_xor(std::uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

}  // namespace
#endif

std::size_t JsonObjectFramer::scan_object(std::string_view data, std::size_t i, bool& closed) {
  const std::size_t n = data.size();
  const char* base = data.data();
#if defined(__SSE2__)
  // 64 bytes at a time: the quotes give which bytes lie inside strings (a
  // running parity), the brackets outside them change the depth, and a block
  // whose closing brackets cannot bring the depth to 0 is crossed whole. A
  // block with a backslash (or after one) steps through its special bytes one
  // by one: escapes are rare in Node objects. The tail (< 64 bytes) goes byte
  // by byte.
  while (n - i >= 64) {
    const BlockMasks masks = block_masks(base + i);
    if (escape_ || masks.backslash != 0) {
      // Escapes: the byte state machine, stepping through the special bytes only.
      std::uint64_t escaped = escape_ ? 1 : 0;  // the bit of the byte an escape applies to
      escape_ = false;
      for (std::uint64_t special = masks.quote | masks.backslash | masks.open | masks.close; special != 0;
           special &= special - 1) {
        const int k = std::countr_zero(special);
        const std::uint64_t bit = std::uint64_t{1} << k;
        if (escaped & bit) continue;
        if (in_string_) {
          if (masks.backslash & bit) {
            if (k == 63)
              escape_ = true;  // the next block's first byte
            else
              escaped = bit << 1;
          } else if (masks.quote & bit) {
            in_string_ = false;
          }
        } else if (masks.quote & bit) {
          in_string_ = true;
        } else if (masks.open & bit) {
          ++depth_;
        } else if ((masks.close & bit) && --depth_ == 0) {
          closed = true;
          return i + static_cast<std::size_t>(k) + 1;
        }
      }
      i += 64;
      continue;
    }
    const std::uint64_t in_string = prefix_xor(masks.quote) ^ (in_string_ ? ~std::uint64_t{0} : 0);
    const std::uint64_t open = masks.open & ~in_string;
    const std::uint64_t close = masks.close & ~in_string;
    in_string_ = (in_string >> 63) != 0;
    // Many blocks (plain text, long strings) hold no bracket at all.
    const std::size_t closes = close == 0 ? 0 : count_bits(close);
    if (closes < depth_) {
      depth_ = depth_ + (open == 0 ? 0 : count_bits(open)) - closes;
      i += 64;
      continue;
    }
    for (std::uint64_t brackets = open | close; brackets != 0; brackets &= brackets - 1) {
      const int k = std::countr_zero(brackets);
      if ((open >> k) & 1) {
        ++depth_;
      } else if (--depth_ == 0) {
        // Mismatched brackets are the parser's business; the framer only counts.
        closed = true;
        in_string_ = false;
        return i + static_cast<std::size_t>(k) + 1;
      }
    }
    i += 64;
  }
  return scan_bytes(base, i, n, closed);
#else
  // Most of an object's bytes are inside strings, which are crossed with
  // memchr: `quote` caches the next '"' so a string full of escapes is still
  // scanned once.
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
#endif
}

std::size_t JsonObjectFramer::scan_bytes(const char* base, std::size_t i, std::size_t limit, bool& closed) {
  for (; i < limit; ++i) {
    const char c = base[i];
    if (in_string_) {
      if (escape_)
        escape_ = false;
      else if (c == '\\')
        escape_ = true;
      else if (c == '"')
        in_string_ = false;
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if ((c == '}' || c == ']') && --depth_ == 0) {
      closed = true;
      return i + 1;
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
  if (!skipping_) {
    frame.object = buffer_;
    frame.buffer = &buffer_;
  }
  on_frame(frame);
  skipping_ = false;
  buffer_.clear();
  object_size_ = 0;
}

}  // namespace hostgw::k8s
