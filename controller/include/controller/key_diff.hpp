#pragma once

// diff_key(): the one per-key diff of the controller. Every target keys what
// it owns the way the kernel does (a route by table/destination/metric, a
// neighbour by address, an FDB entry by MAC); for one key it turns what is
// installed into what is wanted. The full pass runs it over every key of both
// sides, the incremental step over the keys of the changed nodes only, so the
// two cannot disagree.
//
// Pure: no sockets, no clock, no logging.

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <map>
#include <vector>

#include "routing/route_table.hpp"

namespace hostgw::controller {

// `emit(kind, item)` receives, for one key:
//   nothing wanted            -> remove every installed item
//   nothing installed         -> add the wanted item
//   one installed, different  -> replace it by the wanted item (one message:
//                                removing first would leave the key empty)
//   several installed         -> remove each one that differs, add the wanted
//                                one if none is it (the kernel keeps several
//                                IPv6 routes under one key)
// Removals come before the add of the same key.
template <typename Item, typename Emit>
void diff_key(const Item* wanted, const std::vector<Item>& installed, Emit&& emit) {
  using routing::ChangeKind;
  if (!wanted) {
    for (const Item& item : installed) emit(ChangeKind::remove, item);
    return;
  }
  if (installed.empty()) {
    emit(ChangeKind::add, *wanted);
    return;
  }
  const bool present = std::find(installed.begin(), installed.end(), *wanted) != installed.end();
  if (installed.size() == 1 && !present) {
    emit(ChangeKind::replace, *wanted);
    return;
  }
  for (const Item& item : installed) {
    if (item != *wanted) emit(ChangeKind::remove, item);
  }
  if (!present) emit(ChangeKind::add, *wanted);
}

// diff_key() over the union of the keys of the wanted side and the installed
// map, in key order. `wanted` is any range sorted by key with each key once;
// `key_of(w)` gives an element's key and `item_of(w)` its item (by reference,
// or by value for a target that binds the item only here, so that a full pass
// keeps no second copy of every wanted item).
template <typename Wanted, typename KeyOf, typename ItemOf, typename Key, typename Item, typename Emit>
void diff_sorted(const Wanted& wanted, KeyOf&& key_of, ItemOf&& item_of,
                 const std::map<Key, std::vector<Item>>& installed, Emit&& emit) {
  static const std::vector<Item> kNone;
  auto w = std::begin(wanted);
  const auto w_end = std::end(wanted);
  auto i = installed.begin();
  while (w != w_end || i != installed.end()) {
    if (i == installed.end() || (w != w_end && key_of(*w) < i->first)) {
      decltype(auto) item = item_of(*w);
      diff_key<Item>(&item, kNone, emit);
      ++w;
    } else if (w == w_end || i->first < key_of(*w)) {
      diff_key<Item>(nullptr, i->second, emit);
      ++i;
    } else {
      decltype(auto) item = item_of(*w);
      diff_key<Item>(&item, i->second, emit);
      ++w;
      ++i;
    }
  }
}

// diff_sorted() of two ordered maps (key -> wanted item, key -> installed items).
template <typename Key, typename Item, typename Emit>
void diff_keys(const std::map<Key, Item>& wanted, const std::map<Key, std::vector<Item>>& installed, Emit&& emit) {
  diff_sorted(
      wanted, [](const auto& entry) -> const Key& { return entry.first; },
      [](const auto& entry) -> const Item& { return entry.second; }, installed, emit);
}

// How many upserts (adds, replaces) and removals diff_keys() will emit, to
// reserve a delta's vectors at their final size: a first pass at 5000 nodes
// would otherwise grow them by doubling, up to 1.6 times the bytes needed
// while both the old and the new buffer are alive.
struct DiffCounts {
  std::size_t upserts = 0;
  std::size_t removals = 0;
};

template <typename Wanted, typename KeyOf, typename ItemOf, typename Key, typename Item>
DiffCounts count_diff(const Wanted& wanted, KeyOf&& key_of, ItemOf&& item_of,
                      const std::map<Key, std::vector<Item>>& installed) {
  DiffCounts counts;
  diff_sorted(wanted, key_of, item_of, installed, [&](routing::ChangeKind kind, const Item&) {
    ++(kind == routing::ChangeKind::remove ? counts.removals : counts.upserts);
  });
  return counts;
}

}  // namespace hostgw::controller
