#include "node_store.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <charconv>

#include "common/base64.hpp"
#include "json_util.hpp"

namespace hostgw::testing {

std::string_view to_string(EventType type) {
  switch (type) {
    case EventType::added:
      return "ADDED";
    case EventType::modified:
      return "MODIFIED";
    case EventType::deleted:
      return "DELETED";
  }
  return "MODIFIED";
}

namespace {

using rapidjson::Document;
using rapidjson::Value;

std::string quoted(std::string_view name) { return "nodes \"" + std::string(name) + "\""; }

[[noreturn]] void not_found(std::string_view name) {
  throw StoreError(404, "NotFound", quoted(name) + " not found", std::string(name));
}

Document parse_json(std::string_view text, const char* what) {
  Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError())
    throw StoreError(400, "BadRequest",
                     std::string(what) + " is not valid JSON: " + rapidjson::GetParseError_En(doc.GetParseError()) +
                         " at offset " + std::to_string(doc.GetErrorOffset()));
  if (!doc.IsObject()) throw StoreError(400, "BadRequest", std::string(what) + " is not a JSON object");
  return doc;
}

std::string_view string_member(const Value& object, const char* key) {
  if (!object.IsObject()) return {};
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

Value& object_member(Value& object, const char* key, Document::AllocatorType& allocator) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd()) {
    object.AddMember(Value(key, allocator), Value(rapidjson::kObjectType), allocator);
    it = object.FindMember(key);
  }
  if (!it->value.IsObject()) it->value.SetObject();
  return it->value;
}

void set_string(Value& object, const char* key, std::string_view value, Document::AllocatorType& allocator) {
  Value v(value.data(), static_cast<rapidjson::SizeType>(value.size()), allocator);
  auto it = object.FindMember(key);
  if (it == object.MemberEnd())
    object.AddMember(Value(key, allocator), v, allocator);
  else
    it->value = v;
}

// RFC 1123 subdomain, as kube-apiserver requires for Node names.
void validate_name(std::string_view name) {
  if (name.empty()) throw StoreError(422, "Invalid", "Node \"\" is invalid: metadata.name: Required value: name is required");
  auto invalid = [&](const std::string& why) {
    throw StoreError(422, "Invalid",
                     "Node \"" + std::string(name) + "\" is invalid: metadata.name: Invalid value: \"" +
                         std::string(name) + "\": " + why,
                     std::string(name));
  };
  if (name.size() > 253) invalid("must be no more than 253 characters");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : name)
    if (!alnum(c) && c != '-' && c != '.')
      invalid("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'");
  if (!alnum(name.front()) || !alnum(name.back()))
    invalid("a lowercase RFC 1123 subdomain must start and end with an alphanumeric character");
}

// Checks kind/apiVersion and returns metadata.name (validated).
std::string node_name(const Document& doc) {
  auto kind = string_member(doc, "kind");
  if (!kind.empty() && kind != "Node")
    throw StoreError(400, "BadRequest", "the object's kind is \"" + std::string(kind) + "\", expected \"Node\"");
  auto api_version = string_member(doc, "apiVersion");
  if (!api_version.empty() && api_version != "v1")
    throw StoreError(400, "BadRequest",
                     "the object's apiVersion is \"" + std::string(api_version) + "\", expected \"v1\"");
  auto metadata = doc.FindMember("metadata");
  if (metadata != doc.MemberEnd() && !metadata->value.IsObject())
    throw StoreError(400, "BadRequest", "the object's metadata is not a JSON object");
  std::string name(string_member(metadata == doc.MemberEnd() ? doc : metadata->value, "name"));
  if (metadata == doc.MemberEnd()) name.clear();
  validate_name(name);
  return name;
}

// kube-apiserver keeps spec.podCIDR and spec.podCIDRs in step: one defaults
// the other, and when both are set the first of podCIDRs must be podCIDR.
void normalize_pod_cidrs(Document& doc, const std::string& name) {
  auto spec_it = doc.FindMember("spec");
  if (spec_it == doc.MemberEnd() || !spec_it->value.IsObject()) return;
  Value& spec = spec_it->value;
  auto& allocator = doc.GetAllocator();
  auto single = spec.FindMember("podCIDR");
  auto list = spec.FindMember("podCIDRs");
  const bool has_single = single != spec.MemberEnd() && single->value.IsString() && single->value.GetStringLength();
  const bool has_list = list != spec.MemberEnd() && list->value.IsArray() && !list->value.Empty();
  if (list != spec.MemberEnd() && !list->value.IsArray())
    throw StoreError(422, "Invalid", "Node \"" + name + "\" is invalid: spec.podCIDRs: must be a list", name);
  if (has_list) {
    for (const auto& cidr : list->value.GetArray())
      if (!cidr.IsString())
        throw StoreError(422, "Invalid", "Node \"" + name + "\" is invalid: spec.podCIDRs: must hold strings", name);
  }
  if (has_single && !has_list) {
    Value cidrs(rapidjson::kArrayType);
    cidrs.PushBack(Value(single->value, allocator), allocator);
    if (list == spec.MemberEnd())
      spec.AddMember("podCIDRs", cidrs, allocator);
    else
      list->value = cidrs;
  } else if (has_list && !has_single) {
    Value first(list->value[0], allocator);
    if (single == spec.MemberEnd())
      spec.AddMember("podCIDR", first, allocator);
    else
      single->value = first;
  } else if (has_list && has_single && single->value != list->value[0]) {
    throw StoreError(422, "Invalid",
                     "Node \"" + name + "\" is invalid: spec.podCIDRs[0]: Invalid value: must match spec.podCIDR \"" +
                         single->value.GetString() + "\"",
                     name);
  }
}

// kind and apiVersion first, as kube-apiserver writes objects.
void put_type_first(Value& object, Document::AllocatorType& allocator) {
  Value ordered(rapidjson::kObjectType);
  ordered.AddMember("kind", "Node", allocator);
  ordered.AddMember("apiVersion", "v1", allocator);
  for (auto& member : object.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (name == "kind" || name == "apiVersion") continue;
    ordered.AddMember(member.name, member.value, allocator);  // moves
  }
  object.Swap(ordered);
}

Value* find_metadata(Document& doc) {
  auto it = doc.FindMember("metadata");
  return it == doc.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

NodeStore::NodeStore(std::size_t history_limit) : history_limit_(std::max<std::size_t>(history_limit, 1)) {}

void NodeStore::set_on_change(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_change_ = std::move(callback);
}

void NodeStore::notify() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    callback = on_change_;
  }
  if (callback) callback();
}

std::uint64_t NodeStore::commit_locked(const std::string& name, EventType type, JsonText json) {
  const std::uint64_t rv = ++resource_version_;
  if (type == EventType::deleted)
    nodes_.erase(name);
  else
    nodes_[name] = Stored{rv, json};
  history_.push_back(WatchEvent{rv, name, type, std::move(json)});
  while (history_.size() > history_limit_) {
    oldest_resource_version_ = history_.front().resource_version;
    history_.pop_front();
  }
  cached_snapshot_.reset();
  return rv;
}

Written NodeStore::create(std::string_view json) {
  Document doc = parse_json(json, "the Node");
  const std::string name = node_name(doc);
  normalize_pod_cidrs(doc, name);
  auto& allocator = doc.GetAllocator();
  Value& metadata = *find_metadata(doc);
  if (string_member(metadata, "uid").empty()) set_string(metadata, "uid", random_uuid(), allocator);
  if (string_member(metadata, "creationTimestamp").empty())
    set_string(metadata, "creationTimestamp", rfc3339_now(), allocator);
  put_type_first(doc, allocator);
  Written written;
  {
    std::lock_guard lock(mutex_);
    if (nodes_.count(name)) throw StoreError(409, "AlreadyExists", quoted(name) + " already exists", name);
    // (put_type_first moved the members: look metadata up again.)
    set_string(*find_metadata(doc), "resourceVersion", std::to_string(resource_version_ + 1), allocator);
    auto text = std::make_shared<const std::string>(to_json(doc));
    written.resource_version = commit_locked(name, EventType::added, text);
    written.json = text;
  }
  notify();
  return written;
}

std::uint64_t NodeStore::create_many(const std::vector<std::string>& objects) {
  // One node at a time: a parsed Document holds a 64 KiB pool, so thousands
  // of them at once would cost hundreds of MiB. Stops at the first bad or
  // duplicate node (the ones before it stay created).
  std::uint64_t rv = 0;
  struct NotifyAtEnd {
    NodeStore* store;
    ~NotifyAtEnd() { store->notify(); }
  } notify_at_end{this};
  for (const auto& json : objects) {
    Document doc = parse_json(json, "the Node");
    const std::string name = node_name(doc);
    normalize_pod_cidrs(doc, name);
    auto& allocator = doc.GetAllocator();
    Value& metadata = *find_metadata(doc);
    if (string_member(metadata, "uid").empty()) set_string(metadata, "uid", random_uuid(), allocator);
    if (string_member(metadata, "creationTimestamp").empty())
      set_string(metadata, "creationTimestamp", rfc3339_now(), allocator);
    put_type_first(doc, allocator);
    std::lock_guard lock(mutex_);
    if (nodes_.count(name)) throw StoreError(409, "AlreadyExists", quoted(name) + " already exists", name);
    set_string(*find_metadata(doc), "resourceVersion", std::to_string(resource_version_ + 1), allocator);
    rv = commit_locked(name, EventType::added, std::make_shared<const std::string>(to_json(doc)));
  }
  return rv;
}

Written NodeStore::replace(std::string_view json, std::string_view path_name, Subresource subresource,
                            bool keep_status) {
  Document doc = parse_json(json, "the Node");
  const std::string name = node_name(doc);
  if (!path_name.empty() && path_name != name)
    throw StoreError(400, "BadRequest",
                     "the name of the object (" + name + ") does not match the name on the URL (" +
                         std::string(path_name) + ")",
                     name);
  normalize_pod_cidrs(doc, name);
  auto& allocator = doc.GetAllocator();
  Written written;
  {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(name);
    if (it == nodes_.end()) not_found(name);
    const std::string current_rv = std::to_string(it->second.resource_version);
    auto body_rv = string_member(*find_metadata(doc), "resourceVersion");
    if (!body_rv.empty() && body_rv != current_rv)
      throw StoreError(409, "Conflict",
                       "Operation cannot be fulfilled on " + quoted(name) +
                           ": the object has been modified; please apply your changes to the latest version and try "
                           "again",
                       name);
    Document existing;
    existing.Parse(it->second.json->data(), it->second.json->size());
    Value& existing_metadata = *find_metadata(existing);
    Value& metadata = *find_metadata(doc);
    set_string(metadata, "uid", string_member(existing_metadata, "uid"), allocator);
    set_string(metadata, "creationTimestamp", string_member(existing_metadata, "creationTimestamp"), allocator);
    set_string(metadata, "resourceVersion", current_rv, allocator);
    put_type_first(doc, allocator);
    if (subresource == Subresource::status) {
      // Only the status changes through /status.
      Document result;
      result.CopyFrom(existing, result.GetAllocator());
      Value status(rapidjson::kObjectType);
      if (auto s = doc.FindMember("status"); s != doc.MemberEnd()) status.CopyFrom(s->value, result.GetAllocator());
      result.RemoveMember("status");
      result.AddMember("status", status, result.GetAllocator());
      doc.CopyFrom(result, allocator);
    } else if (keep_status) {
      doc.RemoveMember("status");
      if (auto s = existing.FindMember("status"); s != existing.MemberEnd())
        doc.AddMember("status", Value(s->value, allocator), allocator);
    }
    // A write that changes nothing is not an event (unless the test API asks for one).
    if (keep_status && doc == existing) return Written{it->second.resource_version, it->second.json};
    set_string(*find_metadata(doc), "resourceVersion", std::to_string(resource_version_ + 1), allocator);
    auto text = std::make_shared<const std::string>(to_json(doc));
    written.resource_version = commit_locked(name, EventType::modified, text);
    written.json = text;
  }
  notify();
  return written;
}

Written NodeStore::patch(std::string_view name, std::string_view patch_json, PatchType type,
                          Subresource subresource) {
  Document patch = parse_json(patch_json, "the patch");
  Written written;
  {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(name);
    if (it == nodes_.end()) not_found(name);
    const std::string current_rv = std::to_string(it->second.resource_version);
    if (auto metadata = patch.FindMember("metadata"); metadata != patch.MemberEnd()) {
      auto rv = string_member(metadata->value, "resourceVersion");
      if (!rv.empty() && rv != current_rv)
        throw StoreError(409, "Conflict",
                         "Operation cannot be fulfilled on " + quoted(name) +
                             ": the object has been modified; please apply your changes to the latest version and "
                             "try again",
                         std::string(name));
      auto patched_name = metadata->value.FindMember("name");
      if (patched_name != metadata->value.MemberEnd() &&
          (!patched_name->value.IsString() || std::string_view(patched_name->value.GetString()) != name))
        throw StoreError(400, "BadRequest", "the patch changes metadata.name of " + quoted(name) + ", which is immutable",
                         std::string(name));
    }
    Document existing;
    existing.Parse(it->second.json->data(), it->second.json->size());
    Document patched;
    patched.CopyFrom(existing, patched.GetAllocator());
    apply_merge_patch(patched, patch, patched.GetAllocator(), type == PatchType::strategic);
    if (!patched.IsObject()) throw StoreError(400, "BadRequest", "the patch does not leave a JSON object");
    auto& allocator = patched.GetAllocator();
    // Identity fields are not patchable.
    Value& metadata = object_member(patched, "metadata", allocator);
    Value& existing_metadata = *find_metadata(existing);
    set_string(metadata, "name", name, allocator);
    set_string(metadata, "uid", string_member(existing_metadata, "uid"), allocator);
    set_string(metadata, "creationTimestamp", string_member(existing_metadata, "creationTimestamp"), allocator);
    set_string(metadata, "resourceVersion", current_rv, allocator);
    put_type_first(patched, allocator);
    if (subresource == Subresource::status) {
      Document result;
      result.CopyFrom(existing, result.GetAllocator());
      Value status(rapidjson::kObjectType);
      if (auto s = patched.FindMember("status"); s != patched.MemberEnd())
        status.CopyFrom(s->value, result.GetAllocator());
      result.RemoveMember("status");
      result.AddMember("status", status, result.GetAllocator());
      patched.CopyFrom(result, allocator);
    } else {
      patched.RemoveMember("status");
      if (auto s = existing.FindMember("status"); s != existing.MemberEnd())
        patched.AddMember("status", Value(s->value, allocator), allocator);
    }
    normalize_pod_cidrs(patched, std::string(name));
    if (patched == existing) return Written{it->second.resource_version, it->second.json};  // no-op patch: no new resourceVersion, no event
    set_string(*find_metadata(patched), "resourceVersion", std::to_string(resource_version_ + 1), allocator);
    auto text = std::make_shared<const std::string>(to_json(patched));
    written.resource_version = commit_locked(std::string(name), EventType::modified, text);
    written.json = text;
  }
  notify();
  return written;
}

Written NodeStore::remove(std::string_view name) {
  Written written;
  {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(name);
    if (it == nodes_.end()) not_found(name);
    Document doc;
    doc.Parse(it->second.json->data(), it->second.json->size());
    set_string(*find_metadata(doc), "resourceVersion", std::to_string(resource_version_ + 1), doc.GetAllocator());
    auto text = std::make_shared<const std::string>(to_json(doc));
    written.resource_version = commit_locked(std::string(name), EventType::deleted, text);
    written.json = text;
  }
  notify();
  return written;
}

Written NodeStore::touch(std::string_view name) {
  Written written;
  const std::string now = rfc3339_now();
  {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(name);
    if (it == nodes_.end()) not_found(name);
    Document doc;
    doc.Parse(it->second.json->data(), it->second.json->size());
    auto& allocator = doc.GetAllocator();
    if (auto status = doc.FindMember("status"); status != doc.MemberEnd() && status->value.IsObject()) {
      if (auto conditions = status->value.FindMember("conditions");
          conditions != status->value.MemberEnd() && conditions->value.IsArray()) {
        for (auto& condition : conditions->value.GetArray())
          if (condition.IsObject()) set_string(condition, "lastHeartbeatTime", now, allocator);
      }
    }
    set_string(*find_metadata(doc), "resourceVersion", std::to_string(resource_version_ + 1), allocator);
    auto text = std::make_shared<const std::string>(to_json(doc));
    written.resource_version = commit_locked(std::string(name), EventType::modified, text);
    written.json = text;
  }
  notify();
  return written;
}

JsonText NodeStore::get(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : it->second.json;
}

std::vector<std::string> NodeStore::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  out.reserve(nodes_.size());
  for (const auto& [name, stored] : nodes_) out.push_back(name);
  return out;
}

std::uint64_t NodeStore::resource_version() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

std::uint64_t NodeStore::oldest_resource_version() const {
  std::lock_guard lock(mutex_);
  return oldest_resource_version_;
}

NodeStore::Snapshot NodeStore::current_snapshot_locked() {
  if (!cached_snapshot_) {
    auto items = std::make_shared<std::vector<std::pair<std::string, JsonText>>>();
    items->reserve(nodes_.size());
    for (const auto& [name, stored] : nodes_) items->emplace_back(name, stored.json);
    cached_snapshot_ = std::move(items);
  }
  return cached_snapshot_;
}

NodeStore::Page NodeStore::list(std::size_t limit, std::string_view continue_token,
                                std::string_view resource_version_param) {
  std::uint64_t min_rv = 0;
  if (!resource_version_param.empty()) {
    auto [end, ec] = std::from_chars(resource_version_param.data(),
                                     resource_version_param.data() + resource_version_param.size(), min_rv);
    if (ec != std::errc() || end != resource_version_param.data() + resource_version_param.size())
      throw StoreError(400, "BadRequest",
                       "invalid resourceVersion \"" + std::string(resource_version_param) + "\": not a number");
  }
  std::lock_guard lock(mutex_);
  Page page;
  Snapshot snapshot;
  std::size_t start = 0;
  if (!continue_token.empty()) {
    auto expired = [&](const std::string& why) {
      return StoreError(410, "Expired",
                        "The provided continue parameter is too old to display a consistent list result. You can "
                        "start a new list without the continue parameter (" +
                            why + ")");
    };
    auto decoded = common::base64_decode(continue_token);
    if (!decoded) throw expired("continue token is not base64");
    Document token;
    token.Parse(decoded->data(), decoded->size());
    if (token.HasParseError() || !token.IsObject() || !token.HasMember("rv") || !token["rv"].IsUint64() ||
        !token.HasMember("start") || !token["start"].IsString())
      throw expired("continue token is not one this server issued");
    const std::uint64_t rv = token["rv"].GetUint64();
    for (const auto& [snapshot_rv, stored] : snapshots_)
      if (snapshot_rv == rv) snapshot = stored;
    if (!snapshot) throw expired("resourceVersion " + std::to_string(rv) + " has been compacted");
    page.resource_version = rv;
    const std::string_view after(token["start"].GetString(), token["start"].GetStringLength());
    start = static_cast<std::size_t>(
        std::upper_bound(snapshot->begin(), snapshot->end(), after,
                         [](std::string_view value, const auto& item) { return value < item.first; }) -
        snapshot->begin());
  } else {
    if (min_rv > resource_version_)
      throw StoreError(504, "Timeout",
                       "Too large resource version: " + std::to_string(min_rv) +
                           ", current: " + std::to_string(resource_version_));
    snapshot = current_snapshot_locked();
    page.resource_version = resource_version_;
  }
  std::size_t end = snapshot->size();
  if (limit > 0 && start + limit < end) end = start + limit;
  page.items.reserve(end - start);
  for (std::size_t i = start; i < end; ++i) page.items.push_back((*snapshot)[i].second);
  if (end < snapshot->size()) {
    page.remaining_items = snapshot->size() - end;
    page.continue_token =
        common::base64_encode("{\"v\":\"meta.k8s.io/v1\",\"rv\":" + std::to_string(page.resource_version) +
                              ",\"start\":" + json_quote((*snapshot)[end - 1].first) + "}");
    bool kept = false;
    for (const auto& [snapshot_rv, stored] : snapshots_) kept = kept || snapshot_rv == page.resource_version;
    if (!kept) {
      snapshots_.emplace_back(page.resource_version, snapshot);
      while (snapshots_.size() > kMaxSnapshots) snapshots_.pop_front();
    }
  }
  return page;
}

bool NodeStore::events_after(std::uint64_t after, std::vector<WatchEvent>& out, std::size_t max_events) const {
  std::lock_guard lock(mutex_);
  if (after < oldest_resource_version_) return false;
  auto it = std::upper_bound(history_.begin(), history_.end(), after,
                             [](std::uint64_t rv, const WatchEvent& event) { return rv < event.resource_version; });
  for (; it != history_.end() && max_events > 0; ++it, --max_events) out.push_back(*it);
  return true;
}

std::pair<std::uint64_t, NodeStore::Snapshot> NodeStore::snapshot() {
  std::lock_guard lock(mutex_);
  return {resource_version_, current_snapshot_locked()};
}

void NodeStore::compact() {
  std::lock_guard lock(mutex_);
  history_.clear();
  oldest_resource_version_ = resource_version_;
  snapshots_.clear();
}

void NodeStore::restore(std::uint64_t resource_version, const std::vector<std::string>& objects) {
  std::map<std::string, Stored, std::less<>> restored;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const std::string where = "saved node " + std::to_string(i);
    Document doc = parse_json(objects[i], where.c_str());
    const std::string name = node_name(doc);
    const std::string_view rv_text = string_member(*find_metadata(doc), "resourceVersion");
    std::uint64_t rv = 0;
    auto [end, ec] = std::from_chars(rv_text.data(), rv_text.data() + rv_text.size(), rv);
    if (ec != std::errc() || end != rv_text.data() + rv_text.size() || rv == 0 || rv > resource_version)
      throw StoreError(400, "BadRequest",
                       where + " (" + name + "): metadata.resourceVersion \"" + std::string(rv_text) +
                           "\" is not a number from 1 to the saved resourceVersion " +
                           std::to_string(resource_version));
    if (restored.count(name)) throw StoreError(400, "BadRequest", where + ": " + quoted(name) + " appears twice");
    restored.emplace(name, Stored{rv, std::make_shared<const std::string>(objects[i])});
  }
  {
    std::lock_guard lock(mutex_);
    if (!nodes_.empty() || resource_version_ != kInitialResourceVersion)
      throw StoreError(409, "Conflict", "restore needs an empty store");
    nodes_ = std::move(restored);
    resource_version_ = std::max(resource_version, kInitialResourceVersion);
    oldest_resource_version_ = resource_version_;
    history_.clear();
    snapshots_.clear();
    cached_snapshot_.reset();
  }
  notify();
}

}  // namespace hostgw::testing
