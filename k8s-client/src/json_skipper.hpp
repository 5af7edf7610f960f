#pragma once

// A validating skipper for one JSON value: finds where a value ends without
// producing tokens, for the members of a Node that kube-hostgw never reads
// (managedFields, images, conditions, labels...). node_json.cpp runs it on
// in-place parses so that RapidJSON sees one token instead of thousands.
//
// It accepts a strict subset of what RapidJSON (kParseNoFlags) accepts, and
// rejects everything else, so the caller can always fall back to RapidJSON
// for the exact error message and offset:
//  - structure: objects, arrays, strings, numbers, true/false/null, with
//    JSON whitespace; no comments, no trailing commas;
//  - strings: no byte below 0x20 (that includes the NUL that ends the
//    buffer), escapes \" \\ \/ \b \f \n \r \t \uXXXX; a \u in the surrogate
//    range must be a high surrogate followed by a \u low surrogate; other
//    bytes >= 0x80 pass as they are (RapidJSON does not validate UTF-8
//    without kParseValidateEncodingFlag);
//  - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)? with at most kMaxNumberDigits
//    digits and no exponent (so RapidJSON can never find them too big);
//  - nesting: at most `max_depth` containers deep (the outer one counts 1),
//    and never more than kMaxSkipDepth.
// The input must be followed by a NUL (as std::string's buffer is): the
// skipper reads at most up to that byte and stops there.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace hostgw::k8s::detail {

inline constexpr std::size_t kMaxSkipDepth = 256;
inline constexpr int kMaxNumberDigits = 15;

// The high bit of each byte of `word` (8 bytes loaded in memory order) that
// is '"', '\\' or a control character (< 0x20). Bytes above the first such
// byte may be flagged wrongly (a borrow), the first one never: its index is
// std::countr_zero(mask) / 8 on a little-endian machine.
inline std::uint64_t json_string_special_mask(std::uint64_t word) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const std::uint64_t quote = has_zero(word ^ (kOnes * '"'));
  const std::uint64_t backslash = has_zero(word ^ (kOnes * '\\'));
  const std::uint64_t control = (word - kOnes * 0x20) & ~word & kHighs;
  return quote | backslash | control;
}
inline bool has_json_string_special(std::uint64_t word) { return json_string_special_mask(word) != 0; }

#if defined(__SSE2__)
// The same for the 16 bytes at p, exactly (no borrow): bit i set when p[i] is
// '"', '\\' or a control character.
[[gnu::always_inline]] inline unsigned json_string_special_mask16(const char* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i quote = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\\'));
  // Unsigned byte <= 0x1f: min(byte, 0x1f) == byte.
  const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, _mm_set1_epi8(0x1f)), bytes);
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)));
}
#endif

inline bool is_json_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

[[gnu::always_inline]] inline const char* skip_json_space(const char* p) {
  // The API server sends no whitespace: one comparison in the common case.
  while (static_cast<unsigned char>(*p) <= ' ' && is_json_space(*p)) ++p;
  return p;
}

// Four hex digits at p, or -1.
inline int json_hex4(const char* p) {
  int value = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];  // stops at the NUL: not a hex digit
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      digit = c - 'A' + 10;
    else
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

// p at the opening quote; returns the byte after the closing quote, or nullptr.
// Inlined into skip_json_value: most strings are short keys.
[[gnu::always_inline]] inline const char* skip_json_string(const char* p, const char* end) {
  static_assert(std::endian::native == std::endian::little, "the 8-byte scan takes the first byte as the lowest");
  ++p;
  for (;;) {
#if defined(__SSE2__)
    // 16 bytes at a time, straight to the first byte that is not plain text.
    if (end - p >= 16) {
      const unsigned mask = json_string_special_mask16(p);
      if (mask == 0) {
        p += 16;
        continue;
      }
      p += std::countr_zero(mask);
    } else
#endif
    // 8 bytes at a time, straight to the first byte that is not plain text.
    if (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, sizeof word);
      const std::uint64_t mask = json_string_special_mask(word);
      if (mask == 0) {
        p += 8;
        continue;
      }
      p += std::countr_zero(mask) / 8;
    }
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') return p + 1;
    if (c < 0x20) return nullptr;  // control character, or the NUL at the end
    if (c != '\\') {
      ++p;
      continue;
    }
    switch (p[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        break;
      case 'u': {
        const int unit = json_hex4(p + 2);
        if (unit < 0) return nullptr;
        p += 6;
        if (unit >= 0xD800 && unit <= 0xDFFF) {
          // Only a high surrogate followed by a low one; RapidJSON decides the rest.
          if (unit > 0xDBFF || p[0] != '\\' || p[1] != 'u') return nullptr;
          const int low = json_hex4(p + 2);
          if (low < 0xDC00 || low > 0xDFFF) return nullptr;
          p += 6;
        }
        break;
      }
      default:
        return nullptr;
    }
  }
}

inline const char* skip_json_number(const char* p) {
  int digits = 0;
  if (*p == '-') ++p;
  if (*p == '0') {
    ++p;
    ++digits;
  } else if (*p >= '1' && *p <= '9') {
    while (*p >= '0' && *p <= '9') {
      ++p;
      ++digits;
    }
  } else {
    return nullptr;
  }
  if (*p == '.') {
    ++p;
    if (!(*p >= '0' && *p <= '9')) return nullptr;
    while (*p >= '0' && *p <= '9') {
      ++p;
      ++digits;
    }
  }
  if (*p == 'e' || *p == 'E' || digits > kMaxNumberDigits) return nullptr;
  return p;
}

inline const char* skip_json_literal(const char* p, const char* word, std::size_t length) {
  // Byte by byte: the NUL at the end differs from every letter.
  for (std::size_t i = 0; i < length; ++i)
    if (p[i] != word[i]) return nullptr;
  return p + length;
}

// The value starting at p (no leading whitespace); returns the byte after it,
// or nullptr when the value is not one the skipper accepts (see above).
// `end` points at the NUL after the input.
inline const char* skip_json_value(const char* p, const char* end, std::size_t max_depth) {
  if (max_depth > kMaxSkipDepth) max_depth = kMaxSkipDepth;
  bool is_array[kMaxSkipDepth];  // per open container; only [0, depth) is read
  std::size_t depth = 0;
  auto top_is_array = [&] { return is_array[depth - 1]; };
  auto open = [&](bool array) {
    if (depth >= max_depth) return false;
    is_array[depth++] = array;
    return true;
  };

  for (;;) {
    // A value at p.
    switch (*p) {
      case '{':
        if (!open(false)) return nullptr;
        p = skip_json_space(p + 1);
        if (*p == '}') {
          ++p;
          --depth;
          break;
        }
        goto member;
      case '[':
        if (!open(true)) return nullptr;
        p = skip_json_space(p + 1);
        if (*p == ']') {
          ++p;
          --depth;
          break;
        }
        continue;  // the first element
      case '"':
        p = skip_json_string(p, end);
        break;
      case 't':
        p = skip_json_literal(p, "true", 4);
        break;
      case 'f':
        p = skip_json_literal(p, "false", 5);
        break;
      case 'n':
        p = skip_json_literal(p, "null", 4);
        break;
      default:
        p = skip_json_number(p);
        break;
    }
    // After a value: close containers or go on to the next element/member.
    for (;;) {
      if (p == nullptr) return nullptr;
      if (depth == 0) return p;
      p = skip_json_space(p);
      if (*p == ',') {
        p = skip_json_space(p + 1);
        if (top_is_array()) goto value;
        goto member;
      }
      if (*p != (top_is_array() ? ']' : '}')) return nullptr;
      ++p;
      --depth;
    }
  member:
    // p at a member's key.
    if (*p != '"') return nullptr;
    p = skip_json_string(p, end);
    if (p == nullptr) return nullptr;
    p = skip_json_space(p);
    if (*p != ':') return nullptr;
    p = skip_json_space(p + 1);
  value:;
  }
}

}  // namespace hostgw::k8s::detail
