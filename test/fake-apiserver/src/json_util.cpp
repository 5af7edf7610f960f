#include "json_util.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

namespace hostgw::testing {

std::string rfc3339_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_uuid() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::array<unsigned char, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    std::uint64_t v = engine();
    for (std::size_t j = 0; j < 8; ++j) b[i + j] = static_cast<unsigned char>(v >> (8 * j));
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return buf;
}

std::string_view status_reason(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : (code >= 400 ? "BadRequest" : "");
  }
}

std::string json_quote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string status_json(int code, std::string_view reason, std::string_view message, std::string_view name,
                        std::string_view kind, std::string_view uid) {
  const bool success = code >= 200 && code < 300;
  std::string out = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":")";
  out += success ? "Success\"" : "Failure\"";
  if (!message.empty()) out += ",\"message\":" + json_quote(message);
  if (!reason.empty()) out += ",\"reason\":" + json_quote(reason);
  if (!name.empty() || !kind.empty()) {
    out += ",\"details\":{";
    bool first = true;
    auto field = [&](const char* key, std::string_view value) {
      if (value.empty()) return;
      if (!first) out += ',';
      first = false;
      out += '"';
      out += key;
      out += "\":" + json_quote(value);
    };
    field("name", name);
    field("kind", kind);
    field("uid", uid);
    out += '}';
  }
  out += ",\"code\":" + std::to_string(code) + "}";
  return out;
}

namespace {

void merge(rapidjson::Value& target, const rapidjson::Value& patch, rapidjson::Document::AllocatorType& allocator,
           bool conditions_by_type, int depth, bool under_status);

// Strategic merge of status.conditions: elements are keyed by "type".
void merge_conditions(rapidjson::Value& target, const rapidjson::Value& patch,
                      rapidjson::Document::AllocatorType& allocator, int depth) {
  for (const auto& element : patch.GetArray()) {
    const auto type = element.IsObject() ? element.FindMember("type") : element.MemberEnd();
    if (type == element.MemberEnd() || !type->value.IsString()) {
      target.PushBack(rapidjson::Value(element, allocator), allocator);
      continue;
    }
    const auto directive = element.FindMember("$patch");
    const bool remove = directive != element.MemberEnd() && directive->value.IsString() &&
                        std::string_view(directive->value.GetString()) == "delete";
    bool found = false;
    for (auto it = target.Begin(); it != target.End(); ++it) {
      if (!it->IsObject()) continue;
      auto existing = it->FindMember("type");
      if (existing == it->MemberEnd() || existing->value != type->value) continue;
      found = true;
      if (remove) {
        target.Erase(it);
      } else {
        merge(*it, element, allocator, false, depth + 1, false);
        it->RemoveMember("$patch");
      }
      break;
    }
    if (!found && !remove) {
      rapidjson::Value added(rapidjson::kObjectType);
      merge(added, element, allocator, false, depth + 1, false);
      target.PushBack(added, allocator);
    }
  }
}

void merge(rapidjson::Value& target, const rapidjson::Value& patch, rapidjson::Document::AllocatorType& allocator,
           bool conditions_by_type, int depth, bool under_status) {
  if (!patch.IsObject()) {
    target.CopyFrom(patch, allocator);
    return;
  }
  if (!target.IsObject()) target.SetObject();
  for (const auto& member : patch.GetObject()) {
    if (member.value.IsNull()) {
      target.RemoveMember(member.name);
      continue;
    }
    auto existing = target.FindMember(member.name);
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (conditions_by_type && under_status && name == "conditions" && member.value.IsArray() &&
        existing != target.MemberEnd() && existing->value.IsArray()) {
      merge_conditions(existing->value, member.value, allocator, depth);
      continue;
    }
    const bool child_under_status = depth == 0 && name == "status";
    if (existing == target.MemberEnd()) {
      rapidjson::Value value(rapidjson::kObjectType);
      merge(value, member.value, allocator, conditions_by_type, depth + 1, child_under_status);
      target.AddMember(rapidjson::Value(member.name, allocator), value, allocator);
    } else {
      merge(existing->value, member.value, allocator, conditions_by_type, depth + 1, child_under_status);
    }
  }
}

}  // namespace

void apply_merge_patch(rapidjson::Value& target, const rapidjson::Value& patch,
                       rapidjson::Document::AllocatorType& allocator, bool conditions_by_type) {
  merge(target, patch, allocator, conditions_by_type, 0, false);
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace hostgw::testing
