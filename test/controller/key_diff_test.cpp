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

TEST(KeyDiffTest, SortedWantedRangeWithItemsMadeAsTheDiffReachesThem) {
  // As the routes target does: the wanted side is a sorted range of entries
  // (here pointers), each turned into its item by value only when diffed.
  const std::vector<std::pair<int, std::string>> entries{{1, "a"}, {3, "c"}, {4, "d"}};
  std::vector<const std::pair<int, std::string>*> wanted;
  for (const auto& entry : entries) wanted.push_back(&entry);
  std::map<int, std::vector<std::string>> installed{{2, {"b"}}, {3, {"x"}}, {4, {"d"}}, {5, {"e", "f"}}};
  int made = 0;
  const auto key_of = [](const auto* entry) { return entry->first; };
  const auto item_of = [&](const auto* entry) {
    ++made;
    return entry->second + "'";
  };
  Changes out;
  diff_sorted(wanted, key_of, item_of, installed,
              [&](ChangeKind kind, const std::string& item) { out.emplace_back(kind, item); });
  EXPECT_EQ(out, (Changes{{ChangeKind::add, "a'"},
                          {ChangeKind::remove, "b"},
                          {ChangeKind::replace, "c'"},
                          {ChangeKind::replace, "d'"},
                          {ChangeKind::remove, "e"},
                          {ChangeKind::remove, "f"}}));
  EXPECT_EQ(made, 3);  // once per wanted key
  const DiffCounts counts = count_diff(wanted, key_of, item_of, installed);
  EXPECT_EQ(counts.upserts, 3u);
  EXPECT_EQ(counts.removals, 3u);
}

}  // namespace
}  // namespace hostgw::controller
