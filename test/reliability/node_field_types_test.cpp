// Every Node field kube-hostgw reads, given every JSON type it must not have:
// each is refused with a message naming the node, the field path and the
// type found, never accepted, never thrown, never crashing. Generated as a
// table: field x wrong type.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "k8s-client/node_json.hpp"

namespace hostgw::k8s {
namespace {

struct Field {
  const char* path;
  const char* expected;  // JSON type the field must have
};

// The fields NodeInfo is made from, outermost first.
const Field kFields[] = {
    {"metadata", "object"},
    {"metadata.name", "string"},
    {"metadata.resourceVersion", "string"},
    {"metadata.deletionTimestamp", "string"},
    {"spec", "object"},
    {"spec.podCIDR", "string"},
    {"spec.podCIDRs", "array"},
    {"spec.podCIDRs[0]", "string"},
    {"status", "object"},
    {"status.addresses", "array"},
    {"status.addresses[0]", "object"},
    {"status.addresses[0].type", "string"},
    {"status.addresses[0].address", "string"},
};

struct Value {
  const char* type;
  const char* json;
};
const Value kValues[] = {
    {"string", R"("x")"}, {"number", "7"}, {"boolean", "true"}, {"array", "[]"}, {"object", "{}"},
};

// A valid Node with `path` replaced by `value`.
std::string node_with(const std::string& path, const std::string& value) {
  auto at = [&](const char* field, std::string valid) { return path == field ? value : valid; };
  std::string address0 = R"({"type":)" + at("status.addresses[0].type", R"("InternalIP")") + R"(,"address":)" +
                         at("status.addresses[0].address", R"("198.51.100.12")") + "}";
  std::string status = R"({"addresses":)" + at("status.addresses", "[" + at("status.addresses[0]", address0) + "]") + "}";
  std::string spec = R"({"podCIDR":)" + at("spec.podCIDR", R"("10.244.2.0/24")") + R"(,"podCIDRs":)" +
                     at("spec.podCIDRs", "[" + at("spec.podCIDRs[0]", R"("10.244.2.0/24")") + "]") + "}";
  std::string metadata = R"({"name":)" + at("metadata.name", R"("node-b")") + R"(,"resourceVersion":)" +
                         at("metadata.resourceVersion", R"("5")") + R"(,"deletionTimestamp":)" +
                         at("metadata.deletionTimestamp", "null") + "}";
  return R"({"metadata":)" + at("metadata", metadata) + R"(,"spec":)" + at("spec", spec) + R"(,"status":)" +
         at("status", status) + "}";
}

struct TypeCase {
  std::string path;
  std::string expected;
  std::string type;
  std::string json;
};

std::vector<TypeCase> all_cases() {
  std::vector<TypeCase> cases;
  for (const Field& field : kFields)
    for (const Value& value : kValues)
      if (std::string(value.type) != field.expected)
        cases.push_back({field.path, field.expected, value.type, node_with(field.path, value.json)});
  return cases;
}

class NodeFieldTypeTest : public ::testing::TestWithParam<TypeCase> {};

TEST(NodeFieldTypeTest, TheValidNodeParses) {
  NodeParseResult result = parse_node(node_with("", ""));
  ASSERT_TRUE(result.ok()) << result.error;
  EXPECT_EQ(result.node->internal_ips, std::vector<std::string>{"198.51.100.12"});
}

TEST_P(NodeFieldTypeTest, WrongTypeIsRefusedNamingTheField) {
  const TypeCase& c = GetParam();
  NodeParseResult result = parse_node(c.json);
  RecordProperty("input", "Node field " + c.path + " as a JSON " + c.type);
  RecordProperty("outcome", result.ok() ? std::string("ACCEPTED") : "refused: " + result.error);
  ASSERT_FALSE(result.ok()) << c.path << " as " << c.type << " was accepted: " << c.json;
  const std::string article = c.type == "array" || c.type == "object" ? "an " : "a ";
  EXPECT_NE(result.error.find(c.path + " is " + article + c.type), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("expected"), std::string::npos) << result.error;
  if (c.path != "metadata" && c.path != "metadata.name") {
    EXPECT_EQ(result.error.rfind(R"(node "node-b": )", 0), 0u) << result.error;
  }

  // The same object as a watch event and as a LIST item: refused for the same field,
  // and a LIST keeps going with the next item.
  auto event = parse_watch_event(R"({"type":"MODIFIED","object":)" + c.json + "}");
  EXPECT_FALSE(event.ok());
  EXPECT_NE(event.error.find(c.path + " is " + article + c.type), std::string::npos) << event.error;
  NodeListPage page;
  std::string error;
  ASSERT_TRUE(parse_node_list(R"({"metadata":{"resourceVersion":"9"},"items":[)" + c.json +
                                  R"(,{"metadata":{"name":"node-c"}}]})",
                              page, error))
      << error;
  ASSERT_EQ(page.nodes.size(), 1u);
  EXPECT_EQ(page.nodes[0].name, "node-c");
  ASSERT_EQ(page.malformed.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(EveryFieldEveryType, NodeFieldTypeTest, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) {
                           std::string name = info.param.path + "_as_" + info.param.type;
                           for (char& ch : name)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace hostgw::k8s
