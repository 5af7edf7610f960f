#include "k8s-client/node_name.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_set>

namespace hostgw::k8s {
namespace {

const std::string kLong = "gke-prod-cluster-default-pool-1a2b3c4d-0042";  // past the inline 15 characters

TEST(NodeNameTest, CopiesShareOneStringAndOutliveTheOriginal) {
  auto original = std::make_unique<NodeName>(kLong);
  NodeName copy = *original;
  NodeName assigned;
  assigned = copy;
  EXPECT_TRUE(copy.shares(*original));
  EXPECT_TRUE(assigned.shares(*original));
  EXPECT_EQ(copy.str().data(), original->str().data());  // the same characters, not a copy
  original.reset();
  EXPECT_EQ(copy, kLong);  // still alive (ASan checks the count)
  NodeName moved = std::move(copy);
  EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from name is empty
  EXPECT_TRUE(moved.shares(assigned));
}

TEST(NodeNameTest, EqualTextMadeTwiceComparesEqualWithoutSharing) {
  NodeName a(kLong);
  NodeName b{std::string_view(kLong)};
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.shares(b));
  EXPECT_EQ(std::hash<NodeName>{}(a), std::hash<NodeName>{}(b));
  std::unordered_set<NodeName> set{a};
  EXPECT_TRUE(set.contains(b));
}

TEST(NodeNameTest, ComparesAndOrdersAsItsText) {
  NodeName b("node-b");
  EXPECT_EQ(b, "node-b");
  EXPECT_EQ(b, std::string("node-b"));
  EXPECT_EQ(b, std::string_view("node-b"));
  EXPECT_NE(b, "node-a");
  EXPECT_LT(NodeName("node-a"), b);
  EXPECT_LT(b, std::string("node-c"));
  EXPECT_GT(b, std::string_view("node-a"));
  EXPECT_EQ("node " + b + "!", "node node-b!");
  // A map ordered by std::less<> finds a name by its text, with no NodeName made.
  std::map<NodeName, int, std::less<>> map{{NodeName("node-a"), 1}, {b, 2}};
  EXPECT_EQ(map.find(std::string_view("node-b"))->second, 2);
  EXPECT_EQ(map.find(std::string("node-c")), map.end());
}

TEST(NodeNameTest, EmptyIsTheEmptyString) {
  NodeName none, from_empty{std::string()};
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(from_empty.empty());
  EXPECT_EQ(none, "");
  EXPECT_EQ(none.str(), std::string());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_STREQ(none.c_str(), "");
  EXPECT_EQ(none, from_empty);
}

}  // namespace
}  // namespace hostgw::k8s
