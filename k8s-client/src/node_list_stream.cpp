#include "k8s-client/node_list_stream.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <bit>

#include "common/text.hpp"
#include "json_skipper.hpp"
#include "node_list_parts.hpp"

namespace hostgw::k8s {

namespace {

// A buffer that held a rare big item is given back rather than kept for the next one.
constexpr std::size_t kKeptValueBytes = 256 * 1024;

const char* skip_space(const char* p, const char* end) {
  while (p < end && detail::is_json_space(*p)) ++p;
  return p;
}

// The first byte in [p, end) that is '"', '\\' or a control character, or end.
const char* find_string_special(const char* p, const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const unsigned mask = detail::json_string_special_mask16(p);
    if (mask != 0) return p + std::countr_zero(mask);
    p += 16;
  }
#endif
  while (p < end) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20) return p;
    ++p;
  }
  return p;
}

// What ends a number or a literal (not consumed: the framing reads it next).
bool ends_scalar(char c) {
  return c == ',' || c == ']' || c == '}' || c == '\0' || detail::is_json_space(c);
}

// The kind a value starting with `c` has, as node_json's messages name it; null if no value starts so.
const char* kind_phrase_of(char c) {
  switch (c) {
    case '{':
      return "an object";
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    default:
      return c == '-' || (c >= '0' && c <= '9') ? "a number" : nullptr;
  }
}

// A key with escapes or control bytes, unescaped (or refused) by RapidJSON as the whole-body parse would.
struct KeyReader : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, KeyReader> {
  std::string* out = nullptr;
  bool String(const char* text, rapidjson::SizeType length, bool) {
    out->assign(text, length);
    return true;
  }
  bool Default() { return false; }
};

}  // namespace

NodeListStreamParser::NodeListStreamParser(NodeListPage& page, NodeJsonLimits limits)
    : page_(page), limits_(std::move(limits)) {}

bool NodeListStreamParser::fail_message(std::string message) {
  error_ = "node list: " + message;
  state_ = State::failed;
  return false;
}

bool NodeListStreamParser::fail_at(std::size_t offset, std::string_view what) {
  std::string message = "invalid JSON at byte ";
  message += std::to_string(offset);
  message += ": ";
  message += what;
  return fail_message(std::move(message));
}

bool NodeListStreamParser::fail(const char* p, std::string_view what) { return fail_at(offset_of(p), what); }

bool NodeListStreamParser::feed(std::string_view data) {
  if (state_ == State::failed) return false;
  chunk_ = data.data();
  const char* p = data.data();
  const char* const end = p + data.size();
  while (p != nullptr && p < end) p = step(p, end);
  offset_ += data.size();
  return state_ != State::failed;
}

bool NodeListStreamParser::finish() {
  if (state_ == State::failed) return false;
  chunk_ = nullptr;
  if (state_ == State::after_doc || state_ == State::ignoring) return true;
  if (state_ == State::before_doc) return fail_at(offset_, "The document is empty.");
  return fail_at(offset_, "the body ends inside the document (the response was cut short)");
}

// One step of the framing from p (< end); returns where to go on, or null after a failure.
const char* NodeListStreamParser::step(const char* p, const char* end) {
  switch (state_) {
    case State::in_value:
      return scan_value(p, end);
    case State::in_key:
      return scan_key(p, end);
    case State::ignoring:
      return end;
    case State::failed:
      return nullptr;
    default:
      break;
  }
  p = skip_space(p, end);
  if (p == end) return p;
  const char c = *p;
  switch (state_) {
    case State::before_doc:
      if (c == '{') {
        state_ = State::before_key;
        return p + 1;
      }
      if (const char* kind = kind_phrase_of(c)) {
        fail_message(std::string("expected a JSON object, found ") + kind);
        return nullptr;
      }
      fail(p, "Invalid value.");
      return nullptr;
    case State::before_key:
    case State::before_next_key:
      if (c == '"') {
        state_ = State::in_key;
        key_.clear();
        key_escaped_ = false;
        escape_ = false;
        value_start_ = offset_of(p);
        return p + 1;
      }
      if (c == '}' && state_ == State::before_key) {
        state_ = State::after_doc;
        return p + 1;
      }
      fail(p, "Missing a name for object member.");
      return nullptr;
    case State::before_colon:
      if (c == ':') {
        state_ = State::before_value;
        return p + 1;
      }
      fail(p, "Missing a colon after a name of object member.");
      return nullptr;
    case State::before_value:
      if (key_ == "items") {
        if (c == '[') {
          state_ = State::items_start;
          item_index_ = 0;
          return p + 1;
        }
        if (c == '{') {
          fail_message("items is an object, expected an array");
          return nullptr;
        }
      } else if (key_ == "metadata" && c == '[') {
        fail_message("metadata is an array, expected an object");
        return nullptr;
      }
      return start_value(p, false) ? p : nullptr;
    case State::items_start:
      if (c == ']') {
        state_ = State::after_member;
        return p + 1;
      }
      return start_value(p, true) ? p : nullptr;
    case State::items_next:
      return start_value(p, true) ? p : nullptr;
    case State::after_item:
      if (c == ',') {
        state_ = State::items_next;
        return p + 1;
      }
      if (c == ']') {
        state_ = State::after_member;
        return p + 1;
      }
      fail(p, "Missing a comma or ']' after an array element.");
      return nullptr;
    case State::after_member:
      if (c == ',') {
        state_ = State::before_next_key;
        return p + 1;
      }
      if (c == '}') {
        state_ = State::after_doc;
        return p + 1;
      }
      fail(p, "Missing a comma or '}' after an object member.");
      return nullptr;
    case State::after_doc:
      if (c == '\0') {
        // RapidJSON reads a NUL as the end of its input: the whole-body parse
        // stops here and accepts the document; so does this one.
        state_ = State::ignoring;
        return end;
      }
      fail(p, "The document root must not be followed by other values.");
      return nullptr;
    default:
      fail(p, "internal framing error");
      return nullptr;
  }
}

bool NodeListStreamParser::start_value(const char* p, bool item) {
  if (kind_phrase_of(*p) == nullptr) return fail(p, "Invalid value.");
  switch (*p) {
    case '{':
      value_kind_ = ValueKind::object;
      break;
    case '[':
      value_kind_ = ValueKind::array;
      break;
    case '"':
      value_kind_ = ValueKind::string;
      break;
    default:
      value_kind_ = ValueKind::scalar;
      break;
  }
  in_items_ = item;
  value_first_ = *p;
  value_.clear();
  value_start_ = offset_of(p);
  value_size_ = 0;
  depth_ = 0;
  in_string_ = false;
  escape_ = false;
  state_ = State::in_value;
  return true;
}

const char* NodeListStreamParser::scan_key(const char* p, const char* end) {
  const char* const from = p;
  bool closed = false;
  while (p < end) {
    if (escape_) {
      escape_ = false;
      ++p;
      continue;
    }
    p = find_string_special(p, end);
    if (p == end) break;
    const char c = *p;
    if (c == '"') {
      closed = true;
      break;
    }
    if (c == '\0') {
      fail(p, "Missing a closing quotation mark in string.");
      return nullptr;
    }
    key_escaped_ = true;  // '\\' or a control byte
    escape_ = c == '\\';
    ++p;
  }
  key_.append(from, p);
  if (key_.size() > limits_.max_object_bytes) {
    fail_message("a member name is more than " + std::to_string(limits_.max_object_bytes) + " bytes");
    return nullptr;
  }
  if (!closed) return p;
  if (!finish_key()) return nullptr;
  state_ = State::before_colon;
  return p + 1;  // the closing quote
}

bool NodeListStreamParser::finish_key() {
  if (!key_escaped_) return true;
  const std::string quoted = common::quoted(key_);
  std::string unescaped;
  KeyReader reader;
  reader.out = &unescaped;
  rapidjson::StringStream stream(quoted.c_str());
  rapidjson::Reader parser;
  rapidjson::ParseResult result = parser.Parse<rapidjson::kParseNoFlags>(stream, reader);
  if (result.IsError()) return fail_at(value_start_ + result.Offset(), rapidjson::GetParseError_En(result.Code()));
  key_ = std::move(unescaped);
  return true;
}

const char* NodeListStreamParser::scan_value(const char* p, const char* end) {
  const char* const from = p;
  bool closed = false;
  if (value_kind_ == ValueKind::scalar) {
    while (p < end && !ends_scalar(*p)) ++p;
    closed = p < end;  // the byte that ends it is read next, by the framing
  } else {
    while (p < end) {
      if (escape_) {
        escape_ = false;
        ++p;
        continue;
      }
      if (in_string_) {
        p = find_string_special(p, end);
        if (p == end) break;
        const char c = *p++;
        if (c == '"') {
          in_string_ = false;
          if (depth_ == 0) {
            closed = true;  // a string value
            break;
          }
        } else if (c == '\\') {
          escape_ = true;
        } else if (c == '\0') {
          fail(p - 1, "Missing a closing quotation mark in string.");
          return nullptr;
        }
        // another control byte: the parse refuses it with RapidJSON's message
        continue;
      }
      const char c = *p++;
      if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        ++depth_;
      } else if (c == '}' || c == ']') {
        if (--depth_ == 0) {
          closed = true;
          break;
        }
      } else if (c == '\0') {
        fail(p - 1, "Invalid value.");
        return nullptr;
      }
    }
  }
  const std::size_t n = static_cast<std::size_t>(p - from);
  value_size_ += n;
  if (value_.size() < limits_.max_object_bytes)
    value_.append(from, std::min(n, limits_.max_object_bytes - value_.size()));
  if (value_size_ > limits_.max_object_bytes && !in_items_) {
    fail_message("the value of \"" + key_.substr(0, 80) + "\" is more than " +
                 std::to_string(limits_.max_object_bytes) + " bytes");
    return nullptr;
  }
  if (!closed) return p;
  return finish_value() ? p : nullptr;
}

bool NodeListStreamParser::finish_value() {
  std::string problem;
  if (!in_items_) {
    problem = detail::parse_node_list_member_in_place(value_, key_, page_, limits_, value_start_);
    state_ = State::after_member;
  } else {
    if (value_size_ <= limits_.max_object_bytes) {
      problem = detail::parse_node_list_item_in_place(value_, item_index_, page_, limits_, value_start_);
    } else if (value_kind_ == ValueKind::object) {
      page_.malformed.push_back(detail::oversized_node_list_item(value_, value_size_, limits_));
    } else {
      // Not an object: what the whole-body parse says of it, whatever its size.
      page_.malformed.push_back("items[" + std::to_string(item_index_) + "] is " + kind_phrase_of(value_first_) +
                                ", expected an object");
    }
    ++item_index_;
    state_ = State::after_item;
  }
  value_.clear();
  if (value_.capacity() > kKeptValueBytes) std::string().swap(value_);
  if (!problem.empty()) return fail_message(std::move(problem));
  return true;
}

}  // namespace hostgw::k8s
