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

// diff_key() over the union of the keys of two ordered maps (key -> wanted
// item, key -> installed items), in key order.
template <typename Key, typename Item, typename Emit>
void diff_keys(const std::map<Key, Item>& wanted, const std::map<Key, std::vector<Item>>& installed, Emit&& emit) {
  static const std::vector<Item> kNone;
  auto w = wanted.begin();
  auto i = installed.begin();
  while (w != wanted.end() || i != installed.end()) {
    if (i == installed.end() || (w != wanted.end() && w->first < i->first)) {
      diff_key(&w->second, kNone, emit);
      ++w;
    } else if (w == wanted.end() || i->first < w->first) {
      diff_key<Item>(nullptr, i->second, emit);
      ++i;
    } else {
      diff_key(&w->second, i->second, emit);
      ++w;
      ++i;
    }
  }
}

// How many upserts (adds, replaces) and removals diff_keys() will emit, to
// reserve a delta's vectors at their final size: a first pass at 5000 nodes
// would otherwise grow them by doubling, up to 1.6 times the bytes needed
// while both the old and the new buffer are alive.
struct DiffCounts {
  std::size_t upserts = 0;
  std::size_t removals = 0;
};

template <typename Key, typename Item>
DiffCounts count_diff(const std::map<Key, Item>& wanted, const std::map<Key, std::vector<Item>>& installed) {
  DiffCounts counts;
  diff_keys(wanted, installed, [&](routing::ChangeKind kind, const Item&) {
    ++(kind == routing::ChangeKind::remove ? counts.removals : counts.upserts);
  });
  return counts;
}

}  // namespace hostgw::controller
