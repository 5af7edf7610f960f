#include "netfilter/nft_masquerade_table.hpp"

#include <nftables/libnftables.h>

#include <malloc.h>

#include <stdexcept>
#include <system_error>

namespace hostgw::netfilter {

namespace {

std::string trimmed(const char* text) {
  std::string out = text ? text : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// One libnftables context per operation, freed right after it: a context
// keeps the set elements it fetched in its cache, and at 5000 nodes that (plus
// the listing) is ~10 MB of heap that glibc keeps unless trimmed. Creating a
// context costs well under a millisecond; see docs/masquerade.md.
class NftContext {
 public:
  explicit NftContext(unsigned output_flags) : context_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (!context_) return;
    // Output and errors into buffers we read, never onto our stdout/stderr.
    if (nft_ctx_buffer_output(context_) != 0 || nft_ctx_buffer_error(context_) != 0) {
      nft_ctx_free(context_);
      context_ = nullptr;
      return;
    }
    nft_ctx_output_set_flags(context_, output_flags);
  }
  ~NftContext() {
    if (!context_) return;
    nft_ctx_free(context_);
    // Hand the cache's freed heap back to the system (see above).
    malloc_trim(0);
  }
  NftContext(const NftContext&) = delete;
  NftContext& operator=(const NftContext&) = delete;

  nft_ctx* get() const { return context_; }

 private:
  nft_ctx* context_;
};

}  // namespace

NftMasqueradeTable::NftMasqueradeTable() {
  NftContext probe(0);
  if (!probe.get()) throw std::runtime_error("libnftables: cannot create an nft context");
  try {
    elements_ = std::make_unique<NftElementSocket>();
  } catch (const std::system_error& error) {
    // Every element update goes through libnftables, which reports its own errors.
    element_socket_error_ = error.what();
  }
}

NftMasqueradeTable::~NftMasqueradeTable() = default;

NftResult NftMasqueradeTable::run_command(const std::string& command, bool json, std::string* output) {
  const auto start = std::chrono::steady_clock::now();
  NftResult result;
  {
    NftContext context(json ? NFT_CTX_OUTPUT_JSON : 0);
    if (!context.get()) {
      result.ok = false;
      result.error = "libnftables: cannot create an nft context";
    } else {
      const int status = nft_run_cmd_from_buffer(context.get(), command.c_str());
      std::string error = trimmed(nft_ctx_get_error_buffer(context.get()));
      if (status != 0) {
        result.ok = false;
        result.error = error.empty() ? "nft command failed without a message" : std::move(error);
      }
      if (output) *output = trimmed(nft_ctx_get_output_buffer(context.get()));
    }
  }
  result.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  return result;
}

NftResult NftMasqueradeTable::run(const std::string& script) {
  return run_command(script, false, nullptr);
}

NftReadResult NftMasqueradeTable::read_current() {
  NftReadResult read;
  std::string listing;
  read.result = run_command("list table " + std::string(kTableFamily) + " " + std::string(kTableName), true, &listing);
  if (!read.result.ok) {
    // Listing a table that does not exist fails with ENOENT's text.
    if (read.result.error.find("No such file or directory") != std::string::npos) {
      read.result = NftResult{true, {}, read.result.took};
    } else {
      read.result.error =
          "list table " + std::string(kTableFamily) + " " + std::string(kTableName) + ": " + read.result.error;
    }
    return read;
  }
  std::string error;
  auto state = parse_table_listing(listing, &error);
  listing = std::string();
  malloc_trim(0);  // the listing and its JSON tree: ~0.3 MB of text and a few MB of tree at 5000 nodes
  if (!state) {
    read.result.ok = false;
    read.result.error = "list table " + std::string(kTableFamily) + " " + std::string(kTableName) + ": " + error;
    return read;
  }
  read.state = std::move(*state);
  return read;
}

NftResult NftMasqueradeTable::replace_table(const MasqueradeSets& sets) {
  return run(render_table_script(sets));
}

NftResult NftMasqueradeTable::update_elements(const MasqueradeUpdate& update) {
  if (update.empty()) return {};
  if (elements_) {
    if (auto written = elements_->write(update)) {
      ++element_socket_writes_;
      return std::move(*written);
    }
  }
  return run(render_update_script(update));
}

NftResult NftMasqueradeTable::delete_table() {
  return run(render_delete_script());
}

}  // namespace hostgw::netfilter
