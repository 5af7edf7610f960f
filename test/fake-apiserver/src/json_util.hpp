#pragma once

// Small JSON and text helpers shared by the fake API server's sources.

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

namespace hostgw::testing {

// "2026-11-27T00:50:02Z"
std::string rfc3339_now();
// A random RFC 4122 version 4 UUID.
std::string random_uuid();

// A metav1.Status object: {"kind":"Status","apiVersion":"v1","metadata":{},
// "status":"Failure","message":...,"reason":...,"details":{...},"code":...}.
// `status` is "Failure" unless code is 2xx. details are left out when name and kind are empty.
std::string status_json(int code, std::string_view reason, std::string_view message, std::string_view name = {},
                        std::string_view kind = {}, std::string_view uid = {});

// The canonical reason for an HTTP status in a Status object.
std::string_view status_reason(int code);

// Applies `patch` to `target` as an RFC 7386 JSON merge patch. With
// `conditions_by_type` (strategic merge patch for Nodes), arrays named
// "conditions" directly under "status" are merged element by element by their
// "type" instead of being replaced.
void apply_merge_patch(rapidjson::Value& target, const rapidjson::Value& patch,
                       rapidjson::Document::AllocatorType& allocator, bool conditions_by_type);

// Compact JSON text of a value.
std::string to_json(const rapidjson::Value& value);

// JSON string literal (with quotes) of `text`.
std::string json_quote(std::string_view text);

}  // namespace hostgw::testing
