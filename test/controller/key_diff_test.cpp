#include "controller/key_diff.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace hostgw::controller {
namespace {

using routing::ChangeKind;
using Changes = std::vector<std::pair<ChangeKind, std::string>>;

Changes run(const std::string* wanted, const std::vector<std::string>& installed) {
  Changes out;
  diff_key(wanted, installed, [&](ChangeKind kind, const std::string& item) { out.emplace_back(kind, item); });
  return out;
}

TEST(KeyDiffTest, OneKeyBecomesExactlyTheWantedItem) {
  const std::string want = "via .12";
  EXPECT_EQ(run(&want, {}), (Changes{{ChangeKind::add, "via .12"}}));
  EXPECT_EQ(run(&want, {"via .12"}), Changes{});
  EXPECT_EQ(run(&want, {"via .99"}), (Changes{{ChangeKind::replace, "via .12"}}));
  EXPECT_EQ(run(nullptr, {"via .12", "via .99"}),
            (Changes{{ChangeKind::remove, "via .12"}, {ChangeKind::remove, "via .99"}}));
  EXPECT_EQ(run(nullptr, {}), Changes{});
  // Several under one key (IPv6): the others go first, the wanted one is added if missing.
  EXPECT_EQ(run(&want, {"via .98", "via .99"}),
            (Changes{{ChangeKind::remove, "via .98"}, {ChangeKind::remove, "via .99"}, {ChangeKind::add, "via .12"}}));
  EXPECT_EQ(run(&want, {"via .98", "via .12"}), (Changes{{ChangeKind::remove, "via .98"}}));
}

TEST(KeyDiffTest, EveryKeyOfBothSidesInKeyOrder) {
  std::map<int, std::string> wanted{{1, "a"}, {3, "c"}, {4, "d"}};
  std::map<int, std::vector<std::string>> installed{{2, {"b"}}, {3, {"x"}}, {4, {"d"}}, {5, {"e", "f"}}};
  Changes out;
  diff_keys(wanted, installed, [&](ChangeKind kind, const std::string& item) { out.emplace_back(kind, item); });
  EXPECT_EQ(out, (Changes{{ChangeKind::add, "a"},
                          {ChangeKind::remove, "b"},
                          {ChangeKind::replace, "c"},
                          {ChangeKind::remove, "e"},
                          {ChangeKind::remove, "f"}}));
}

}  // namespace
}  // namespace hostgw::controller
