// NodeStore and the merge patch, without sockets.

#include "node_store.hpp"

#include <gtest/gtest.h>

#include "json_util.hpp"
#include "test_support.hpp"

namespace hostgw::testing {
namespace {

std::string merged(const std::string& target, const std::string& patch, bool strategic = false) {
  rapidjson::Document t, p;
  t.Parse(target.c_str());
  p.Parse(patch.c_str());
  apply_merge_patch(t, p, t.GetAllocator(), strategic);
  return to_json(t);
}

TEST(MergePatch, FollowsRfc7386) {
  // Examples from RFC 7386 appendix A.
  EXPECT_EQ(merged(R"({"a":"b"})", R"({"a":"c"})"), R"({"a":"c"})");
  EXPECT_EQ(merged(R"({"a":"b"})", R"({"b":"c"})"), R"({"a":"b","b":"c"})");
  EXPECT_EQ(merged(R"({"a":"b"})", R"({"a":null})"), R"({})");
  EXPECT_EQ(merged(R"({"a":"b","b":"c"})", R"({"a":null})"), R"({"b":"c"})");
  EXPECT_EQ(merged(R"({"a":["b"]})", R"({"a":"c"})"), R"({"a":"c"})");
  EXPECT_EQ(merged(R"({"a":"c"})", R"({"a":["b"]})"), R"({"a":["b"]})");
  EXPECT_EQ(merged(R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})"), R"({"a":{"b":"d"}})");
  EXPECT_EQ(merged(R"({"a":[{"b":"c"}]})", R"({"a":[1]})"), R"({"a":[1]})");
  EXPECT_EQ(merged(R"({"e":null})", R"({"a":1})"), R"({"e":null,"a":1})");
  EXPECT_EQ(merged(R"({})", R"({"a":{"bb":{"ccc":null}}})"), R"({"a":{"bb":{}}})");
}

TEST(MergePatch, StrategicMergesStatusConditionsByType) {
  const std::string node = R"({"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"X","status":"F"}]}})";
  EXPECT_EQ(merged(node, R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})", true),
            R"({"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"X","status":"F"}]}})");
  EXPECT_EQ(merged(node, R"({"status":{"conditions":[{"type":"New","status":"U"}]}})", true),
            R"({"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"X","status":"F"},)"
            R"({"type":"New","status":"U"}]}})");
  EXPECT_EQ(merged(node, R"({"status":{"conditions":[{"type":"X","$patch":"delete"}]}})", true),
            R"({"status":{"conditions":[{"type":"Ready","status":"True"}]}})");
  // A plain merge patch replaces the list.
  EXPECT_EQ(merged(node, R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})", false),
            R"({"status":{"conditions":[{"type":"Ready","status":"False"}]}})");
}

TEST(NodeStore, EveryWriteIsOneEventWithTheNextResourceVersion) {
  NodeStore store(100);
  const auto start = store.resource_version();
  auto a = store.create(small_node("a"));
  EXPECT_EQ(a.resource_version, start + 1);
  auto touched = store.touch("a");
  EXPECT_EQ(touched.resource_version, start + 2);
  auto removed = store.remove("a");
  EXPECT_EQ(removed.resource_version, start + 3);
  EXPECT_NE(removed.json->find("\"resourceVersion\":\"" + std::to_string(start + 3) + "\""), std::string::npos);
  std::vector<WatchEvent> events;
  ASSERT_TRUE(store.events_after(start, events, 100));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, EventType::added);
  EXPECT_EQ(events[1].type, EventType::modified);
  EXPECT_EQ(events[2].type, EventType::deleted);
  EXPECT_EQ(events[2].name, "a");
  events.clear();
  ASSERT_TRUE(store.events_after(start + 2, events, 100));
  EXPECT_EQ(events.size(), 1u);
  store.compact();
  EXPECT_FALSE(store.events_after(start + 2, events, 100));
  events.clear();
  EXPECT_TRUE(store.events_after(store.resource_version(), events, 100));
  EXPECT_TRUE(events.empty());
}

TEST(NodeStore, ErrorsCarryHttpStatusAndReason) {
  NodeStore store(100);
  store.create(small_node("a"));
  try {
    store.create(small_node("a"));
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), 409);
    EXPECT_EQ(e.reason(), "AlreadyExists");
    EXPECT_STREQ(e.what(), "nodes \"a\" already exists");
  }
  try {
    store.patch("missing", "{}", PatchType::merge, Subresource::none);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), 404);
  }
  try {
    store.patch("a", "[1]", PatchType::merge, Subresource::none);
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), 400);
  }
}

TEST(NodeStore, PodCidrDefaultsPodCidrsAndViceVersa) {
  NodeStore store(100);
  auto a = store.create(R"({"metadata":{"name":"a"},"spec":{"podCIDR":"10.244.1.0/24"}})");
  EXPECT_NE(a.json->find(R"("podCIDRs":["10.244.1.0/24"])"), std::string::npos) << *a.json;
  auto b = store.create(R"({"metadata":{"name":"b"},"spec":{"podCIDRs":["10.244.2.0/24","2001:db8::/64"]}})");
  EXPECT_NE(b.json->find(R"("podCIDR":"10.244.2.0/24")"), std::string::npos) << *b.json;
  EXPECT_THROW(store.create(R"({"metadata":{"name":"c"},"spec":{"podCIDR":"10.244.3.0/24","podCIDRs":["x"]}})"),
               StoreError);
}

TEST(NodeStore, TouchChangesOnlyHeartbeatsAndResourceVersion) {
  NodeStore store(100);
  NodeSpec spec;
  spec.name = "n";
  spec.pod_cidrs = {"10.244.1.0/24"};
  auto created = store.create(make_node_json(spec));
  auto touched = store.touch("n");
  auto before = parse(*created.json);
  auto after = parse(*touched.json);
  EXPECT_NE(before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"]);
  // (rapidjson's operator= moves; CopyFrom copies.)
  after["metadata"]["resourceVersion"].CopyFrom(before["metadata"]["resourceVersion"], after.GetAllocator());
  for (rapidjson::SizeType i = 0; i < after["status"]["conditions"].Size(); ++i)
    after["status"]["conditions"][i]["lastHeartbeatTime"].CopyFrom(
        before["status"]["conditions"][i]["lastHeartbeatTime"], after.GetAllocator());
  EXPECT_TRUE(before == after);
}

TEST(NodeStore, ContinueTokensSurviveWritesButNotCompaction) {
  NodeStore store(100);
  for (int i = 0; i < 5; ++i) store.create(small_node("n" + std::to_string(i)));
  auto page = store.list(2, {}, {});
  EXPECT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.remaining_items, 3u);
  store.remove("n3");
  auto next = store.list(2, page.continue_token, {});
  EXPECT_EQ(next.resource_version, page.resource_version);
  ASSERT_EQ(next.items.size(), 2u);
  EXPECT_NE(next.items[1]->find("\"n3\""), std::string::npos) << "the snapshot still has n3";
  store.compact();
  try {
    store.list(2, next.continue_token, {});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.code(), 410);
    EXPECT_EQ(e.reason(), "Expired");
  }
}

}  // namespace
}  // namespace hostgw::testing
