#include "netfilter/masquerade_rules.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <set>

namespace hostgw::netfilter {

using routing::Family;
using routing::IpAddress;
using routing::IpPrefix;

namespace {

// One family's view: which sets, which payload protocol, which multicast range.
struct FamilyNames {
  Family family;
  std::string_view protocol;  // "ip" / "ip6"
  std::string_view type;      // "ipv4_addr" / "ipv6_addr"
  std::string_view pod_cidrs;
  std::string_view node_addresses;
  std::string_view no_masquerade;
  std::string_view multicast_address;
  unsigned multicast_length;
  std::string_view comment;
};

constexpr FamilyNames kFamilies[] = {
    {Family::v4, "ip", "ipv4_addr", kPodCidrsV4, kNodeAddressesV4, kNoMasqueradeV4, "224.0.0.0", 4,
     "masquerade IPv4 pod traffic leaving the cluster"},
    {Family::v6, "ip6", "ipv6_addr", kPodCidrsV6, kNodeAddressesV6, kNoMasqueradeV6, "ff00::", 8,
     "masquerade IPv6 pod traffic leaving the cluster"},
};

// nft's element text: a full-length prefix as a plain address.
std::string element_text(const IpPrefix& prefix) {
  if (prefix.length() == prefix.address().bit_width()) return prefix.address().to_string();
  return prefix.to_string();
}
std::string element_text(const IpAddress& address) {
  return address.to_string();
}

template <typename T>
std::vector<std::string> texts_of(const std::vector<T>& values, Family family) {
  std::vector<std::string> out;
  for (const T& value : values)
    if (value.family() == family) out.push_back(element_text(value));
  return out;
}

std::string join(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& element : elements) {
    if (!out.empty()) out += ", ";
    out += element;
  }
  return out;
}

void append_set(std::string& out, std::string_view name, std::string_view type, bool interval,
                const std::vector<std::string>& elements) {
  out += "  set " + std::string(name) + " {\n    type " + std::string(type) + "\n";
  if (interval) out += "    flags interval\n";
  if (!elements.empty()) out += "    elements = { " + join(elements) + " }\n";
  out += "  }\n";
}

std::string rule_text(const FamilyNames& names) {
  const std::string p(names.protocol);
  return p + " saddr @" + std::string(names.pod_cidrs) + " " + p + " daddr != @" + std::string(names.pod_cidrs) + " " +
         p + " daddr != @" + std::string(names.node_addresses) + " " + p + " daddr != @" +
         std::string(names.no_masquerade) + " " + p + " daddr != " + std::string(names.multicast_address) + "/" +
         std::to_string(names.multicast_length) + " masquerade comment \"" + std::string(names.comment) + "\"";
}

// The rule's expressions as libnftables lists them (libnftables-json(5)).
std::string expected_expressions_json(const FamilyNames& names) {
  auto match = [&](std::string_view op, std::string_view field, const std::string& right) {
    return "{\"match\": {\"op\": \"" + std::string(op) + "\", \"left\": {\"payload\": {\"protocol\": \"" +
           std::string(names.protocol) + "\", \"field\": \"" + std::string(field) + "\"}}, \"right\": " + right + "}}";
  };
  auto set_ref = [](std::string_view set) { return "\"@" + std::string(set) + "\""; };
  return "[" + match("==", "saddr", set_ref(names.pod_cidrs)) + ", " + match("!=", "daddr", set_ref(names.pod_cidrs)) +
         ", " + match("!=", "daddr", set_ref(names.node_addresses)) + ", " +
         match("!=", "daddr", set_ref(names.no_masquerade)) + ", " +
         match("!=", "daddr",
               "{\"prefix\": {\"addr\": \"" + std::string(names.multicast_address) +
                   "\", \"len\": " + std::to_string(names.multicast_length) + "}}") +
         ", {\"masquerade\": null}]";
}

template <typename T>
void sort_unique(std::vector<T>& values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
}

// Element changes of one set; `interval` sets switch to replace_all when an
// added interval overlaps a removed one.
template <typename T>
std::optional<SetChange> diff_set(std::string_view name, bool interval, const std::vector<T>& current,
                                  const std::vector<T>& desired, Family family) {
  std::vector<T> now;
  std::vector<T> want;
  for (const T& v : current)
    if (v.family() == family) now.push_back(v);
  for (const T& v : desired)
    if (v.family() == family) want.push_back(v);
  std::vector<T> added;
  std::vector<T> removed;
  std::set_difference(want.begin(), want.end(), now.begin(), now.end(), std::back_inserter(added));
  std::set_difference(now.begin(), now.end(), want.begin(), want.end(), std::back_inserter(removed));
  if (added.empty() && removed.empty()) return std::nullopt;
  SetChange change;
  change.set = name;
  if constexpr (std::is_same_v<T, IpPrefix>) {
    if (interval) {
      for (const auto& a : added)
        for (const auto& r : removed)
          if (a.overlaps(r)) change.replace_all = true;
    }
  }
  if (change.replace_all) {
    for (const T& v : want) change.add.push_back(element_text(v));
    return change;
  }
  for (const T& v : added) change.add.push_back(element_text(v));
  for (const T& v : removed) change.remove.push_back(element_text(v));
  return change;
}

// --- reading a listing back ---------------------------------------------------

std::optional<IpPrefix> parse_interval_element(const rapidjson::Value& element, Family family) {
  if (element.IsString()) {
    auto address = IpAddress::try_parse(element.GetString());
    if (!address || address->family() != family) return std::nullopt;
    return IpPrefix(*address, address->bit_width());
  }
  if (element.IsObject() && element.HasMember("prefix")) {
    const auto& prefix = element["prefix"];
    if (!prefix.IsObject() || !prefix.HasMember("addr") || !prefix["addr"].IsString() || !prefix.HasMember("len") ||
        !prefix["len"].IsUint())
      return std::nullopt;
    auto address = IpAddress::try_parse(prefix["addr"].GetString());
    if (!address || address->family() != family || prefix["len"].GetUint() > address->bit_width()) return std::nullopt;
    IpPrefix out = IpPrefix::containing(*address, prefix["len"].GetUint());
    if (out.address() != *address) return std::nullopt;
    return out;
  }
  return std::nullopt;  // ranges, elements with timeouts or comments: not something we write
}

std::string describe(const rapidjson::Value& value) {
  if (value.IsString()) return std::string("\"") + value.GetString() + "\"";
  if (value.IsObject() && value.MemberCount() > 0)
    return std::string("{") + value.MemberBegin()->name.GetString() + ": ...}";
  return "an element of another kind";
}

struct SetSpec {
  std::string_view name;
  const FamilyNames* names;
  bool interval;
};

}  // namespace

std::string_view node_address_set(Family family) {
  return family == Family::v4 ? kNodeAddressesV4 : kNodeAddressesV6;
}

std::optional<Family> node_address_set_family(std::string_view set) {
  for (Family family : {Family::v4, Family::v6})
    if (node_address_set(family) == set) return family;
  return std::nullopt;
}

std::string qualified_set(std::string_view set) {
  return std::string(kTableFamily) + " " + std::string(kTableName) + " " + std::string(set);
}

std::vector<IpPrefix> normalize_prefixes(std::vector<IpPrefix> prefixes) {
  sort_unique(prefixes);
  std::vector<IpPrefix> out;
  for (const IpPrefix& prefix : prefixes) {
    // Sorted by (family, address, length): a covering prefix comes before
    // everything it covers, so comparing with the last kept one is enough.
    if (!out.empty() && out.back().family() == prefix.family() && out.back().contains(prefix)) continue;
    out.push_back(prefix);
  }
  return out;
}

MasqueradeSets make_masquerade_sets(std::vector<IpPrefix> pod_cidrs, std::vector<IpAddress> node_addresses,
                                    std::vector<IpPrefix> no_masquerade) {
  MasqueradeSets sets;
  sets.pod_cidrs = normalize_prefixes(std::move(pod_cidrs));
  sort_unique(node_addresses);
  sets.node_addresses = std::move(node_addresses);
  sets.no_masquerade = normalize_prefixes(std::move(no_masquerade));
  return sets;
}

std::string render_table_script(const MasqueradeSets& sets) {
  const std::string table = std::string(kTableFamily) + " " + std::string(kTableName);
  std::string out = "table " + table + "\ndelete table " + table + "\ntable " + table + " {\n";
  for (const FamilyNames& names : kFamilies) {
    append_set(out, names.pod_cidrs, names.type, true, texts_of(sets.pod_cidrs, names.family));
    append_set(out, names.node_addresses, names.type, false, texts_of(sets.node_addresses, names.family));
    append_set(out, names.no_masquerade, names.type, true, texts_of(sets.no_masquerade, names.family));
  }
  out += "  chain " + std::string(kChainName) + " {\n    type nat hook postrouting priority " +
         std::to_string(kChainPriority) + "; policy accept;\n";
  for (const FamilyNames& names : kFamilies) out += "    " + rule_text(names) + "\n";
  out += "  }\n}\n";
  return out;
}

std::string render_delete_script() {
  const std::string table = std::string(kTableFamily) + " " + std::string(kTableName);
  return "table " + table + "\ndelete table " + table + "\n";
}

std::size_t MasqueradeUpdate::element_count() const {
  std::size_t count = 0;
  for (const auto& change : sets) count += change.add.size() + change.remove.size();
  return count;
}

MasqueradeUpdate diff_masquerade_sets(const MasqueradeSets& current, const MasqueradeSets& desired) {
  MasqueradeUpdate update;
  for (const FamilyNames& names : kFamilies) {
    if (auto change = diff_set(names.pod_cidrs, true, current.pod_cidrs, desired.pod_cidrs, names.family))
      update.sets.push_back(std::move(*change));
    if (auto change =
            diff_set(names.node_addresses, false, current.node_addresses, desired.node_addresses, names.family))
      update.sets.push_back(std::move(*change));
    if (auto change = diff_set(names.no_masquerade, true, current.no_masquerade, desired.no_masquerade, names.family))
      update.sets.push_back(std::move(*change));
  }
  return update;
}

std::string render_update_script(const MasqueradeUpdate& update) {
  std::string out;
  for (const auto& change : update.sets) {
    if (change.replace_all) out += "flush set " + qualified_set(change.set) + "\n";
    if (!change.remove.empty())
      out += "delete element " + qualified_set(change.set) + " { " + join(change.remove) + " }\n";
  }
  for (const auto& change : update.sets) {
    if (!change.add.empty()) out += "add element " + qualified_set(change.set) + " { " + join(change.add) + " }\n";
  }
  return out;
}

std::optional<MasqueradeTableState> parse_table_listing(std::string_view json, std::string* error) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError() || !document.IsObject() || !document.HasMember("nftables") ||
      !document["nftables"].IsArray()) {
    if (error) *error = "not an nftables JSON listing: " + std::string(json.substr(0, 80));
    return std::nullopt;
  }
  MasqueradeTableState state;
  auto& differences = state.differences;
  const SetSpec specs[] = {
      {kPodCidrsV4, &kFamilies[0], true},       {kNodeAddressesV4, &kFamilies[0], false},
      {kNoMasqueradeV4, &kFamilies[0], true},   {kPodCidrsV6, &kFamilies[1], true},
      {kNodeAddressesV6, &kFamilies[1], false}, {kNoMasqueradeV6, &kFamilies[1], true},
  };
  std::set<std::string_view> sets_seen;
  bool chain_seen = false;
  std::vector<const rapidjson::Value*> rules;

  // A table names itself in "name"; everything inside it names it in "table".
  auto ours = [](std::string_view kind, const rapidjson::Value& object) {
    const char* table_field = kind == "table" ? "name" : "table";
    return object.HasMember("family") && object["family"].IsString() &&
           object["family"].GetString() == std::string_view(kTableFamily) && object.HasMember(table_field) &&
           object[table_field].IsString() && object[table_field].GetString() == std::string_view(kTableName);
  };
  for (const auto& entry : document["nftables"].GetArray()) {
    if (!entry.IsObject() || entry.MemberCount() != 1) continue;
    const std::string_view kind = entry.MemberBegin()->name.GetString();
    const auto& object = entry.MemberBegin()->value;
    if (kind == "metainfo" || !object.IsObject()) continue;
    if (!ours(kind, object)) continue;  // never ours to judge
    if (kind == "table") {
      state.present = true;
      continue;
    }
    const std::string name = object.HasMember("name") && object["name"].IsString() ? object["name"].GetString() : "";
    if (kind == "set") {
      const SetSpec* spec = nullptr;
      for (const auto& candidate : specs)
        if (candidate.name == name) spec = &candidate;
      if (!spec) {
        differences.push_back("set " + name + " is not one of ours");
        continue;
      }
      sets_seen.insert(spec->name);
      if (!object.HasMember("type") || !object["type"].IsString() ||
          object["type"].GetString() != std::string_view(spec->names->type)) {
        differences.push_back("set " + name + " has another type");
        continue;
      }
      bool interval = false;
      bool other_flags = false;
      if (object.HasMember("flags") && object["flags"].IsArray()) {
        for (const auto& flag : object["flags"].GetArray()) {
          if (flag.IsString() && flag.GetString() == std::string_view("interval"))
            interval = true;
          else
            other_flags = true;
        }
      }
      if (interval != spec->interval || other_flags) {
        differences.push_back("set " + name + " has other flags");
        continue;
      }
      if (!object.HasMember("elem")) continue;
      if (!object["elem"].IsArray()) {
        differences.push_back("set " + name + " has unreadable elements");
        continue;
      }
      for (const auto& element : object["elem"].GetArray()) {
        if (spec->interval) {
          auto prefix = parse_interval_element(element, spec->names->family);
          if (!prefix) {
            differences.push_back("set " + name + " holds " + describe(element) + ", which kube-hostgw never writes");
            continue;
          }
          (spec->name == spec->names->pod_cidrs ? state.sets.pod_cidrs : state.sets.no_masquerade).push_back(*prefix);
        } else {
          auto address = element.IsString() ? IpAddress::try_parse(element.GetString()) : std::nullopt;
          if (!address || address->family() != spec->names->family) {
            differences.push_back("set " + name + " holds " + describe(element) + ", which kube-hostgw never writes");
            continue;
          }
          state.sets.node_addresses.push_back(*address);
        }
      }
    } else if (kind == "chain") {
      if (name != kChainName) {
        differences.push_back("chain " + name + " is not ours");
        continue;
      }
      chain_seen = true;
      auto field_is = [&](const char* field, std::string_view value) {
        return object.HasMember(field) && object[field].IsString() && object[field].GetString() == value;
      };
      if (!field_is("type", "nat") || !field_is("hook", "postrouting") || !field_is("policy", "accept") ||
          !object.HasMember("prio") || !object["prio"].IsInt() || object["prio"].GetInt() != kChainPriority) {
        differences.push_back("chain " + name + " is not a nat chain at hook postrouting, priority " +
                              std::to_string(kChainPriority) + ", policy accept");
      }
    } else if (kind == "rule") {
      if (!object.HasMember("chain") || !object["chain"].IsString() ||
          object["chain"].GetString() != std::string_view(kChainName)) {
        continue;  // a rule in a chain not ours: already reported with the chain
      }
      rules.push_back(&object);
    } else {
      differences.push_back(std::string(kind) + " " + name + " is not ours");
    }
  }
  if (!state.present) {
    state.differences.clear();
    state.sets = {};
    return state;
  }
  for (const auto& spec : specs)
    if (!sets_seen.count(spec.name)) differences.push_back("set " + std::string(spec.name) + " is missing");
  if (!chain_seen) differences.push_back("chain " + std::string(kChainName) + " is missing");
  if (rules.size() != std::size(kFamilies)) {
    differences.push_back("chain " + std::string(kChainName) + " has " + std::to_string(rules.size()) +
                          " rules instead of " + std::to_string(std::size(kFamilies)));
  }
  for (std::size_t i = 0; i < std::min(rules.size(), std::size(kFamilies)); ++i) {
    rapidjson::Document expected;
    expected.Parse(expected_expressions_json(kFamilies[i]).c_str());
    const auto& rule = *rules[i];
    const bool expressions_equal = rule.HasMember("expr") && rule["expr"] == expected;
    const bool comment_equal = rule.HasMember("comment") && rule["comment"].IsString() &&
                               rule["comment"].GetString() == std::string_view(kFamilies[i].comment);
    if (!expressions_equal || !comment_equal)
      differences.push_back("rule " + std::to_string(i + 1) + " of chain " + std::string(kChainName) + " changed");
  }
  state.sets.pod_cidrs = normalize_prefixes(std::move(state.sets.pod_cidrs));
  state.sets.no_masquerade = normalize_prefixes(std::move(state.sets.no_masquerade));
  sort_unique(state.sets.node_addresses);
  return state;
}

std::string_view to_string(MasqueradeAction action) {
  switch (action) {
    case MasqueradeAction::none:
      return "none";
    case MasqueradeAction::replace_table:
      return "replace table";
    case MasqueradeAction::update_elements:
      return "update elements";
    case MasqueradeAction::delete_table:
      return "delete table";
  }
  return "unknown";
}

MasqueradePlan plan_masquerade(const MasqueradeTableState& current, const std::optional<MasqueradeSets>& desired) {
  MasqueradePlan plan;
  const std::string table = "table " + std::string(kTableFamily) + " " + std::string(kTableName);
  if (!desired) {
    if (current.present) {
      plan.action = MasqueradeAction::delete_table;
      plan.reason = "masquerade is off and " + table + " exists";
    }
    return plan;
  }
  if (!current.present) {
    plan.action = MasqueradeAction::replace_table;
    plan.reason = table + " is missing";
    return plan;
  }
  if (!current.differences.empty()) {
    plan.action = MasqueradeAction::replace_table;
    plan.reason = table + " differs from ours: " + current.differences.front();
    if (current.differences.size() > 1)
      plan.reason += " (and " + std::to_string(current.differences.size() - 1) + " more)";
    return plan;
  }
  plan.update = diff_masquerade_sets(current.sets, *desired);
  if (!plan.update.empty()) {
    plan.action = MasqueradeAction::update_elements;
    plan.reason = std::to_string(plan.update.element_count()) + " set element(s) differ";
  }
  return plan;
}

}  // namespace hostgw::netfilter
