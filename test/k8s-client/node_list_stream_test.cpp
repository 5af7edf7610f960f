// NodeListStreamParser (k8s-client/node_list_stream.hpp) against the
// whole-body parse it stands in for, parse_node_list_in_place(): the same page
// for the same bytes, however they are cut into chunks.

#include "k8s-client/node_list_stream.hpp"

#include <gtest/gtest.h>

#include <dirent.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fake-apiserver/fake_apiserver.hpp"
#include "k8s-client/node_json.hpp"

namespace hostgw::k8s {
namespace {

struct Outcome {
  bool ok = false;
  std::string error;
  NodeListPage page;
};

Outcome whole(const std::string& body, const NodeJsonLimits& limits = {}) {
  Outcome out;
  std::string buffer = body;
  out.ok = parse_node_list_in_place(buffer, out.page, out.error, limits);
  return out;
}

// `cuts`: the chunk boundaries (increasing offsets inside the body).
Outcome streamed(const std::string& body, const std::vector<std::size_t>& cuts, const NodeJsonLimits& limits = {}) {
  Outcome out;
  NodeListStreamParser parser(out.page, limits);
  std::size_t from = 0;
  bool fed = true;
  for (std::size_t cut : cuts) {
    fed = fed && parser.feed(std::string_view(body).substr(from, cut - from));
    from = cut;
  }
  fed = fed && parser.feed(std::string_view(body).substr(from));
  out.ok = fed && parser.finish();
  out.error = parser.error();
  EXPECT_EQ(out.ok, out.error.empty()) << out.error;
  return out;
}

// Empty when the streamed parse (cut at `cuts`) gives what the whole-body parse gives.
std::string disagreement(const std::string& body, const std::vector<std::size_t>& cuts,
                         const NodeJsonLimits& limits = {}) {
  const Outcome reference = whole(body, limits);
  const Outcome stream = streamed(body, cuts, limits);
  if (reference.ok != stream.ok)
    return "whole-body ok=" + std::to_string(reference.ok) + " (" + reference.error +
           "), streamed ok=" + std::to_string(stream.ok) + " (" + stream.error + ")";
  if (!stream.ok) {
    if (stream.error.rfind("node list: ", 0) != 0) return "error without the prefix: " + stream.error;
    return {};
  }
  if (reference.page.resource_version != stream.page.resource_version) return "resourceVersion differs";
  if (reference.page.continue_token != stream.page.continue_token) return "continue token differs";
  if (reference.page.malformed != stream.page.malformed) {
    std::string out = "malformed differs:";
    for (const auto& m : reference.page.malformed) out += "\n  whole:  " + m;
    for (const auto& m : stream.page.malformed) out += "\n  stream: " + m;
    return out;
  }
  if (reference.page.nodes != stream.page.nodes)
    return "nodes differ (" + std::to_string(reference.page.nodes.size()) + " vs " +
           std::to_string(stream.page.nodes.size()) + ")";
  return {};
}

// Every way to cut `body` in two, and byte by byte.
void expect_same_at_every_cut(const std::string& body, const NodeJsonLimits& limits = {}) {
  EXPECT_EQ(disagreement(body, {}, limits), "") << body;
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    std::string problem = disagreement(body, {cut}, limits);
    ASSERT_EQ(problem, "") << "cut at " << cut << " of " << body;
  }
  std::vector<std::size_t> every;
  for (std::size_t cut = 1; cut < body.size(); ++cut) every.push_back(cut);
  EXPECT_EQ(disagreement(body, every, limits), "") << "byte by byte: " << body;
}

std::vector<std::size_t> random_cuts(std::size_t size, std::mt19937_64& random, std::size_t max_chunk) {
  std::uniform_int_distribution<std::size_t> chunk(1, max_chunk);
  std::vector<std::size_t> cuts;
  for (std::size_t at = chunk(random); at < size; at += chunk(random)) cuts.push_back(at);
  return cuts;
}

constexpr const char* kNode =
    R"({"metadata":{"name":"node-b","resourceVersion":"42","annotations":{"a":"b"}},)"
    R"("spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24","fd00:10:244:1::/64"]},)"
    R"("status":{"addresses":[{"type":"InternalIP","address":"198.51.100.2"},{"type":"Hostname","address":"b"},)"
    R"({"type":"ExternalIP","address":"203.0.113.2"}]}})";

std::string small_list() {
  std::string json =
      R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"77","continue":"tok%2F1"},"items":[)";
  json += kNode;
  json += R"(,{"metadata":{"name":"bad"},"status":{"addresses":{"type":"InternalIP"}}},)";
  json += R"(17,[1,{"a":"]"}],"s\"]",null,{"metadata":{"name":"c"},"spec":{"podCIDRs":["10.244.9.0/24"]}}]})";
  return json;
}

// A NodeList page as kube-apiserver sends it, with realistic (~8 KB) nodes from the fake's generator.
std::string realistic_list(std::size_t count, const std::string& continue_token) {
  testing::GenerateOptions options;
  options.count = count;
  options.realistic = true;
  std::string json = R"({"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"12345")";
  if (!continue_token.empty()) json += R"(,"continue":")" + continue_token + '"';
  json += R"(},"items":[)";
  bool first = true;
  for (const testing::NodeSpec& spec : testing::make_node_specs(options)) {
    if (!first) json += ',';
    first = false;
    json += testing::make_node_json(spec);
  }
  json += "]}";
  return json;
}

TEST(NodeListStreamTest, SmallListAtEveryCut) {
  const std::string body = small_list();
  expect_same_at_every_cut(body);
  Outcome out = streamed(body, {10, 200, 201});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.page.resource_version, "77");
  EXPECT_EQ(out.page.continue_token, "tok%2F1");
  ASSERT_EQ(out.page.nodes.size(), 2u);
  EXPECT_EQ(out.page.nodes[0].name, "node-b");
  EXPECT_EQ(out.page.nodes[1].name, "c");
  EXPECT_EQ(
      out.page.malformed,
      (std::vector<std::string>{R"(node "bad": status.addresses is an object, expected an array)",
                                "items[2] is a number, expected an object", "items[3] is an array, expected an object",
                                "items[4] is a string, expected an object", "items[5] is null, expected an object"}));
}

TEST(NodeListStreamTest, MembersInAnyOrderWhitespaceEscapedKeysAndRepeats) {
  // metadata after items, whitespace everywhere, a key spelt with an escape,
  // "items" twice (both count, as for the whole-body parse), metadata twice (the last wins).
  std::string body = " \n{ \"items\" : [ ";
  body += kNode;
  body += " , \t";
  body += kNode;
  body += " ] ,\r\n \"metadata\" :{\"continue\":\"x\",\"resourceVersion\":\"1\"} , \"kind\":\"NodeList\",";
  body += R"("it\u0065ms":[{"metadata":{"name":"escaped-key"}}],"extra":{"items":[1,2],"deep":[[[{"a":[]}]]]},)";
  body += R"("meta\u0064ata":{"resourceVersion":"2","continue":null}, "items":null, "n":-1.5e3, "t":true} )";
  expect_same_at_every_cut(body);
  Outcome out = streamed(body, {});
  ASSERT_TRUE(out.ok) << out.error;
  EXPECT_EQ(out.page.resource_version, "2");
  EXPECT_EQ(out.page.continue_token, "x");
  ASSERT_EQ(out.page.nodes.size(), 3u);
  EXPECT_EQ(out.page.nodes[2].name, "escaped-key");
}

TEST(NodeListStreamTest, EmptyAndMinimalLists) {
  for (const char* body : {"{}", R"({"items":[]})", R"({"metadata":{},"items":[ ]})", "{\"items\":[]}\n\n",
                           "{\"items\":[]}\0garbage after a NUL"}) {
    expect_same_at_every_cut(body);
    EXPECT_TRUE(streamed(body, {}).ok) << body;
  }
  const std::string nul_after = std::string("{\"items\":[]}") + '\0' + "anything";
  EXPECT_EQ(disagreement(nul_after, {}), "");
  EXPECT_TRUE(streamed(nul_after, {3}).ok);
}

TEST(NodeListStreamTest, RealisticPagesInRandomChunks) {
  const std::string body = realistic_list(120, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzNDV9");
  ASSERT_GT(body.size(), 120u * 6000);
  Outcome reference = whole(body);
  ASSERT_TRUE(reference.ok) << reference.error;
  ASSERT_EQ(reference.page.nodes.size(), 120u);
  std::mt19937_64 random(17);
  for (std::size_t max_chunk : {1u, 7u, 100u, 4096u, 16384u, 65536u, 300000u}) {
    for (int round = 0; round < (max_chunk < 100 ? 1 : 4); ++round)
      EXPECT_EQ(disagreement(body, random_cuts(body.size(), random, max_chunk)), "") << "chunks up to " << max_chunk;
  }
  // With the annotation the controller may read, and a last page (no continue).
  NodeJsonLimits limits;
  limits.annotation_keys = {"flannel.alpha.coreos.com/public-ip", "kube-hostgw.io/address"};
  const std::string last = realistic_list(30, "");
  EXPECT_EQ(disagreement(last, random_cuts(last.size(), random, 5000), limits), "");
}

TEST(NodeListStreamTest, TruncatedBodiesFail) {
  const std::string body = small_list();
  for (std::size_t size = 0; size < body.size(); ++size) {
    const std::string cut = body.substr(0, size);
    Outcome out = streamed(cut, {size / 2});
    EXPECT_FALSE(out.ok) << cut;
    EXPECT_EQ(disagreement(cut, {size / 2}), "") << cut;
  }
  Outcome out = streamed(R"({"items":[{"metadata":{"name":"x"}})", {});
  EXPECT_EQ(out.error,
            "node list: invalid JSON at byte 35: the body ends inside the document (the response was cut short)");
  EXPECT_EQ(streamed("", {}).error, "node list: invalid JSON at byte 0: The document is empty.");
}

TEST(NodeListStreamTest, UnusableDocumentsFailWithTheWholeBodyMessages) {
  auto error_of = [](const std::string& body) { return streamed(body, {}).error; };
  EXPECT_EQ(error_of(R"({"items":{}})"), "node list: items is an object, expected an array");
  EXPECT_EQ(error_of(R"({"items":"all"})"), "node list: items is a string, expected an array");
  EXPECT_EQ(error_of(R"({"items":3})"), "node list: items is a number, expected an array");
  EXPECT_EQ(error_of(R"({"metadata":[]})"), "node list: metadata is an array, expected an object");
  EXPECT_EQ(error_of(R"({"metadata":{"resourceVersion":5}})"),
            "node list: metadata.resourceVersion is a number, expected a string");
  EXPECT_EQ(error_of(R"({"metadata":{"continue":{}}})"),
            "node list: metadata.continue is an object, expected a string");
  EXPECT_EQ(error_of("[]"), "node list: expected a JSON object, found an array");
  EXPECT_EQ(error_of("null"), "node list: expected a JSON object, found null");
  for (const char* body : {R"({"items":{}})", R"({"items":"all"})", R"({"items":3})", R"({"metadata":[]})",
                           R"({"metadata":{"resourceVersion":5}})", R"({"metadata":{"continue":{}}})"}) {
    Outcome reference = whole(body);
    EXPECT_EQ(error_of(body), reference.error) << body;
  }
  // Invalid JSON: refused, with the byte offset in the body.
  EXPECT_EQ(error_of(R"({"items":[{"metadata":{"name":"x"},}]})"),
            whole(R"({"items":[{"metadata":{"name":"x"},}]})").error);
  for (const char* body :
       {R"({"items":[1,]})", R"({"items":[,1]})", R"({"items" [1]})", R"({"items":[1] "kind":1})", R"({,"items":[]})",
        R"({"items":[]}})", R"({"items":[]} x)", R"({"items":[{"a":1}}]})", R"({"items":[tru]})", R"({"items":[x]})",
        R"({"k\q":1})", "{\"k\x01\":1}", R"({"items":[{"metadata":{"name":"a\x"}}]})", R"({"items":[01]})",
        R"({"items":[1e999]})", "\xEF\xBB\xBF{}"}) {
    const std::string text = body;
    Outcome out = streamed(text, {});
    EXPECT_FALSE(out.ok) << text;
    EXPECT_NE(out.error.find("node list: "), std::string::npos) << out.error;
    EXPECT_EQ(disagreement(text, {}), "") << text;
  }
}

TEST(NodeListStreamTest, BytesWithNulsAreRefusedLikeTheWholeBodyParse) {
  // Literals above stop at their first NUL; these keep theirs.
  for (std::string body : {std::string("{\"items\":[1\0]}", 14), std::string("{\"items\":[\"\0\"]}", 15),
                           std::string("{\"it\0ems\":[]}", 13), std::string("{\"items\":[{\"a\":\0}]}", 19),
                           std::string("{\0\"items\":[]}", 13)}) {
    Outcome out = streamed(body, {});
    EXPECT_FALSE(out.ok) << out.error;
    EXPECT_EQ(disagreement(body, {}), "");
    for (std::size_t cut = 0; cut <= body.size(); ++cut) EXPECT_EQ(disagreement(body, {cut}), "") << cut;
  }
}

TEST(NodeListStreamTest, DamagedBodiesAgreeWithTheWholeBodyParse) {
  const std::string list = small_list();
  std::size_t checked = 0;
  for (std::size_t at = 0; at < list.size(); ++at) {
    for (char bad : {'\0', '"', ']', '}', '[', '{', ',', ':', '\\', ' ', 'x', '1'}) {
      std::string damaged = list;
      damaged[at] = bad;
      ASSERT_EQ(disagreement(damaged, {at / 2, at, at + 1}), "") << damaged;
      ++checked;
    }
    std::string shorter = list;
    shorter.erase(at, 1);
    ASSERT_EQ(disagreement(shorter, {at}), "") << shorter;
  }
  EXPECT_GT(checked, 3000u);
}

TEST(NodeListStreamTest, OversizedItemsAreSkippedNotBuffered) {
  NodeJsonLimits limits;
  limits.max_object_bytes = 300;
  std::string body = R"({"metadata":{"resourceVersion":"1"},"items":[)";
  body += R"({"metadata":{"name":"big"},"pad":")" + std::string(400, 'x') + R"("},)";
  body += R"({"metadata":{"name":"deep"},"x":)" + std::string(80, '[') + std::string(80, ']') + "},";
  body += R"({"metadata":{"name":"bad-early"},"spec":{"podCIDR":1},"pad":")" + std::string(400, 'y') + R"("},)";
  body += R"("a string item longer than the limit )" + std::string(400, 'z') + R"(",)";
  body += R"({"metadata":{"name":"ok"}}]})";
  // Every item's problem lies in its first 300 bytes: the same messages as the whole-body parse.
  expect_same_at_every_cut(body, limits);
  Outcome out = streamed(body, {50, 500}, limits);
  ASSERT_TRUE(out.ok) << out.error;
  ASSERT_EQ(out.page.nodes.size(), 1u);
  EXPECT_EQ(out.page.nodes[0].name, "ok");
  ASSERT_EQ(out.page.malformed.size(), 4u);
  EXPECT_EQ(out.page.malformed[0], R"(node "big": object is 436 bytes, more than the limit of 300)");
  EXPECT_EQ(out.page.malformed[1], R"(node "deep": nesting is deeper than 64 levels)");
  EXPECT_EQ(out.page.malformed[2], R"(node "bad-early": spec.podCIDR is a number, expected a string)");
  EXPECT_EQ(out.page.malformed[3], "items[3] is a string, expected an object");

  // Where the streamed parse differs (documented): past its first
  // max_object_bytes an oversized item is framed, not read, so a name that
  // comes late is not known and invalid JSON there does not refuse the page.
  std::string late = R"({"items":[{"pad":")" + std::string(400, 'x') + R"(","metadata":{"name":"late"},"bad":tru},)" +
                     R"({"metadata":{"name":"ok"}}]})";
  Outcome lenient = streamed(late, {}, limits);
  ASSERT_TRUE(lenient.ok) << lenient.error;
  EXPECT_EQ(lenient.page.malformed, std::vector<std::string>{"node: object is 447 bytes, more than the limit of 300"});
  EXPECT_EQ(lenient.page.nodes.size(), 1u);
  EXPECT_FALSE(whole(late, limits).ok);

  // A member other than items over the limit refuses the page.
  std::string big_kind = R"({"kind":")" + std::string(400, 'k') + R"(","items":[]})";
  EXPECT_EQ(streamed(big_kind, {}, limits).error, R"(node list: the value of "kind" is more than 300 bytes)");
}

// The checked-in fuzz seeds (Nodes, watch events, lists), each at every cut.
TEST(NodeListStreamTest, FuzzSeedsAgree) {
  std::size_t files = 0;
  DIR* dir = ::opendir(KHG_NODE_JSON_CORPUS);
  ASSERT_NE(dir, nullptr) << KHG_NODE_JSON_CORPUS;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::ifstream in(std::string(KHG_NODE_JSON_CORPUS) + "/" + name, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    const std::string body = content.str();
    if (body.size() > 20000) continue;
    ++files;
    for (std::size_t cut = 0; cut <= body.size(); ++cut)
      ASSERT_EQ(disagreement(body, {cut}), "") << name << " cut " << cut;
  }
  ::closedir(dir);
  EXPECT_GT(files, 3u);
}

}  // namespace
}  // namespace hostgw::k8s
