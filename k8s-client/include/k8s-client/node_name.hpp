#pragma once

// NodeName: a node's name, kept once however many places hold it.
//
// A node's name is held by the cluster view, the podCIDR index, the desired
// model (per route and per node) and the targets' logs of who owns what: six
// copies or more per node. Real clusters' names are longer than std::string's
// 15 inline characters (GKE's "gke-<cluster>-<pool>-<hash>-<id>", EKS's
// "ip-10-0-1-23.<region>.compute.internal"), so each copy was an allocation.
// A NodeName is one pointer to a shared, immutable, reference-counted string:
// copying it copies the pointer. Made from the same text twice, it is two
// allocations that compare equal; names are shared by copying the NodeName
// the client parsed. So it is made from a std::string or string_view only
// explicitly: a new copy of a name is written down, not an accident (string
// literals convert implicitly, for tests and fixed names).
//
// It reads as a `const std::string&` (implicitly), so code that takes a name
// by `const std::string&` or `std::string_view` takes a NodeName unchanged.

#include <atomic>
#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace hostgw::k8s {

class NodeName {
 public:
  NodeName() noexcept = default;
  explicit NodeName(std::string text) : rep_(text.empty() ? nullptr : new Rep{std::move(text)}) {}
  explicit NodeName(std::string_view text) : NodeName(std::string(text)) {}
  NodeName(const char* text) : NodeName(std::string(text)) {}

  NodeName(const NodeName& other) noexcept : rep_(other.rep_) {
    if (rep_ != nullptr) rep_->count.fetch_add(1, std::memory_order_relaxed);
  }
  NodeName(NodeName&& other) noexcept : rep_(std::exchange(other.rep_, nullptr)) {}
  NodeName& operator=(NodeName other) noexcept {
    std::swap(rep_, other.rep_);
    return *this;
  }
  ~NodeName() { release(); }

  const std::string& str() const noexcept { return rep_ != nullptr ? rep_->text : empty_text(); }
  operator const std::string&() const noexcept { return str(); }
  operator std::string_view() const noexcept { return str(); }

  bool empty() const noexcept { return rep_ == nullptr; }
  std::size_t size() const noexcept { return str().size(); }
  const char* c_str() const noexcept { return str().c_str(); }
  // Whether `other` is this very name (a copy of it), not only equal text.
  bool shares(const NodeName& other) const noexcept { return rep_ == other.rep_; }

  friend bool operator==(const NodeName& a, const NodeName& b) noexcept {
    return a.rep_ == b.rep_ || a.str() == b.str();
  }
  friend std::strong_ordering operator<=>(const NodeName& a, const NodeName& b) noexcept {
    if (a.rep_ == b.rep_) return std::strong_ordering::equal;
    return a.str() <=> b.str();
  }
  // With plain text: one overload per kind, so that no comparison is
  // ambiguous between converting the text and converting the name.
  friend bool operator==(const NodeName& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const NodeName& a, const std::string& b) noexcept { return a.str() == b; }
  friend bool operator==(const NodeName& a, const char* b) noexcept { return a.view() == b; }
  friend std::strong_ordering operator<=>(const NodeName& a, std::string_view b) noexcept { return a.view() <=> b; }
  friend std::strong_ordering operator<=>(const NodeName& a, const std::string& b) noexcept {
    return a.view() <=> std::string_view(b);
  }
  friend std::strong_ordering operator<=>(const NodeName& a, const char* b) noexcept {
    return a.view() <=> std::string_view(b);
  }

  friend std::string operator+(const NodeName& a, std::string_view b) { return std::string(a.view()).append(b); }
  friend std::string operator+(std::string_view a, const NodeName& b) { return std::string(a).append(b.view()); }
  friend std::string operator+(const NodeName& a, const char* b) { return a + std::string_view(b); }
  friend std::string operator+(const char* a, const NodeName& b) { return std::string_view(a) + b; }
  friend std::string operator+(const NodeName& a, const std::string& b) { return a + std::string_view(b); }
  friend std::string operator+(const std::string& a, const NodeName& b) { return std::string_view(a) + b; }
  friend std::ostream& operator<<(std::ostream& out, const NodeName& name) { return out << name.str(); }

 private:
  struct Rep {
    std::string text;
    std::atomic<std::uint32_t> count{1};
  };
  std::string_view view() const noexcept { return str(); }
  void release() noexcept {
    if (rep_ != nullptr && rep_->count.fetch_sub(1, std::memory_order_acq_rel) == 1) delete rep_;
    rep_ = nullptr;
  }
  static const std::string& empty_text() noexcept {
    static const std::string empty;
    return empty;
  }

  Rep* rep_ = nullptr;
};

}  // namespace hostgw::k8s

template <>
struct std::hash<hostgw::k8s::NodeName> {
  std::size_t operator()(const hostgw::k8s::NodeName& name) const noexcept {
    return std::hash<std::string_view>{}(name.str());
  }
};
